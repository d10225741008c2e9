/**
 * Who handles one activity when a bot runs as several replicas (sparkbot/redis), as an XState v5
 * machine: one actor per activity on each replica that received it.
 *
 * Every replica receives every activity. Each asks the shared store to `claim` it: the first gets
 * it (a claim with a lease) and runs the handlers, renewing the lease while they run, then marks
 * the activity `done` for every replica. The others wait: when the store says it is done they skip
 * it; when the holder's lease runs out without a renewal (the holder died) the next claim takes it
 * over. A replica that stops before its handlers ran `release`s its claim, so that another replica
 * takes the activity at once. While the store cannot be reached, the activity waits here and is
 * claimed again, with growing delays, until the store answers: it is never handled without a claim
 * (every replica would answer) and never dropped for that.
 *
 * Pure: the store's steps are the invoked services `claim`, `renew`, `finish` and `release`, which
 * src/redis provides with `machine.provide()`; the host sends HANDLED when the handlers ended,
 * RELEASE when the bot stops, DONE when another replica announced it handled the activity, and
 * NOTICE when another replica gave it back or the store came back (claim again now; a replica that
 * holds the activity renews its claim, or sends its done mark, at once). No I/O, no secrets, no Node imports: paste this file
 * into the Stately editor as it is.
 *
 * States: claiming, waiting (another replica holds it), offline (the store did not answer),
 * running (holding, renewing), finishing, retryingFinish, releasing; final: done (handled here),
 * skipped (handled elsewhere, or before), released (the bot stopped: what this replica may hold
 * was given back, or the store did not answer and the lease runs out), abandoned (the bot stopped
 * while another replica held it, or while the store was away).
 */
import { assign, fromPromise, setup } from 'xstate';

/** What the store answers a claim. */
export type ClaimAnswer =
  /** This replica holds the activity now (for `lease` ms, renewed by `renew`). */
  | { readonly result: 'claimed' }
  /** Some replica handled it already (within the dedup window). */
  | { readonly result: 'done' }
  /** Another replica holds it; its lease runs out in `ttl` ms unless renewed. */
  | { readonly result: 'held'; readonly ttl: number };

export interface ClaimSettings {
  /** ms a claim lasts without renewal: how long a dead holder keeps an activity from the others. */
  readonly lease: number;
  /** ms after a failed store call before the next try; doubles per failure up to `retryMax`. */
  readonly retryDelay: number;
  /** ms, cap of the delay between tries while the store does not answer. */
  readonly retryMax: number;
  /** ms added to a holder's remaining lease before claiming again (so the claim comes after its expiry). */
  readonly margin: number;
}

export const DEFAULT_CLAIM_SETTINGS: ClaimSettings = { lease: 10_000, retryDelay: 250, retryMax: 5_000, margin: 25 };

export interface ClaimInput extends Partial<ClaimSettings> {
  /** The activity's id (what the store keys the claim by). */
  readonly id: string;
}

export interface ClaimContext extends ClaimSettings {
  readonly id: string;
  /** ms left on the holder's lease when this replica last asked. */
  readonly heldFor: number;
  /** Store calls failed in a row. */
  readonly failures: number;
  /** True when a renewal found the claim held by another replica (it took over: the handlers may run twice). */
  readonly lost: boolean;
  /** A NOTICE came while a claim was out: if the answer is `held`, claim again at once (it is stale). */
  readonly noticed: boolean;
  /** RELEASE came while the done mark was out: if it fails, stop trying. */
  readonly stopping: boolean;
}

export type ClaimEvent =
  /** The handlers of the activity ended (on this replica, which holds it). */
  | { readonly type: 'HANDLED' }
  /** The bot stops: give back what is held, stop waiting. */
  | { readonly type: 'RELEASE' }
  /** Another replica gave the activity back, or the store is reachable again: ask now. */
  | { readonly type: 'NOTICE' }
  /** Another replica announced it handled the activity. */
  | { readonly type: 'DONE' };

/** The store's services; src/redis provides them (these throw if not provided). */
const notProvided = <Output>(name: string) =>
  fromPromise<Output, { readonly id: string }>(async () => {
    throw new Error(`the claim machine's '${name}' service was not provided`);
  });

