/**
 * The REST outbox of a sparkbot bot, as an XState v5 machine: it decides when every Webex REST call
 * goes out and how it ends (the direct path below spares it the calls that need no decision).
 *
 * Calls are dispatched in the order they were sent, at most `concurrency` at a time; calls that
 * change something (`ordered`: POST, PUT, DELETE) go one after the other, so that they take effect
 * in the order they were made, while reads may pass them. A 429 pauses
 * the whole outbox for Retry-After (else `retryTimeout`; capped by `retryAfterMax`) and puts the
 * call back at its place in the queue; after `retryCount` retries it is settled as rate limited
 * (the caller gets a RateLimitError), never dropped. A read that allows it (`retries`, e.g. a
 * message fetched right after it was posted) is tried again after `retryDelay` when it is answered
 * 404 or 5xx or gets no answer at all, up to its own budget; the calls behind it go on meanwhile.
 *
 * Pure: the machine emits `dispatch` and `settle`; src/rest/outbox.ts does the HTTP and answers with
 * CALL_RESULT / CALL_FAILED. No I/O, no secrets, no Node imports.
 *
 * The direct path. While the machine is `idle` (nothing queued, in flight or parked), a call the
 * machine would dispatch at once ({@link sendsDirect}: fewer than `concurrency` out, and no other
 * write out when it is a write) is sent by src/rest/outbox.ts itself, without an event, and settled
 * by it when its answer is one the machine would simply settle ({@link needsMachine} false). Such
 * calls enter the machine only when it is needed: the first event that makes the machine leave
 * `idle` — a SEND it must queue or order, or the answer of a direct call that the machine must wait
 * out (429) or try again (404, 5xx, no answer) — carries every direct call still out in `adopt`,
 * and the machine takes them over as in flight (no `dispatch`: they are out already). From then on
 * the machine decides everything, exactly as if those calls had been sent through it; once it is
 * `idle` again, the direct path resumes. So a call that meets no rate limit and no retry costs no
 * machine step, and the semantics are the machine's.
 */
import { assign, enqueueActions, raise, setup } from 'xstate';

export interface OutboxCall {
  readonly id: number;
  /** For people and inspectors: method and path, e.g. "GET messages/Y2lz…". Never a secret. */
  readonly label: string;
  /** Tries left when the answer is 404 or 5xx, or there is none (the REST client gives them to reads only; 0 for most calls). */
  readonly retries: number;
  /** True for calls that change something: they are sent one at a time, in order. */
  readonly ordered: boolean;
}

interface QueuedCall extends OutboxCall {
  /** 429 answers so far. */
  readonly attempt: number;
}

export interface OutboxSettings {
  /** Calls in flight at most. */
  readonly concurrency: number;
  /** Retries of a call answered 429. */
  readonly retryCount: number;
  /** ms to wait after a 429 without a usable Retry-After. */
  readonly retryTimeout: number;
  /** ms, cap of Retry-After. */
  readonly retryAfterMax: number;
  /** ms before a call answered 404 or 5xx, or not at all, is tried again (when it has `retries`). */
  readonly retryDelay: number;
}

export type OutboxInput = Partial<OutboxSettings>;

export interface OutboxContext extends OutboxSettings {
  /** Waiting to be dispatched, in the order they were sent. */
  readonly queue: readonly QueuedCall[];
  readonly inFlight: readonly QueuedCall[];
  /** Answered 404 or 5xx, or not at all, waiting `retryDelay` to go back into the queue. */
  readonly parked: readonly QueuedCall[];
  /** The pause chosen for the current rate limit. */
  readonly retryAfter: number;
  /** 429 answers seen (for health). */
  readonly rateLimits: number;
}

