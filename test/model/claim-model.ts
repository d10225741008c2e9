/**
 * The model of the claim machine (machines/claim.ts) for model-based testing: which events can
 * happen in each state (the host's HANDLED / RELEASE / NOTICE / DONE, the answers of the store's invoked
 * services, the machine's own named delays), and how model states are told apart. The transitions,
 * the services each state invokes and the timers all come from the machine: nothing here copies them.
 *
 * The store's services are actors the machine invokes, each under an invoke id of its own (claim,
 * renew, finish, release); their completions are the events XState makes for them
 * (`xstate.done.actor.<invoke id>` with the service's output, `xstate.error.actor.<invoke id>`),
 * one per answer the service can give: a claim is `claimed`, `done` or `held` with a ttl from
 * {@link TTLS}; a renewal keeps the claim (true) or finds it taken (false); finish and release
 * just end; and each of them can throw (the store did not answer). The named delays are the
 * `xstate.after.<delay>.<state id>` events of the timers the machine scheduled (in the shadow).
 *
 * The state space is kept finite by the model's bounds: at most {@link MAX_FAILURES} failed store
 * calls in a row (a service does not throw once that many failed), ttls from a small set, and
 * settings ({@link MODEL_SETTINGS}) with which the retry delay reaches its cap within those failures.
 */
import type { EventFromLogic, SnapshotFrom, StateValue } from 'xstate';
import { TestModel } from 'xstate/graph';
import { claimMachine, type ClaimAnswer, type ClaimContext, type ClaimInput, type ClaimSettings } from '../../machines/claim.js';
import { stateNodesOf } from '../../scripts/machine-graph.js';
import { modelLogic, planPaths, type ModelEffect, type ModelLogic, type ModelStep, type Plan } from './model.js';

export type ClaimSnapshot = SnapshotFrom<typeof claimMachine>;
/** The machine's own events plus the service and delay events XState makes (typed loosely: their types carry invoke ids). */
export type ClaimModelEvent = EventFromLogic<typeof claimMachine>;
export type ServiceName = 'claim' | 'renew' | 'finish' | 'release';

/** The settings in the model (and of the real actor): renewEvery 1000, retries after 100 then 150 (capped), recheck ttl + 25. */
export const MODEL_SETTINGS: ClaimSettings = { lease: 3_000, retryDelay: 100, retryMax: 150, margin: 25 };
export const ACTIVITY_ID = 'activity-model-1';
export const MODEL_INPUT: ClaimInput = { id: ACTIVITY_ID, ...MODEL_SETTINGS };

/** Store calls that fail in a row at most, in the model. */
export const MAX_FAILURES = 2;
/**
 * The holder's remaining lease in a `held` answer, ms: a live lease; none left; and two the store
 * should not give, which the machine must still take as "none left": a negative one (Redis PTTL's
 * -2, which src/redis's CLAIM script now turns into 0) and one that is not a finite number.
 */
export const TTLS = [2_000, 0, -2, Number.POSITIVE_INFINITY] as const;

/** What each service can answer (resolve with), per service. */
export const ANSWERS: { readonly [S in ServiceName]: readonly unknown[] } = {
  claim: [{ result: 'claimed' }, { result: 'done' }, ...TTLS.map((ttl): ClaimAnswer => ({ result: 'held', ttl }))],
  renew: [true, false],
  finish: [undefined],
  release: [undefined],
};

/** Invoke id → service, from the machine's state nodes (the completion events carry the invoke id). */
const SERVICES = new Map<string, ServiceName>(
  stateNodesOf(claimMachine).flatMap((node) => node.invoke.map((invoke): [string, ServiceName] => [invoke.id, String(invoke.src) as ServiceName])),
);

/** The service (and its invoke id) that the active states of `snapshot` invoke, from the machine definition. */
export function invokedBy(snapshot: { _nodes: ClaimSnapshot['_nodes'] }): Array<{ readonly invokeId: string; readonly src: ServiceName }> {
  return snapshot._nodes.flatMap((node) => node.invoke.map((invoke) => ({ invokeId: invoke.id, src: String(invoke.src) as ServiceName })));
}

