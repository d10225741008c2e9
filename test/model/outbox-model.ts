/**
 * The model of the REST outbox machine for model-based testing: which events can happen in each
 * state (calls sent, HTTP answers, no answer, the machine's own timers, cancellation), and how model
 * states are told apart. The transitions, the timers and the emitted `dispatch` / `settle` events
 * all come from machines/outbox.ts: nothing here copies them.
 *
 * The state space is kept finite by the model's bounds, not by forgetting: at most
 * {@link MAX_CALLS} calls per path (so call ids are 1…3), `concurrency` 2, `retryCount` 1 and one
 * 404 retry. Call ids stay in the serialized state on purpose: planPaths rebuilds each step from
 * the adjacency map's edge of the state's representative, and that edge's events (`CALL_RESULT`
 * of call 2…) and emits are only valid for every path into the state when the state pins the ids.
 */
import type { EventFromLogic, SnapshotFrom } from 'xstate';
import { TestModel } from 'xstate/graph';
import { outboxMachine, type OutboxCall, type OutboxSettings } from '../../machines/outbox.js';
import { machineTransitions, stateNodesOf } from '../../scripts/machine-graph.js';
import { modelLogic, planPaths, type ModelEffect, type ModelLogic, type ModelStep, type Plan } from './model.js';

export type OutboxSnapshot = SnapshotFrom<typeof outboxMachine>;
/** The machine's own events plus the delay event XState makes (`xstate.after.retryAfter.outbox.rateLimited`). */
export type OutboxModelEvent = EventFromLogic<typeof outboxMachine>;
export type OutboxState = 'idle' | 'sending' | 'rateLimited';

/** Calls one path sends at most. */
export const MAX_CALLS = 3;

/** The outbox's settings in the model (and on the real Outbox). */
export const OUTBOX_SETTINGS: OutboxSettings = {
  concurrency: 2,
  retryCount: 1,
  retryTimeout: 10_000,
  retryAfterMax: 3_600_000,
  retryDelay: 1_000,
};

/** Retry-After of the 429s that carry one, in seconds (the other 429s fall back to retryTimeout). */
export const RETRY_AFTER_SECONDS = 7;

/** The calls a path can send: a read, a read that may be tried once more on 404, 5xx or no answer (a message just posted), a write. */
export const CALL_KINDS = [
  { name: 'GET', method: 'GET', retries: 0 },
  { name: 'GET+retry', method: 'GET', retries: 1 },
  { name: 'POST', method: 'POST', retries: 0 },
] as const;
export type CallKind = (typeof CALL_KINDS)[number];

/** The HTTP answers a call in flight can get; each selects another CALL_RESULT candidate (or another pause). */
export const ANSWERS = [
  { name: '200', status: 200 },
  { name: '404', status: 404 },
  { name: '429 Retry-After', status: 429, retryAfter: RETRY_AFTER_SECONDS * 1000 },
  { name: '429', status: 429 },
  { name: '500', status: 500 },
] as const;

/** A timer the machine has scheduled (an `after` delay or a delayed raise): it lives in the actor system, not in the snapshot. */
export interface ModelTimer {
  /** The raise's id (XState names an `after` timer by its event type), else the event's JSON. */
  readonly key: string;
  /** The event the timer sends to the machine when it fires. */
  readonly event: OutboxModelEvent;
  /** As scheduled, ms. */
  readonly delay: number;
  /** ms of clock time left. */
  readonly remaining: number;
}