export type OutboxEvent =
  /** `adopt`: the calls the Outbox sent directly (see the direct path) and that are still out; the machine takes them over first. */
  | { readonly type: 'SEND'; readonly call: OutboxCall; readonly adopt?: readonly OutboxCall[] }
  /**
   * The call got an HTTP answer. `retryAfter` in ms, from the Retry-After header when usable.
   * `adopt`: the answer of a direct call that needs the machine; the direct calls still out, this one included.
   */
  | { readonly type: 'CALL_RESULT'; readonly id: number; readonly status: number; readonly retryAfter?: number; readonly adopt?: readonly OutboxCall[] }
  /** The call got no answer at all (DNS, refused, timeout); `aborted` when its caller aborted it (never tried again). `adopt` as for CALL_RESULT. */
  | { readonly type: 'CALL_FAILED'; readonly id: number; readonly aborted?: boolean; readonly adopt?: readonly OutboxCall[] }
  /** Raised after retryDelay for a parked call. */
  | { readonly type: 'REQUEUE'; readonly id: number }
  /** Settle every waiting call as cancelled (the bot is shutting down). */
  | { readonly type: 'CANCEL_ALL' };

/** How a call ended, as the machine tells the Outbox. */
export type CallOutcome = 'answered' | 'rateLimited' | 'failed' | 'cancelled';

export type OutboxEmitted =
  /** Start the HTTP exchange of call `id` now. */
  | { readonly type: 'dispatch'; readonly id: number; readonly attempt: number }
  /**
   * Call `id` is finished: 'answered' (resolve or reject with its last answer), 'rateLimited' (429
   * after every retry), 'failed' (no answer), 'cancelled' (CANCEL_ALL).
   */
  | { readonly type: 'settle'; readonly id: number; readonly outcome: CallOutcome };

export const DEFAULT_OUTBOX_SETTINGS: OutboxSettings = {
  concurrency: 8,
  retryCount: 1,
  retryTimeout: 10_000,
  retryAfterMax: 3_600_000,
  retryDelay: 1_000,
};

function byId(a: QueuedCall, b: QueuedCall): number {
  return a.id - b.id;
}

/** A 429 the machine waits out (the whole outbox pauses, the call goes back to its place) rather than settles: the call has 429 retries left. */
export function pausesOn(call: { readonly attempt: number }, status: number | undefined, retryCount: number): boolean {
  return status === 429 && call.attempt < retryCount;
}

/** An answer (`status`), or no answer (undefined; not when its caller aborted it), on which the call is tried again after `retryDelay`. */
export function retriesOn(call: { readonly retries: number }, status: number | undefined, aborted: boolean): boolean {
  if (call.retries <= 0) return false;
  if (status === undefined) return !aborted;
  return status === 404 || status >= 500;
}

/** How a call that is not tried again ends: with its answer, rate limited (a 429 after every retry), or failed (no answer). */
export function outcomeOf(status: number | undefined): Exclude<CallOutcome, 'cancelled'> {
  return status === undefined ? 'failed' : status === 429 ? 'rateLimited' : 'answered';
}

/**
 * The direct path: may a call be sent at once without the machine? Only while the machine is `idle`
 * (nothing queued, in flight or parked), with fewer than `concurrency` direct calls out, and, for a
 * write, no direct write out: exactly when the machine would dispatch it at once.
 */
export function sendsDirect(machineIdle: boolean, direct: { readonly calls: number; readonly writes: number }, ordered: boolean, concurrency: number): boolean {
  return machineIdle && direct.calls < concurrency && (!ordered || direct.writes === 0);
}

/** The answer of a direct call (still at attempt 0) needs the machine: a 429 it waits out, or a retry. Otherwise the call is settled with {@link outcomeOf}. */
export function needsMachine(call: { readonly retries: number }, status: number | undefined, aborted: boolean, retryCount: number): boolean {
  return pausesOn({ attempt: 0 }, status, retryCount) || retriesOn(call, status, aborted);
}

/**
 * The first queued call that may go now: a read, or the first ordered call when no ordered call is
 * in flight or parked (a write waiting for its 404 retry still holds its place).
 */
function nextCall(context: OutboxContext): QueuedCall | undefined {
  if (context.inFlight.length >= context.concurrency) return undefined;
  const orderedBusy = context.inFlight.some((call) => call.ordered) || context.parked.some((call) => call.ordered);
  let orderedSeen = false;
  for (const call of context.queue) {
    if (!call.ordered) return call;
    if (!orderedBusy && !orderedSeen) return call;
    orderedSeen = true;
  }
  return undefined;
}

