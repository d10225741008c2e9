/**
 * Reads the transitions of an XState v5 machine from its definition: every `on`, `always`,
 * `after`, invoke `onDone` / `onError` transition of every state node, in document order, each
 * with a stable key, and labels them for people. Shared by the offline inspector's diagrams
 * (src/inspect), scripts/diagram.ts (the Mermaid diagrams in docs/) and the model-based tests in
 * test/model/ (which count the transitions they exercised against this list), so that all follow
 * the machine as it changes.
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';

export interface MachineTransition {
  /** Stable across `machine.provide()`: `<source id>|<event type>|<index among that event's candidates>`. */
  readonly key: string;
  readonly source: AnyStateNode;
  /** The event type; `''` for an eventless (`always`) transition. */
  readonly eventType: string;
  /** Position among the candidates for this event on `source` (guarded candidates are tried in order). */
  readonly index: number;
  /** The named delay of an `after` transition (e.g. `pingEvery`), else undefined. */
  readonly delay: string | number | undefined;
  /** Guard names, e.g. `['is current socket', 'close is fatal']` for `and([...])`; empty when unguarded. */
  readonly guards: readonly string[];
  /** Target state nodes; empty for a targetless transition (actions only, the state does not change). */
  readonly targets: readonly AnyStateNode[];
  readonly reenter: boolean;
  /** Action names, in order. */
  readonly actions: readonly string[];
  readonly definition: AnyTransitionDefinition;
}

/** Every state node of the machine below the root, depth first in document order. */
export function stateNodesOf(machine: AnyStateMachine): AnyStateNode[] {
  const out: AnyStateNode[] = [];
  const visit = (node: AnyStateNode) => {
    for (const child of Object.values(node.states) as AnyStateNode[]) {
      out.push(child);
      visit(child);
    }
  };
  visit(machine.root);
  return out;
}

/** The key of a transition definition, as it appears in an inspection event's `_transitions`. */
export function transitionKey(transition: AnyTransitionDefinition): string {
  const source = transition.source;
  const eventType = transition.eventType ?? '';
  const candidates = eventType === '' ? (source.always ?? []) : (source.transitions.get(eventType) ?? []);
  const index = candidates.indexOf(transition);
  if (index < 0) throw new Error(`transition ${eventType || 'always'} is not one of the candidates of ${source.id}`);
  return `${source.id}|${eventType}|${index}`;
}

/** All transitions of the machine: the root's first, then each state node's in document order. */
export function machineTransitions(machine: AnyStateMachine): MachineTransition[] {
  const out: MachineTransition[] = [];
  for (const node of [machine.root, ...stateNodesOf(machine)]) {
    const groups: Array<[string, readonly AnyTransitionDefinition[]]> = [...node.transitions.entries()];
    if (node.always) groups.push(['', node.always]);
    for (const [eventType, candidates] of groups) {
      candidates.forEach((definition, index) => {
        const delay = (definition as { delay?: string | number }).delay;
        out.push({
          key: `${node.id}|${eventType}|${index}`,
          source: node,
          eventType,
          index,
          delay,
          guards: guardNames(definition.guard),
          targets: definition.target ?? [],
          reenter: definition.reenter,
          actions: definition.actions.map(actionName),
          definition,
        });
      });
    }
  }
  return out;
}

/** The names of the guards of a transition; `and([a, b])` gives `[a, b]`, `not(a)` gives `not a`. */
export function guardNames(guard: unknown): string[] {
  if (guard === undefined || guard === null) return [];
  if (typeof guard === 'string') return [guard];
  if (typeof guard === 'function') {
    const inner = (guard as { guards?: unknown[] }).guards;
    const kind = (guard as { name?: string }).name;
    if (Array.isArray(inner)) {
      const names = inner.flatMap((g) => guardNames(g));
      if (kind === 'and') return names;
      if (kind === 'not') return [`not ${names.join(' and ')}`];
      return [names.join(` ${kind ?? 'or'} `)];
    }
    return [kind && kind !== 'anonymous' ? kind : 'inline guard'];
  }
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') return [(guard as { type: string }).type];
  return ['inline guard'];
}

function actionName(action: unknown): string {
  if (typeof action === 'string') return action;
  if (typeof action === 'object' && action !== null && typeof (action as { type?: unknown }).type === 'string') return (action as { type: string }).type;
  if (typeof action === 'function') return (action as { type?: string }).type ?? (action.name || 'inline action');
  return 'inline action';
}

/** What a label needs of a transition. */
export type LabelledTransition = Pick<MachineTransition, 'source' | 'eventType' | 'index' | 'delay' | 'guards' | 'targets' | 'reenter'>;

/**
 * `event [guard and guard]`, `after delay`, `device done`, `always [guard]`, `… [otherwise]`;
 * `(no change)` for a targetless transition, `(re-entered)` for one that exits and enters its target again.
 */
export function labelOf(transition: LabelledTransition, all: readonly LabelledTransition[]): string {
  const event = eventLabel(transition);
  let guards = transition.guards.join(' and ');
  if (guards === '') {
    const earlier = all.filter((t) => t.source === transition.source && t.eventType === transition.eventType && t.index < transition.index);
    if (earlier.length > 0 && earlier.every((t) => t.guards.length > 0)) guards = 'otherwise';
  }
  const label = guards === '' ? event : `${event} [${guards}]`;
  if (transition.targets.length === 0) return `${label} (no change)`;
  if (transition.reenter) return `${label} (re-entered)`;
  return label;
}

function eventLabel(transition: LabelledTransition): string {
  if (transition.delay !== undefined) return `after ${transition.delay}`;
  const type = transition.eventType;
  if (type === '') return 'always';
  const done = /^xstate\.done\.actor\.(.+)$/.exec(type);
  if (done) return `${done[1]} done`;
  const error = /^xstate\.error\.actor\.(.+)$/.exec(type);
  if (error) return `${error[1]} error`;
  const stateDone = /^xstate\.done\.state\.(.+)$/.exec(type);
  if (stateDone) return `${stateDone[1]} done`;
  return type;
}

/** The innermost compound state that strictly contains both nodes (the root at worst). */