/** Test bookkeeping the snapshot cannot hold. */
export interface OutboxShadow {
  /** Calls sent so far: the next call's id is `sent + 1` (the real Outbox numbers them the same way). */
  readonly sent: number;
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

const sameEvent = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** The emitted events of a model step (`dispatch`, `settle`), from the machine's executed `xstate.emit` actions. */
export function emitsOf(effects: readonly ModelEffect[]): Array<{ type: string; id: number; attempt?: number; outcome?: string }> {
  return effects.filter((e) => e.type === 'xstate.emit').map((e) => (e.params as { event: { type: string; id: number; attempt?: number; outcome?: string } }).event);
}

/** The shadow after a step: the fired timer is gone and time moved to it; the step's delayed raises and cancels applied. */
function nextShadow({ shadow, event, effects }: { shadow: OutboxShadow; event: OutboxModelEvent; effects: readonly ModelEffect[] }): OutboxShadow {
  let timers = [...shadow.timers];
  const fired = nextTimer(timers);
  if (fired && sameEvent(fired.event, event)) {
    timers = timers.filter((t) => t !== fired).map((t) => ({ ...t, remaining: t.remaining - fired.remaining }));
  }
  for (const effect of effects) {
    if (effect.type === 'xstate.raise') {
      const { event: raised, id, delay } = effect.params as { event: OutboxModelEvent; id?: string; delay?: number };
      if (typeof delay !== 'number') continue;
      const key = id ?? JSON.stringify(raised);
      // Scheduling again under the same id replaces the timer (XState's scheduler does the same).
      timers = [...timers.filter((t) => t.key !== key), { key, event: raised, delay, remaining: delay }];
    } else if (effect.type === 'xstate.cancel') {
      const { sendId } = effect.params as { sendId: string };
      timers = timers.filter((t) => t.key !== sendId);
    }
  }
  return { sent: shadow.sent + (event.type === 'SEND' ? 1 : 0), timers };
}

export function outboxLogic(): ModelLogic<typeof outboxMachine, OutboxShadow> {
  return modelLogic<typeof outboxMachine, OutboxShadow>(outboxMachine, { initial: { sent: 0, timers: [] }, next: nextShadow });
}

export function stateOf(snapshot: { value: unknown }): OutboxState {
  return snapshot.value as OutboxState;
}

/** The kind of a call as sent: which CALL_KINDS entry it is. */
export function kindOf(call: Pick<OutboxCall, 'ordered' | 'retries'>): CallKind['name'] {
  if (call.ordered) return 'POST';
  return call.retries > 0 ? 'GET+retry' : 'GET';
}

/** Every event the model offers in `snapshot`: sends (while under MAX_CALLS), answers of each call in flight, cancellation, and the timer due next. */
export function modelEvents(logic: ModelLogic<typeof outboxMachine, OutboxShadow>) {
  return (snapshot: OutboxSnapshot): OutboxModelEvent[] => {
    const { sent, timers } = logic.shadow(snapshot);
    const events: OutboxModelEvent[] = [];
    if (sent < MAX_CALLS) {
      const id = sent + 1;
      for (const kind of CALL_KINDS) {
        events.push({ type: 'SEND', call: { id, label: `${kind.method} model/${id}`, retries: kind.retries, ordered: kind.method !== 'GET' } });
      }
    }
    for (const call of snapshot.context.inFlight) {
      for (const answer of ANSWERS) {
        events.push({ type: 'CALL_RESULT', id: call.id, status: answer.status, ...('retryAfter' in answer ? { retryAfter: answer.retryAfter } : {}) });
      }
      events.push({ type: 'CALL_FAILED', id: call.id });
    }
    events.push({ type: 'CANCEL_ALL' });
    // Only the timer due next can fire: the clock cannot skip one.
    const timer = nextTimer(timers);
    if (timer) events.push(timer.event);
    return events;
  };
}

/** The machine accepts it (every offered event is one the real system can produce in that state). */
export function drivable(snapshot: OutboxSnapshot, event: OutboxModelEvent): boolean {
  return snapshot.can(event);
}

/** A delayed event's delay name (`retryAfter`), or undefined for any other event. */
export function delayOf(event: { type: string }): string | undefined {
  for (const node of [outboxMachine.root, ...stateNodesOf(outboxMachine)]) {
    const after = node.after.find((t) => t.eventType === event.type);
    if (after) return String(after.delay);
  }
  return undefined;
}

const callText = (c: { id: number; ordered: boolean; retries: number; attempt: number }): string =>
  `${c.id}${c.ordered ? 'P' : 'G'}${c.retries > 0 ? `+${c.retries}` : ''}${c.attempt > 0 ? `*${c.attempt}` : ''}`;

/**
 * A model state: the state value; the calls queued, in flight and parked (id, ordered, 404 retries
 * left, 429s so far); the pause chosen while rate limited; the calls sent; the pending timers with
 * the time left. Labels, `rateLimits` and the stale `retryAfter` of a past pause are left out.
 */
export function serializer(logic: ModelLogic<typeof outboxMachine, OutboxShadow>) {
  return (snapshot: OutboxSnapshot): string => {
    const c = snapshot.context;
    const { sent, timers } = logic.shadow(snapshot);
    const list = (calls: readonly Parameters<typeof callText>[0][]) => `[${calls.map(callText).join(' ')}]`;
    const pause = snapshot.value === 'rateLimited' ? ` retryAfter=${c.retryAfter}` : '';
    const clock = timers.map((t) => `${t.event.type === 'REQUEUE' ? `REQUEUE ${(t.event as { id: number }).id}` : (delayOf(t.event) ?? t.event.type)}@${t.remaining}`).join(' ');
    return `${String(snapshot.value)} sent=${sent} queue=${list(c.queue)} inFlight=${list(c.inFlight)} parked=${list(c.parked)}${pause} timers=[${clock}]`;
  };
}

/** An event as the model tells events apart: its type, the call's id, the kind of call sent, the answer. */
export function eventVariant(event: OutboxModelEvent): string {
  switch (event.type) {
    case 'SEND':
      return `SEND ${event.call.id} ${kindOf(event.call)}`;
    case 'CALL_RESULT':
      return `CALL_RESULT ${event.id} ${event.status}${event.retryAfter === undefined ? '' : ' Retry-After'}`;
    case 'CALL_FAILED':
    case 'REQUEUE':
      return `${event.type} ${event.id}`;
    default:
      return delayOf(event) === undefined ? event.type : `after ${delayOf(event)}`;
  }
}

/** The event without its call id: what kind of thing happened. */
export function eventKind(event: OutboxModelEvent): string {
  return eventVariant(event).replace(/^(\S+) \d+/, '$1');
}

/** Actions of a transition key, from the machine definition. */
const ACTIONS = new Map(machineTransitions(outboxMachine).map((t) => [t.key, t.actions]));
export function actionsOf(key: string): readonly string[] {
  return ACTIONS.get(key) ?? [];
}

export interface OutboxModel {
  readonly logic: ModelLogic<typeof outboxMachine, OutboxShadow>;
  readonly model: TestModel<OutboxSnapshot, OutboxModelEvent, unknown>;
  readonly serialize: (snapshot: OutboxSnapshot) => string;
  readonly plan: Plan<typeof outboxMachine>;
}

/**
 * What a step counts for when paths are chosen: each transition it takes, from the state it was
 * in, with the kind of event that took it (a 429 with and without Retry-After, a 404 with and
 * without a retry left, a send of a read or a write…) and with what was in flight (an ordered
 * call or not), so that the paths also show the pause, the ordering and the cancellation at work.
 */
export function goalsOf(logic: ModelLogic<typeof outboxMachine, OutboxShadow>) {
  return (step: ModelStep<typeof outboxMachine>, previous: ModelStep<typeof outboxMachine>): string[] => {
    const before = previous.state;
    const ordered = before.context.inFlight.some((c) => c.ordered) ? 'write in flight' : before.context.inFlight.length > 0 ? 'reads in flight' : 'nothing in flight';
    const waiting = before.context.queue.length + before.context.parked.length > 0 ? 'calls waiting' : 'none waiting';
    return logic.taken(step.state).map((key) => `${key} from ${String(before.value)} on ${eventKind(step.event)}, ${ordered}, ${waiting}`);
  };
}

/** The model of an outbox with OUTBOX_SETTINGS, and the paths that cover what it can reach. */
export function outboxModel(): OutboxModel {
  const logic = outboxLogic();
  const serialize = serializer(logic);
  const model = new TestModel<OutboxSnapshot, OutboxModelEvent, unknown>(logic.logic as never, {
    input: OUTBOX_SETTINGS,
    events: modelEvents(logic),
    filterEvents: drivable,
    serializeState: serialize,
    serializeEvent: eventVariant,
  });
  const plan = planPaths(model, logic, serialize, eventVariant, { goals: goalsOf(logic) });
  return { logic, model, serialize, plan };
}
