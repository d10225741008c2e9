/**
 * Model-based testing of an XState machine against the real system, machine-agnostic: the
 * connection model (connection.test.ts) uses it, and a model of another machine (e.g. the outbox)
 * needs only its own events, serialization and driver.
 *
 * - {@link modelLogic} wraps the machine for `xstate/graph`'s TestModel: each model step is computed
 *   by the machine's own `transition()`, and the wrapper records which of the machine's transitions
 *   it took and carries test bookkeeping (a "shadow") that the snapshot cannot hold, such as a
 *   delayed event the machine has scheduled (timers live in the actor system, not in snapshots).
 * - {@link planPaths} picks, from TestModel's shortest paths and adjacency map, a small set of paths
 *   that together take every transition the model can reach.
 * - {@link TransitionRecorder} records the transitions the real system's actor takes (through
 *   XState inspection), which is what the coverage counts.
 *
 * A model step also records the effects the machine asked for (its executed built-in actions:
 * `xstate.raise` with a delay schedules a timer, `xstate.cancel` cancels one, `xstate.emit` emits
 * an event), so that a shadow can follow the machine's timers and a driver can expect its emits
 * from the machine itself.
 */
import assert from 'node:assert/strict';
import { createEmptyActor, type AnyActorLogic, type AnyStateMachine, type AnyTransitionDefinition, type EventFromLogic, type InputFrom, type InspectionEvent, type SnapshotFrom } from 'xstate';
import type { StatePath, Step, TestModel } from 'xstate/graph';
import { machineTransitions, transitionKey } from '../../scripts/machine-graph.js';

export type ModelSnapshot<M extends AnyStateMachine> = SnapshotFrom<M>;
export type ModelEvent<M extends AnyStateMachine> = EventFromLogic<M>;
export type ModelStep<M extends AnyStateMachine> = Step<ModelSnapshot<M>, ModelEvent<M>>;
export type ModelPath<M extends AnyStateMachine> = StatePath<ModelSnapshot<M>, ModelEvent<M>>;

/** A built-in action the machine executed in a model step (`xstate.raise`, `xstate.cancel`, `xstate.emit`, …), with its resolved params. */
export interface ModelEffect {
  readonly type: string;
  readonly params: unknown;
}

export interface ShadowSpec<M extends AnyStateMachine, B> {
  readonly initial: B;
  /**
   * The bookkeeping after `event` led from `previous` to `next`, taking the transitions `taken`
   * (keys) and executing the built-in actions `effects`, in order.
   */
  next(args: { previous: ModelSnapshot<M>; shadow: B; event: ModelEvent<M>; next: ModelSnapshot<M>; taken: readonly string[]; effects: readonly ModelEffect[] }): B;
}

export interface ModelLogic<M extends AnyStateMachine, B> {
  readonly machine: M;
  /** The machine as actor logic for TestModel; its snapshots are the machine's own. */
  readonly logic: AnyActorLogic;
  /** The keys of the transitions taken by the step that produced `snapshot` (empty for the initial one). */
  taken(snapshot: ModelSnapshot<M>): readonly string[];
  /** The built-in actions executed by the step that produced `snapshot` (raise, cancel, emit…), in order. */
  effects(snapshot: ModelSnapshot<M>): readonly ModelEffect[];
  shadow(snapshot: ModelSnapshot<M>): B;
}

/**
 * The machine as TestModel logic. Steps run through `machine.transition()` with an actor scope
 * that executes no effects (as xstate/graph's own) but records the built-in ones it is asked to
 * execute, whose `self` answers `getSnapshot()` (some actions read it) and whose system records
 * the microsteps' transitions.
 */