/** A service completion event: which service, done (with its output) or error. */
export function serviceEventOf(event: { type: string }): { readonly kind: 'done' | 'error'; readonly invokeId: string; readonly src: ServiceName; readonly output?: unknown } | undefined {
  const match = /^xstate\.(done|error)\.actor\.(.+)$/.exec(event.type);
  if (!match) return undefined;
  const invokeId = match[2] as string;
  const src = SERVICES.get(invokeId);
  if (src === undefined) return undefined;
  return { kind: match[1] as 'done' | 'error', invokeId, src, ...(match[1] === 'done' ? { output: (event as { output?: unknown }).output } : {}) };
}

/** A delayed event's delay name (`recheck`), or undefined for any other event. */
export function delayOf(event: { type: string }): string | undefined {
  for (const node of [claimMachine.root, ...stateNodesOf(claimMachine)]) {
    const after = node.after.find((t) => t.eventType === event.type);
    if (after) return String(after.delay);
  }
  return undefined;
}

/** The leaf state's key (`holding` for `{ running: 'holding' }`). */
export function leafOf(value: StateValue): string {
  let current: StateValue = value;
  while (typeof current === 'object') {
    const [key] = Object.keys(current);
    if (key === undefined) return '';
    const child: StateValue | undefined = current[key];
    if (child === undefined) return key;
    current = child;
  }
  return current;
}

/** A timer the machine has scheduled (an `after` delay): it lives in the actor system, not in the snapshot. */
export interface ModelTimer {
  /** The raise's id (XState names an `after` timer by its event type). */
  readonly key: string;
  /** The event the timer sends to the machine when it fires. */
  readonly event: ClaimModelEvent;
  /** As scheduled, ms. */
  readonly delay: number;
  /** ms of clock time left. */
  readonly remaining: number;
}

/** Test bookkeeping the snapshot cannot hold. */
export interface ClaimShadow {
  /** The machine's pending timers, in the order they were scheduled. */
  readonly timers: readonly ModelTimer[];
}

/** The timer that fires next: the soonest, the first scheduled among equals (as the TestClock orders them). */
export function nextTimer(timers: readonly ModelTimer[]): ModelTimer | undefined {
  let next: ModelTimer | undefined;
  for (const timer of timers) if (next === undefined || timer.remaining < next.remaining) next = timer;
  return next;
}

/** The timers soonest first (stable), as the TestClock lists its pending delays. */
export function timersByDue(timers: readonly ModelTimer[]): ModelTimer[] {
  return [...timers].sort((a, b) => a.remaining - b.remaining);
}

/** The shadow after a step: the fired timer is gone and time moved to it; the step's delayed raises and cancels applied. */
function nextShadow({ shadow, event, effects }: { shadow: ClaimShadow; event: ClaimModelEvent; effects: readonly ModelEffect[] }): ClaimShadow {
  let timers = [...shadow.timers];
  const fired = nextTimer(timers);
  if (fired && fired.event.type === event.type) {
    timers = timers.filter((t) => t !== fired).map((t) => ({ ...t, remaining: t.remaining - fired.remaining }));
  }
  for (const effect of effects) {
    if (effect.type === 'xstate.raise') {
      const { event: raised, id, delay } = effect.params as { event: ClaimModelEvent; id?: string; delay?: number };
      if (typeof delay !== 'number') continue;
      const key = id ?? JSON.stringify(raised);
      timers = [...timers.filter((t) => t.key !== key), { key, event: raised, delay, remaining: delay }];
    } else if (effect.type === 'xstate.cancel') {
      const { sendId } = effect.params as { sendId: string };
      timers = timers.filter((t) => t.key !== sendId);
    }
  }
  return { timers };
}

export function claimLogic(): ModelLogic<typeof claimMachine, ClaimShadow> {
  return modelLogic<typeof claimMachine, ClaimShadow>(claimMachine, { initial: { timers: [] }, next: nextShadow });
}

const event = (e: Record<string, unknown> & { type: string }) => e as unknown as ClaimModelEvent;

/**
 * Every event the model offers in `snapshot`: the host's four, each answer and the failure of the
 * service the state invokes (read from the machine), and the timer due next.
 */