/** The call of event `id` among those in flight. */
function inFlightCall(context: OutboxContext, event: OutboxEvent): QueuedCall | undefined {
  return 'id' in event ? context.inFlight.find((call) => call.id === event.id) : undefined;
}

export const outboxMachine = setup({
  types: {
    context: {} as OutboxContext,
    events: {} as OutboxEvent,
    input: {} as OutboxInput,
    emitted: {} as OutboxEmitted,
  },
  delays: {
    retryAfter: ({ context }) => context.retryAfter,
    retryDelay: ({ context }) => context.retryDelay,
  },
  guards: {
    'can dispatch': ({ context }) => nextCall(context) !== undefined,
    'nothing left': ({ context }) => context.queue.length === 0 && context.inFlight.length === 0 && context.parked.length === 0,
    'is rate limited with retries left': ({ context, event }) => {
      const call = inFlightCall(context, event);
      return event.type === 'CALL_RESULT' && call !== undefined && pausesOn(call, event.status, context.retryCount);
    },
    'is retryable with retries left': ({ context, event }) => {
      const call = inFlightCall(context, event);
      if (call === undefined) return false;
      if (event.type === 'CALL_FAILED') return retriesOn(call, undefined, event.aborted === true);
      return event.type === 'CALL_RESULT' && retriesOn(call, event.status, false);
    },
    'is in flight': ({ context, event }) => inFlightCall(context, event) !== undefined,
    'is a direct call': ({ event }) => (event.type === 'CALL_RESULT' || event.type === 'CALL_FAILED') && event.adopt !== undefined && event.adopt.some((call) => call.id === event.id),
  },
  actions: {
    /** The direct calls still out become calls in flight (they were dispatched by the Outbox already). */
    adopt: assign({
      inFlight: ({ context, event }) =>
        'adopt' in event && event.adopt !== undefined && event.adopt.length > 0 ? [...context.inFlight, ...event.adopt.map((call) => ({ ...call, attempt: 0 }))] : context.inFlight,
    }),
    /** The answer of a direct call, now that the machine holds it: handled as any call's (in `sending`). */
    'handle the answer': raise(({ event }) => {
      const { adopt: _adopted, ...answer } = event as Extract<OutboxEvent, { type: 'CALL_RESULT' | 'CALL_FAILED' }>;
      return answer;
    }),
    enqueue: assign({
      queue: ({ context, event }) => (event.type === 'SEND' ? [...context.queue, { ...event.call, attempt: 0 }].sort(byId) : context.queue),
    }),
    'dispatch next': enqueueActions(({ context, enqueue }) => {
      const next = nextCall(context);
      if (!next) return;
      enqueue.assign({ queue: context.queue.filter((call) => call !== next), inFlight: [...context.inFlight, next] });
      enqueue.emit({ type: 'dispatch', id: next.id, attempt: next.attempt });
    }),
    /** Back into the queue at its place (the queue is ordered by id, i.e. by sending order). */
    'requeue for rate limit': assign(({ context, event }) => {
      const call = inFlightCall(context, event);
      if (!call) return {};
      return {
        inFlight: context.inFlight.filter((c) => c.id !== call.id),
        queue: [...context.queue, { ...call, attempt: call.attempt + 1 }].sort(byId),
        rateLimits: context.rateLimits + 1,
      };
    }),
    'choose retry after': assign({
      retryAfter: ({ context, event }) => {
        const given = event.type === 'CALL_RESULT' ? event.retryAfter : undefined;
        const wait = given === undefined || !Number.isFinite(given) || given < 0 ? context.retryTimeout : given;
        return Math.min(wait, context.retryAfterMax);
      },
    }),
    'park for retry': enqueueActions(({ context, event, enqueue }) => {
      const call = inFlightCall(context, event);
      if (!call) return;
      enqueue.assign({
        inFlight: context.inFlight.filter((c) => c.id !== call.id),
        parked: [...context.parked, { ...call, retries: call.retries - 1 }],
      });
      enqueue.raise({ type: 'REQUEUE', id: call.id }, { delay: 'retryDelay', id: `requeue-${call.id}` });
    }),
    requeue: assign(({ context, event }) => {
      const call = 'id' in event ? context.parked.find((c) => c.id === event.id) : undefined;
      if (!call) return {};
      return { parked: context.parked.filter((c) => c.id !== call.id), queue: [...context.queue, call].sort(byId) };
    }),
    'settle answered': enqueueActions(({ context, event, enqueue }) => {
      const call = inFlightCall(context, event);
      if (!call) return;
      enqueue.assign({ inFlight: context.inFlight.filter((c) => c.id !== call.id) });
      const outcome = outcomeOf(event.type === 'CALL_RESULT' ? event.status : undefined);
      enqueue.emit({ type: 'settle', id: call.id, outcome });
    }),
    'cancel waiting calls': enqueueActions(({ context, enqueue }) => {
      for (const call of context.parked) enqueue.cancel(`requeue-${call.id}`);
      for (const call of [...context.queue, ...context.parked]) enqueue.emit({ type: 'settle', id: call.id, outcome: 'cancelled' });
      enqueue.assign({ queue: [], parked: [] });
    }),
  },
}).createMachine({
  id: 'outbox',
  context: ({ input }) => ({
    ...DEFAULT_OUTBOX_SETTINGS,
    ...(Object.fromEntries(Object.entries(input ?? {}).filter(([, v]) => v !== undefined)) as OutboxInput),
    queue: [],
    inFlight: [],
    parked: [],
    retryAfter: 0,
    rateLimits: 0,
  }),
  initial: 'idle',
  on: {
    SEND: { actions: ['adopt', 'enqueue'] },
    REQUEUE: { actions: 'requeue' },
    CANCEL_ALL: { actions: 'cancel waiting calls' },
  },
  states: {
    idle: {
      on: {
        SEND: { target: 'sending', actions: ['adopt', 'enqueue'] },
        // A direct call needs the machine (a 429 to wait out, a retry): the direct calls become in flight, then its answer is handled in `sending`.
        CALL_RESULT: { guard: 'is a direct call', target: 'sending', actions: ['adopt', 'handle the answer'] },
        CALL_FAILED: { guard: 'is a direct call', target: 'sending', actions: ['adopt', 'handle the answer'] },
      },
    },
    sending: {
      always: [
        { guard: 'can dispatch', actions: 'dispatch next' },
        { guard: 'nothing left', target: 'idle' },
      ],
      on: {
        CALL_RESULT: [
          { guard: 'is rate limited with retries left', target: 'rateLimited', actions: ['requeue for rate limit', 'choose retry after'] },
          { guard: 'is retryable with retries left', actions: 'park for retry' },
          { guard: 'is in flight', actions: 'settle answered' },
        ],
        CALL_FAILED: [
          { guard: 'is retryable with retries left', actions: 'park for retry' },
          { guard: 'is in flight', actions: 'settle answered' },
        ],
      },
    },
    rateLimited: {
      // Everything was cancelled: there is nothing to wait for.
      always: { guard: 'nothing left', target: 'idle' },
      after: {
        retryAfter: { target: 'sending' },
      },
      on: {
        CALL_RESULT: [
          // Another call in flight hit the limit too: back in the queue, and the pause starts again with its Retry-After.
          { guard: 'is rate limited with retries left', target: 'rateLimited', reenter: true, actions: ['requeue for rate limit', 'choose retry after'] },
          { guard: 'is retryable with retries left', actions: 'park for retry' },
          { guard: 'is in flight', actions: 'settle answered' },
        ],
        CALL_FAILED: [
          { guard: 'is retryable with retries left', actions: 'park for retry' },
          { guard: 'is in flight', actions: 'settle answered' },
        ],
      },
    },
  },
});

export type OutboxMachine = typeof outboxMachine;
