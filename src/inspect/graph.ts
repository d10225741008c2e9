/**
 * Reads the states and transitions of a running XState v5 machine from its definition (the
 * actor's `logic`), the way scripts/machine-graph.ts and scripts/diagram.ts read them for the
 * Mermaid diagrams in docs/: every state node, and every `on`, `always`, `after` and invoke
 * `onDone` / `onError` transition, in document order, each labelled `event [guard]`.
 *
 * It lives under src/ (scripts/ is not part of the package) and depends on nothing at run time:
 * it reads the StateNode objects the actor carries.
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';
import { labelOf, machineTransitions, transitionKey as keyOf } from '../machine-graph.js';

/** One state node of a machine. */
export interface GraphState {
  /** The node's path joined with dots, e.g. `online.open` (the root is `''`). */
  readonly path: string;
  /** The node's own key, e.g. `open`. */
  readonly key: string;
  readonly node: AnyStateNode;
  /** The parent's path; undefined for a top-level state. */
  readonly parent: string | undefined;
  /** Paths of the children, in document order (empty for a leaf). */
  readonly children: readonly string[];
  /** Depth below the root: 1 for a top-level state. */
  readonly depth: number;
  /** True for the state its parent enters first. */
  readonly initial: boolean;
  readonly final: boolean;
}

/** One edge of the diagram: a transition, and one of its targets (a targetless one points at its source). */
export interface GraphEdge {
  /** `<source id>|<event type>|<index among that event's candidates>`, as transitionKey gives for a taken transition. */
  readonly key: string;
  /** Path of the source state; `''` for a transition of the machine itself (taken in any state). */
  readonly from: string;
  /** Path of the target state (`''` for the root; the source for a targetless transition). */
  readonly to: string;
  /** `event [guard]`, `after delay`, `device done`, `always [guard]`, `… [otherwise]`, plus `(no change)` / `(re-entered)`. */
  readonly label: string;
  /** The event type; `''` for an eventless (`always`) transition. */
  readonly eventType: string;
}

/** What a diagram is drawn from. */
export interface MachineGraph {
  readonly id: string;
  /** Every state below the root, depth first in document order. */
  readonly states: readonly GraphState[];
  readonly edges: readonly GraphEdge[];
  /** True when some transition belongs to the machine itself (drawn from "any state"). */
  readonly hasRootTransitions: boolean;
}


/** True when `logic` looks like a state machine (it has a root state node). */
export function isMachine(logic: unknown): logic is AnyStateMachine {
  const root = (logic as { root?: { states?: unknown } } | null | undefined)?.root;
  return typeof root === 'object' && root !== null && typeof root.states === 'object';
}

/** The states and edges of `machine`, in document order. */
export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const states: GraphState[] = [];
  const visit = (node: AnyStateNode, depth: number) => {
    const initialTarget = (node.initial as { target?: readonly AnyStateNode[] } | undefined)?.target?.[0];
    for (const child of Object.values(node.states) as AnyStateNode[]) {
      const children = Object.values(child.states) as AnyStateNode[];
      states.push({
        path: pathOf(child),
        key: child.key,
        node: child,
        parent: node === machine.root ? undefined : pathOf(node),
        children: children.map(pathOf),
        depth,
        initial: child === initialTarget,
        final: child.type === 'final',
      });
      visit(child, depth + 1);
    }
  };
  visit(machine.root, 1);

  const transitions = machineTransitions(machine);
  const edges: GraphEdge[] = [];
  for (const transition of transitions) {
    const label = labelOf(transition, transitions);
    const targets = transition.targets.length > 0 ? transition.targets : [transition.source];
    for (const target of targets) {
      edges.push({ key: transition.key, from: pathOf(transition.source), to: pathOf(target), label, eventType: transition.eventType });
    }
  }
  return { id: machine.id, states, edges, hasRootTransitions: transitions.some((t) => t.source === machine.root) };
}

/** The key of a transition an actor took (an inspection microstep's `_transitions`), as in MachineGraph's edges; undefined when it cannot be told. */
export function transitionKey(transition: AnyTransitionDefinition): string | undefined {
  try {
    return transition?.source === undefined ? undefined : keyOf(transition);
  } catch {
    return undefined;
  }
}

/** The dotted path of a state node (`''` for the root). */
function pathOf(node: AnyStateNode): string {
  return node.path.join('.');
}