export function modelEvents(logic: ModelLogic<typeof claimMachine, ClaimShadow>) {
  return (snapshot: ClaimSnapshot): ClaimModelEvent[] => {
    const events: ClaimModelEvent[] = [event({ type: 'HANDLED' }), event({ type: 'RELEASE' }), event({ type: 'NOTICE' }), event({ type: 'DONE' })];
    for (const { invokeId, src } of invokedBy(snapshot)) {
      for (const output of ANSWERS[src]) events.push(event({ type: `xstate.done.actor.${invokeId}`, actorId: invokeId, output }));
      events.push(event({ type: `xstate.error.actor.${invokeId}`, actorId: invokeId, error: new Error(`${src}: the store did not answer`) }));
    }
    // Only the timer due next can fire: the clock cannot skip one.
    const timer = nextTimer(logic.shadow(snapshot).timers);
    if (timer) events.push(timer.event);
    return events;
  };
}

/** The machine accepts it, and it keeps within the bounds: no more than MAX_FAILURES failed store calls in a row. */
export function drivable(snapshot: ClaimSnapshot, e: ClaimModelEvent): boolean {
  if (!snapshot.can(e)) return false;
  if (serviceEventOf(e)?.kind === 'error') return snapshot.context.failures < MAX_FAILURES;
  return true;
}

/** A service's answer as the model tells answers apart. */
export function answerText(output: unknown): string {
  if (output === undefined) return '';
  if (typeof output === 'object' && output !== null && 'result' in output) {
    const answer = output as ClaimAnswer;
    return answer.result === 'held' ? ` held ttl=${String(answer.ttl)}` : ` ${answer.result}`;
  }
  return ` ${String(output)}`;
}

/** An event as the model tells events apart: the host's by type; a service's completion by service and answer; a timer by its delay's name. */
export function eventVariant(e: ClaimModelEvent): string {
  const service = serviceEventOf(e);
  if (service) return service.kind === 'error' ? `${service.src} throws` : `${service.src} answers${answerText(service.output)}`;
  const delay = delayOf(e);
  if (delay !== undefined) return `after ${delay}`;
  return e.type;
}

/** A model state: the state value, what the context holds that changes (heldFor, failures, lost, noticed, stopping), the pending timers with the time left. */
export function serializer(logic: ModelLogic<typeof claimMachine, ClaimShadow>) {
  return (snapshot: ClaimSnapshot): string => {
    const c: ClaimContext = snapshot.context;
    const timers = logic.shadow(snapshot).timers.map((t) => `${delayOf(t.event) ?? t.event.type}@${t.remaining}`);
    return `${JSON.stringify(snapshot.value)} heldFor=${c.heldFor} failures=${c.failures} lost=${c.lost} noticed=${c.noticed} stopping=${c.stopping} timers=[${timers.join(' ')}]`;
  };
}

/**
 * What a step counts for when paths are chosen: each transition it takes with the answer or event
 * that took it (each ttl of a `held`, each kind of renewal…) and the failures in a row before it
 * (so that a retry is timed after one failure and after two, at the cap), and whether the claim
 * was lost, a NOTICE came while the claim was out, or RELEASE while the done mark was out (so that
 * each answer is played with and without them).
 */
export function goalsOf(logic: ModelLogic<typeof claimMachine, ClaimShadow>) {
  return (step: ModelStep<typeof claimMachine>, previous: ModelStep<typeof claimMachine>): string[] => {
    const { failures, lost, noticed, stopping } = previous.state.context;
    const flags = `${lost ? ', lost' : ''}${noticed ? ', noticed' : ''}${stopping ? ', stopping' : ''}`;
    return logic.taken(step.state).map((key) => `${key} on ${eventVariant(step.event)}, failures=${failures}${flags}`);
  };
}

export interface ClaimModel {
  readonly logic: ModelLogic<typeof claimMachine, ClaimShadow>;
  readonly model: TestModel<ClaimSnapshot, ClaimModelEvent, unknown>;
  readonly serialize: (snapshot: ClaimSnapshot) => string;
  readonly plan: Plan<typeof claimMachine>;
}

/** The model of one activity's claim with MODEL_INPUT, and the paths that cover what it can reach. */
export function claimModel(): ClaimModel {
  const logic = claimLogic();
  const serialize = serializer(logic);
  const model = new TestModel<ClaimSnapshot, ClaimModelEvent, unknown>(logic.logic as never, {
    input: MODEL_INPUT,
    events: modelEvents(logic),
    filterEvents: drivable,
    serializeState: serialize,
    serializeEvent: eventVariant,
  });
  const plan = planPaths(model, logic, serialize, eventVariant, { goals: goalsOf(logic) });
  return { logic, model, serialize, plan };
}
