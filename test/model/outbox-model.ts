/**
 * The model of the REST outbox machine for model-based testing: which events can happen in each
 * state (calls sent, HTTP answers, no answer, the machine's own timers, cancellation), and how model
 * states are told apart. The transitions, the timers and the emitted `dispatch` / `settle` events
 * all come from machines/outbox.ts: nothing here copies them.
 *
 * The model is of the Outbox, not only of its machine: while the machine is idle the Outbox sends a
 * call it would dispatch at once itself (the direct path, machines/outbox.ts), and settles it itself
 * when its answer needs no pause and no retry. Those steps are model-only events the machine never
 * sees (DIRECT_SEND, DIRECT_RESULT, DIRECT_FAILED); the direct calls out are in the shadow, and the
 * machine event that makes the machine leave idle carries them in `adopt`. Which way a call or an
 * answer goes is decided by the machine's own exported rules (sendsDirect, needsMachine, outcomeOf).
 *
 * The state space is kept finite by the model's bounds, not by forgetting: at most
 * {@link MAX_CALLS} calls per path (so call ids are 1…3), `concurrency` 2, `retryCount` 1 and one
 * 404 retry. Call ids stay in the serialized state on purpose: planPaths rebuilds each step from
 * the adjacency map's edge of the state's representative, and that edge's events (`CALL_RESULT`
 * of call 2…) and emits are only valid for every path into the state when the state pins the ids.
 */
import type { EventFromLogic, SnapshotFrom } from 'xstate';
import { TestModel } from 'xstate/graph';
import { needsMachine, outboxMachine, sendsDirect, type OutboxCall, type OutboxSettings } from '../../machines/outbox.js';
import { machineTransitions, stateNodesOf } from '../../scripts/machine-graph.js';
import { modelLogic, planPaths, type ModelEffect, type ModelLogic, type ModelStep, type Plan } from './model.js';

export type OutboxSnapshot = SnapshotFrom<typeof outboxMachine>;
/**
 * The direct path's steps, which the machine never sees: a call sent by the Outbox itself, and the
 * answer (or no answer) of a direct call that the Outbox settles itself.
 */
export type DirectEvent =
  | { readonly type: 'DIRECT_SEND'; readonly call: OutboxCall }
  | { readonly type: 'DIRECT_RESULT'; readonly id: number; readonly status: number; readonly retryAfter?: number }
  | { readonly type: 'DIRECT_FAILED'; readonly id: number };
/** The machine's own events plus the delay event XState makes (`xstate.after.retryAfter.outbox.rateLimited`), plus the direct path's. */
export type OutboxModelEvent = EventFromLogic<typeof outboxMachine> | DirectEvent;

export function isDirect(event: { type: string }): event is DirectEvent {
  return event.type === 'DIRECT_SEND' || event.type === 'DIRECT_RESULT' || event.type === 'DIRECT_FAILED';
}

/** The calls a model event hands over to the machine (`adopt`), if any. */
export function adoptedBy(event: OutboxModelEvent): readonly OutboxCall[] {
  return 'adopt' in event && event.adopt !== undefined ? event.adopt : [];
}
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
  /** Calls the Outbox sent on the direct path and that are still out (not adopted by the machine), in the order sent. */
  readonly direct: readonly OutboxCall[];
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
  let direct = shadow.direct;
  if (event.type === 'DIRECT_SEND') direct = [...direct, event.call];
  else if (event.type === 'DIRECT_RESULT' || event.type === 'DIRECT_FAILED') direct = direct.filter((call) => call.id !== event.id);
  else if (adoptedBy(event).length > 0) direct = [];
  return { sent: shadow.sent + (event.type === 'SEND' || event.type === 'DIRECT_SEND' ? 1 : 0), timers, direct };
}

export function outboxLogic(): ModelLogic<typeof outboxMachine, OutboxShadow> {
  return modelLogic<typeof outboxMachine, OutboxShadow>(outboxMachine, { initial: { sent: 0, timers: [], direct: [] }, next: nextShadow });
}

export function stateOf(snapshot: { value: unknown }): OutboxState {
  return snapshot.value as OutboxState;
}

/** The kind of a call as sent: which CALL_KINDS entry it is. */
export function kindOf(call: Pick<OutboxCall, 'ordered' | 'retries'>): CallKind['name'] {
  if (call.ordered) return 'POST';
  return call.retries > 0 ? 'GET+retry' : 'GET';
}

/**
 * Every event the model offers in `snapshot`: sends (while under MAX_CALLS), answers of each call
 * in flight (the machine's or a direct one), cancellation, and the timer due next. A send or a
 * direct call's answer goes the way the Outbox sends it: direct, or to the machine with the direct
 * calls out in `adopt`.
 */