export const claimMachine = setup({
  types: {
    context: {} as ClaimContext,
    events: {} as ClaimEvent,
    input: {} as ClaimInput,
  },
  actors: {
    /** Claims the activity: claimed, done, or held by another replica. */
    claim: notProvided<ClaimAnswer>('claim'),
    /** Extends this replica's lease; false when another replica holds the activity now. */
    renew: notProvided<boolean>('renew'),
    /** Marks the activity handled, for every replica (and tells those waiting). */
    finish: notProvided<void>('finish'),
    /** Gives the activity back, if this replica holds it (and tells those waiting). */
    release: notProvided<void>('release'),
  },
  delays: {
    recheck: ({ context }) => Math.max(0, context.heldFor) + context.margin,
    retry: ({ context }) => Math.min(context.retryMax, context.retryDelay * 2 ** Math.max(0, context.failures - 1)),
    renewEvery: ({ context }) => Math.max(1, Math.floor(context.lease / 3)),
  },
  guards: {
    claimed: ({ event }) => (event as { output?: ClaimAnswer }).output?.result === 'claimed',
    'handled already': ({ event }) => (event as { output?: ClaimAnswer }).output?.result === 'done',
    kept: ({ event }) => (event as { output?: boolean }).output === true,
    'noticed meanwhile': ({ context }) => context.noticed,
    stopping: ({ context }) => context.stopping,
  },
  actions: {
    'note the holder': assign({
      heldFor: ({ event }) => {
        const answer = (event as { output?: ClaimAnswer }).output;
        return answer?.result === 'held' && Number.isFinite(answer.ttl) ? answer.ttl : 0;
      },
      failures: 0,
    }),
    'count a failure': assign({ failures: ({ context }) => context.failures + 1 }),
    'reset failures': assign({ failures: 0 }),
    'note the loss': assign({ lost: true, failures: 0 }),
    'note the notice': assign({ noticed: true }),
    'forget the notice': assign({ noticed: false }),
    'note the stop': assign({ stopping: true }),
  },
}).createMachine({
  id: 'claim',
  context: ({ input }) => ({
    ...DEFAULT_CLAIM_SETTINGS,
    ...(Object.fromEntries(Object.entries(input).filter(([key, value]) => key !== 'id' && value !== undefined)) as Partial<ClaimSettings>),
    id: input.id,
    heldFor: 0,
    failures: 0,
    lost: false,
    noticed: false,
    stopping: false,
  }),
  initial: 'claiming',
  states: {
    claiming: {
      entry: 'forget the notice',
      invoke: {
        id: 'claim',
        src: 'claim',
        input: ({ context }) => ({ id: context.id }),
        onDone: [
          { guard: 'claimed', target: 'running', actions: 'reset failures' },
          { guard: 'handled already', target: 'skipped' },
          // The holder let go while this claim was out: its answer is stale.
          { guard: 'noticed meanwhile', target: 'claiming', reenter: true },
          { target: 'waiting', actions: 'note the holder' },
        ],
        onError: { target: 'offline', actions: 'count a failure' },
      },
      on: {
        NOTICE: { actions: 'note the notice' },
        DONE: 'skipped',
        // The claim may have been taken already: give it back if so.
        RELEASE: 'releasing',
      },
    },
    waiting: {
      after: { recheck: 'claiming' },
      on: { NOTICE: 'claiming', DONE: 'skipped', RELEASE: 'abandoned' },
    },
    offline: {
      after: { retry: 'claiming' },
      on: { NOTICE: 'claiming', DONE: 'skipped', RELEASE: 'abandoned' },
    },
    running: {
      initial: 'holding',
      states: {
        holding: {
          after: { renewEvery: 'renewing' },
          // The store is back after an outage: say at once that the claim is this replica's.
          on: { NOTICE: 'renewing' },
        },
        renewing: {
          invoke: {
            id: 'renew',
            src: 'renew',
            input: ({ context }) => ({ id: context.id }),
            onDone: [
              { guard: 'kept', target: 'holding', actions: 'reset failures' },
              { target: 'holding', actions: 'note the loss' },
            ],
            // Tried again at the next renewal; the lease runs out if the store stays away that long.
            onError: { target: 'holding', actions: 'count a failure' },
          },
        },
      },
      on: { HANDLED: 'finishing', RELEASE: 'releasing' },
    },
    finishing: {
      invoke: {
        id: 'finish',
        src: 'finish',
        input: ({ context }) => ({ id: context.id }),
        onDone: 'done',
        onError: [
          { guard: 'stopping', target: 'abandoned' },
          { target: 'retryingFinish', actions: 'count a failure' },
        ],
      },
      on: { RELEASE: { actions: 'note the stop' } },
    },
    retryingFinish: {
      after: { retry: 'finishing' },
      // The store is back: the done mark goes now, before other replicas could take the activity again.
      // Stopping: one last try is all there is; the lease runs out and another replica may run it again.
      on: { NOTICE: 'finishing', RELEASE: 'abandoned' },
    },
    releasing: {
      invoke: {
        id: 'release',
        src: 'release',
        input: ({ context }) => ({ id: context.id }),
        onDone: 'released',
        onError: 'released',
      },
    },
    done: { type: 'final' },
    skipped: { type: 'final' },
    released: { type: 'final' },
    abandoned: { type: 'final' },
  },
});

export type ClaimMachine = typeof claimMachine;