export function modelLogic<M extends AnyStateMachine, B>(machine: M, shadowSpec: ShadowSpec<M, B>): ModelLogic<M, B> {
  const empty = createEmptyActor();
  let current: unknown;
  let recorded: AnyTransitionDefinition[] = [];
  let executed: ModelEffect[] = [];
  const system = Object.create(empty.system, {
    _sendInspectionEvent: {
      value: (event: InspectionEvent) => {
        if (event.type === '@xstate.microstep') recorded.push(...(event as unknown as { _transitions: AnyTransitionDefinition[] })._transitions);
      },
    },
  }) as typeof empty.system;
  const self = Object.create(empty, { getSnapshot: { value: () => current }, system: { value: system } }) as typeof empty;
  const scope = {
    self,
    id: 'model',
    sessionId: 'model',
    logger: () => undefined,
    defer: () => undefined,
    system,
    stopChild: () => undefined,
    emit: () => undefined,
    // Nothing runs; the built-in actions are recorded (custom ones have no params worth keeping).
    actionExecutor: (action: { type: string; params?: unknown }) => {
      if (action.type.startsWith('xstate.')) executed.push({ type: action.type, params: action.params });
    },
  };
  const taken = new WeakMap<object, readonly string[]>();
  const effects = new WeakMap<object, readonly ModelEffect[]>();
  const shadows = new WeakMap<object, B>();
  type S = ModelSnapshot<M>;
  type E = ModelEvent<M>;
  const logic = {
    config: machine.config,
    getInitialSnapshot: (_scope: unknown, input: InputFrom<M>) => {
      current = undefined;
      executed = [];
      const snapshot = machine.getInitialSnapshot(scope as never, input) as S;
      taken.set(snapshot, []);
      effects.set(snapshot, executed);
      shadows.set(snapshot, shadowSpec.initial);
      return snapshot;
    },
    transition: (snapshot: S, event: E) => {
      current = snapshot;
      recorded = [];
      executed = [];
      const result = machine.transition(snapshot, event, scope as never) as S;
      // XState hands back the same object when nothing changed (a targetless or re-entering
      // transition): copy it, so that each model step has its own bookkeeping.
      const next = result === snapshot ? ({ ...(result as object) } as S) : result;
      const keys = recorded.map(transitionKey);
      taken.set(next, keys);
      effects.set(next, executed);
      shadows.set(next, shadowSpec.next({ previous: snapshot, shadow: shadows.get(snapshot) ?? shadowSpec.initial, event, next, taken: keys, effects: executed }));
      return next;
    },
    getPersistedSnapshot: (snapshot: S) => snapshot,
  } as unknown as AnyActorLogic;
  return {
    machine,
    logic,
    taken: (snapshot) => taken.get(snapshot) ?? [],
    effects: (snapshot) => effects.get(snapshot) ?? [],
    shadow: (snapshot) => {
      const shadow = shadows.get(snapshot);
      assert.ok(shadow !== undefined, 'a snapshot the model did not make');
      return shadow;
    },
  };
}

export interface PlannedPath<M extends AnyStateMachine> extends ModelPath<M> {
  /** Steps as xstate/graph gives them: steps[0] is the initial state (event `xstate.init`), then each event with the state it leads to. */
  readonly steps: Array<ModelStep<M>>;
  /** The transition keys the model takes along the path, in order. */
  readonly expected: readonly string[];
}

export interface Plan<M extends AnyStateMachine> {
  readonly paths: Array<PlannedPath<M>>;
  /** Model states (serialized) and edges the traversal found. */
  readonly states: number;
  readonly edges: number;
  /** Transition keys the model covers (every path together). */
  readonly covered: ReadonlySet<string>;
  /** The coverage goals the paths reach together (the transition keys, unless `goals` was given). */
  readonly goals: ReadonlySet<string>;
}

export interface PlanOptions<M extends AnyStateMachine> {
  /**
   * What a step counts for when paths are chosen: by default the transitions it takes. A model can
   * ask for more, e.g. each transition with each kind of event, or from each state.
   */
  readonly goals?: (step: ModelStep<M>, previous: ModelStep<M>) => readonly string[];
}

/**
 * Paths that together take every transition reachable in the model: the shortest path to each
 * model state (TestModel.getShortestPaths), extended by one edge, chosen greedily from the shortest
 * up while they take a transition no chosen path takes yet; then paths that are a prefix of
 * another chosen path are dropped. Deterministic for a deterministic model.
 *
 * getShortestPaths gives, for each step, some snapshot of the right model state (not necessarily
 * the one the step's event was computed from), so each step is rebuilt here from the adjacency
 * map's edge: its event, and the snapshot that event leads to, whose taken transitions and shadow
 * are exactly the edge's. `serializeEvent` must be the model's own (stable across traversals).
 *
 * With `options.goals`, a path is chosen while it reaches a goal no chosen path reaches yet.
 */