export function modelEvents(logic: ModelLogic<typeof outboxMachine, OutboxShadow>) {
  return (snapshot: OutboxSnapshot): OutboxModelEvent[] => {
    const { sent, timers, direct } = logic.shadow(snapshot);
    const adopt = direct.length > 0 ? { adopt: direct } : {};
    const events: OutboxModelEvent[] = [];
    if (sent < MAX_CALLS) {
      const id = sent + 1;
      const out = { calls: direct.length, writes: direct.filter((call) => call.ordered).length };
      for (const kind of CALL_KINDS) {
        const call = { id, label: `${kind.method} model/${id}`, retries: kind.retries, ordered: kind.method !== 'GET' };
        if (sendsDirect(snapshot.value === 'idle', out, call.ordered, OUTBOX_SETTINGS.concurrency)) events.push({ type: 'DIRECT_SEND', call });
        else events.push({ type: 'SEND', call, ...adopt });
      }
    }
    for (const call of snapshot.context.inFlight) {
      for (const answer of ANSWERS) {
        events.push({ type: 'CALL_RESULT', id: call.id, status: answer.status, ...('retryAfter' in answer ? { retryAfter: answer.retryAfter } : {}) });
      }
      events.push({ type: 'CALL_FAILED', id: call.id });
    }
    for (const call of direct) {
      for (const answer of ANSWERS) {
        const result = { id: call.id, status: answer.status, ...('retryAfter' in answer ? { retryAfter: answer.retryAfter } : {}) };
        if (needsMachine(call, answer.status, false, OUTBOX_SETTINGS.retryCount)) events.push({ type: 'CALL_RESULT', ...result, ...adopt });
        else events.push({ type: 'DIRECT_RESULT', ...result });
      }
      if (needsMachine(call, undefined, false, OUTBOX_SETTINGS.retryCount)) events.push({ type: 'CALL_FAILED', id: call.id, ...adopt });
      else events.push({ type: 'DIRECT_FAILED', id: call.id });
    }
    events.push({ type: 'CANCEL_ALL' });
    // Only the timer due next can fire: the clock cannot skip one.
    const timer = nextTimer(timers);
    if (timer) events.push(timer.event);
    return events;
  };
}

/** The machine accepts it (every offered event is one the real system can produce in that state); the direct path's steps are the Outbox's alone. */
export function drivable(snapshot: OutboxSnapshot, event: OutboxModelEvent): boolean {
  return isDirect(event) || snapshot.can(event);
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
    const { sent, timers, direct } = logic.shadow(snapshot);
    const list = (calls: readonly Parameters<typeof callText>[0][]) => `[${calls.map(callText).join(' ')}]`;
    const pause = snapshot.value === 'rateLimited' ? ` retryAfter=${c.retryAfter}` : '';
    const clock = timers.map((t) => `${t.event.type === 'REQUEUE' ? `REQUEUE ${(t.event as { id: number }).id}` : (delayOf(t.event) ?? t.event.type)}@${t.remaining}`).join(' ');
    return `${String(snapshot.value)} sent=${sent} queue=${list(c.queue)} inFlight=${list(c.inFlight)} parked=${list(c.parked)} direct=${list(direct.map((call) => ({ ...call, attempt: 0 })))}${pause} timers=[${clock}]`;
  };
}

/** An event as the model tells events apart: its type, the call's id, the kind of call sent, the answer. */
export function eventVariant(event: OutboxModelEvent): string {
  const adopt = adoptedBy(event);
  const adopting = adopt.length > 0 ? ` (adopting ${adopt.map((call) => call.id).join(',')})` : '';
  switch (event.type) {
    case 'SEND':
      return `SEND ${event.call.id} ${kindOf(event.call)}${adopting}`;
    case 'DIRECT_SEND':
      return `SEND ${event.call.id} ${kindOf(event.call)} (direct)`;
    case 'CALL_RESULT':
      return `CALL_RESULT ${event.id} ${event.status}${event.retryAfter === undefined ? '' : ' Retry-After'}${adopting}`;
    case 'DIRECT_RESULT':
      return `CALL_RESULT ${event.id} ${event.status}${event.retryAfter === undefined ? '' : ' Retry-After'} (direct)`;
    case 'CALL_FAILED':
      return `CALL_FAILED ${event.id}${adopting}`;
    case 'DIRECT_FAILED':
      return `CALL_FAILED ${event.id} (direct)`;
    case 'REQUEUE':
      return `${event.type} ${event.id}`;
    default:
      return delayOf(event) === undefined ? event.type : `after ${delayOf(event)}`;
  }
}

/** The event without its call ids: what kind of thing happened (and how many direct calls it hands over). */
export function eventKind(event: OutboxModelEvent): string {
  const adopt = adoptedBy(event).length;
  return eventVariant(event)
    .replace(/^(\S+) \d+/, '$1')
    .replace(/ \(adopting [\d,]+\)$/, adopt > 0 ? ` (adopting ${adopt})` : '');
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
    const direct = logic.shadow(before).direct;
    const out = direct.some((c) => c.ordered) ? 'a direct write out' : direct.length > 0 ? `${direct.length} direct reads out` : 'no direct call out';
    // The direct path takes no transition of the machine: its steps count by kind, with what was out directly.
    if (isDirect(step.event)) return [`direct path: ${eventKind(step.event)}, ${out}`];
    return logic.taken(step.state).map((key) => `${key} from ${String(before.value)} on ${eventKind(step.event)}, ${ordered}, ${waiting}, ${out}`);
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
  // planPaths is typed with the machine's events; the model's also include the direct path's (it only passes them through).
  const plan = planPaths(model as unknown as TestModel<OutboxSnapshot, EventFromLogic<typeof outboxMachine>, unknown>, logic, serialize, eventVariant, { goals: goalsOf(logic) });
  return { logic, model, serialize, plan };
}