export function planPaths<M extends AnyStateMachine, B>(
  model: TestModel<ModelSnapshot<M>, ModelEvent<M>, unknown>,
  logic: ModelLogic<M, B>,
  serializeState: (snapshot: ModelSnapshot<M>) => string,
  serializeEvent: (event: ModelEvent<M>) => string,
  options: PlanOptions<M> = {},
): Plan<M> {
  type Edge = { event: ModelEvent<M>; state: ModelSnapshot<M> };
  const adjacency = model.getAdjacencyMap();
  const [initial] = Object.values(adjacency);
  assert.ok(initial, 'the model has no initial state');
  const edgeOf = (from: ModelSnapshot<M>, event: ModelEvent<M>): Edge => {
    const edge = (adjacency[serializeState(from) as never]?.transitions as Record<string, Edge> | undefined)?.[serializeEvent(event)];
    assert.ok(edge, `no model edge ${serializeEvent(event)} from ${serializeState(from)}`);
    return edge;
  };
  const shortest = new Map<string, Array<ModelStep<M>>>();
  for (const path of model.getShortestPaths({ allowDuplicatePaths: true })) {
    const steps: Array<ModelStep<M>> = [{ event: { type: 'xstate.init' } as ModelEvent<M>, state: initial.state as ModelSnapshot<M> }];
    path.steps.slice(1).forEach((step, i) => {
      const from = path.steps[i];
      assert.ok(from);
      steps.push(edgeOf(from.state, step.event));
    });
    shortest.set(serializeState(path.state), steps);
  }
  const candidates: Array<Array<ModelStep<M>>> = [];
  let edges = 0;
  for (const [serialized, { transitions }] of Object.entries(adjacency)) {
    const prefix = shortest.get(serialized);
    assert.ok(prefix, `no path to model state ${serialized}`);
    for (const edge of Object.values(transitions) as Edge[]) {
      edges += 1;
      candidates.push([...prefix, edge]);
    }
  }
  const expectedOf = (steps: ReadonlyArray<ModelStep<M>>) => steps.flatMap((step) => logic.taken(step.state));
  const goalsOf = options.goals;
  const reachedOf = goalsOf
    ? (steps: ReadonlyArray<ModelStep<M>>) => steps.slice(1).flatMap((step, i) => goalsOf(step, steps[i] as ModelStep<M>))
    : expectedOf;
  // Stable sort: shortest first, BFS order among equals.
  candidates.sort((a, b) => a.length - b.length);
  const covered = new Set<string>();
  const goals = new Set<string>();
  const chosen: Array<PlannedPath<M>> = [];
  for (const steps of candidates) {
    const reached = reachedOf(steps);
    if (reached.every((goal) => goals.has(goal))) continue;
    for (const goal of reached) goals.add(goal);
    const expected = expectedOf(steps);
    for (const key of expected) covered.add(key);
    const last = steps.at(-1);
    assert.ok(last);
    chosen.push({ state: last.state, steps, weight: steps.length - 1, expected });
  }
  const eventsOf = (path: PlannedPath<M>) => path.steps.map((s) => serializeEvent(s.event));
  const paths = chosen.filter((path, i) => {
    const mine = eventsOf(path);
    return !chosen.some((other, j) => j !== i && other.steps.length > path.steps.length && mine.every((e, k) => e === eventsOf(other)[k]));
  });
  return { paths, states: Object.keys(adjacency).length, edges, covered, goals };
}

/** Records the transitions that the actors of one machine (by id) take, by key, through XState inspection. */
export class TransitionRecorder {
  readonly taken: string[] = [];
  /** Ids of the state nodes the actor was in after some microstep. */
  readonly visited = new Set<string>();
  /** Anything the recorder could not make sense of (an observer must not throw into the actor). */
  readonly problems: string[] = [];
  /** The built-in actions (`xstate.raise`, `xstate.cancel`, `xstate.emit`…) the actor executed, in order, as {@link ModelEffect}s. */
  readonly actions: ModelEffect[] = [];
  /** The actor's latest snapshot (after its last macrostep), when one was inspected. */
  snapshot: unknown;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly machineId: string) {}

  /** Calls `listener` after each inspected step of the machine (synchronously: defer any real work). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** An inspection observer for `createActor(…, { inspect })` (SparkBot's `inspect` option). */
  readonly inspect = (event: InspectionEvent): void => {
    if (event.type === '@xstate.action') {
      if ((event.actorRef as { logic?: { id?: string } }).logic?.id !== this.machineId) return;
      const { type, params } = event.action;
      if (type.startsWith('xstate.')) this.actions.push({ type, params });
      return;
    }
    if (event.type === '@xstate.snapshot') {
      if ((event.snapshot as { machine?: { id?: string } }).machine?.id !== this.machineId) return;
      this.snapshot = event.snapshot;
      for (const listener of [...this.listeners]) listener();
      return;
    }
    if (event.type !== '@xstate.microstep') return;
    const snapshot = event.snapshot as { machine?: { id?: string }; _nodes?: Array<{ id: string }> };
    if (snapshot.machine?.id !== this.machineId || event.event.type === 'xstate.init') return;
    try {
      for (const transition of (event as unknown as { _transitions: AnyTransitionDefinition[] })._transitions) this.taken.push(transitionKey(transition));
      for (const node of snapshot._nodes ?? []) this.visited.add(node.id);
    } catch (error) {
      this.problems.push((error as Error).message);
    }
  };
}

/** The transitions of a machine (keys), from its definition. */
export function allTransitionKeys(machine: AnyStateMachine): string[] {
  return machineTransitions(machine).map((t) => t.key);
}
