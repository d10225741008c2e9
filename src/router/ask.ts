/**
 * Questions waiting for their answer (`ctx.ask`). A question waits for the next message of one
 * person in one room (and thread). That message is claimed as soon as its activity arrives —
 * before it is fetched, and so before it would queue behind the handler that asked (which waits
 * for it: the room's events are delivered one after the other).
 */
import type { Clock } from '../clock.js';
import { SparkBotError } from '../errors.js';
import type { Activity, ReceivedMessage } from '../events/types.js';
import { uuidOf } from '../protocol/ids.js';

interface Waiting {
  readonly resolve: (message: ReceivedMessage) => void;
  readonly reject: (error: SparkBotError) => void;
  readonly keys: Set<string>;
  timer: unknown;
  /** Replicas: ends the claim on this person's messages in this room (see Asks.share). */
  release: (() => void) | undefined;
}

/** Default of `ask(…, { timeout })`. */
export const DEFAULT_ASK_TIMEOUT = 60_000;

export class Asks {
  /** By `room|person|thread` (uuids; thread '' for the top level). */
  private readonly waiting = new Map<string, Waiting>();
  /** Claimed by an activity, waiting for its message to be fetched: by activity id. */
  private readonly claimed = new Map<string, Waiting>();

  /**
   * Replicas: says, for every replica, that this one waits for an answer of `person` (uuid) in
   * `room` (uuid), so that their next message there is claimed here; returns the end of it.
   */
  share: ((room: string, person: string) => { readonly ready: Promise<void>; end(): void }) | undefined;

  constructor(private readonly clock: Clock) {}

  /**
   * A question of `personId` in `roomId` (in thread `threadId`, if any). Resolves with the answer;
   * `whereAsked` then adds the question's own thread once the question is posted.
   */
  wait(
    where: { roomId: string; personId: string; threadId?: string | undefined },
    timeout: number,
  ): { answer: Promise<ReceivedMessage>; ready: Promise<void>; alsoIn(threadId: string): void; cancel(error: SparkBotError): void } {
    if (!Number.isFinite(timeout) || timeout <= 0) throw new SparkBotError('INVALID_OPTION', `ask(content, { timeout }) must be a number of milliseconds above 0, got ${String(timeout)}`);
    const base = `${uuidOf(where.roomId)}|${uuidOf(where.personId)}|`;
    let entry!: Waiting;
    const answer = new Promise<ReceivedMessage>((resolve, reject) => {
      entry = { resolve, reject, keys: new Set(), timer: undefined, release: undefined };
    });
    const shared = this.share?.(uuidOf(where.roomId), uuidOf(where.personId));
    entry.release = shared?.end;
    // The asker awaits it once its question is posted; a timeout may come first.
    answer.catch(() => undefined);
    const add = (key: string) => {
      const previous = this.waiting.get(key);
      // A newer question to the same person in the same place takes the answer; the older one is told.
      if (previous && previous !== entry) this.settle(previous, new SparkBotError('CANCELLED', 'a newer question to the same person in the same place replaced this one'));
      entry.keys.add(key);
      this.waiting.set(key, entry);
    };
    add(base + (where.threadId === undefined ? '' : uuidOf(where.threadId)));
    entry.timer = this.clock.setTimeout(() => this.settle(entry, new SparkBotError('TIMEOUT', `no answer within ${timeout} ms`)), timeout);
    return {
      answer,
      ready: shared?.ready ?? Promise.resolve(),
      alsoIn: (threadId) => {
        if (entry.keys.size > 0) add(base + uuidOf(threadId));
      },
      cancel: (error) => this.settle(entry, error),
    };
  }

  /** True when `activity` (a message) answers a question: it is then this one's to deliver. */
  claim(activity: Activity): boolean {
    if (this.waiting.size === 0 || (activity.verb !== 'post' && activity.verb !== 'share')) return false;
    const room = activity.target?.id;
    if (room === undefined) return false;
    const person = activity.actor.entryUUID ?? activity.actor.id;
    const entry = this.waiting.get(`${room}|${person}|${activity.parent?.id ?? ''}`);
    if (entry === undefined) return false;
    // Its timer goes on: an answer that cannot be delivered (dropped, never fetched) still ends the wait.
    for (const key of entry.keys) if (this.waiting.get(key) === entry) this.waiting.delete(key);
    entry.keys.clear();
    this.claimed.set(activity.id, entry);
    return true;
  }

  /** The message of a claimed activity, fetched: the answer. */
  answer(activityId: string, message: ReceivedMessage): void {
    this.take(activityId)?.resolve(message);
  }

  /** A claimed activity whose message could not be fetched (or was dropped): the question fails with why. */
  fail(activityId: string, error: SparkBotError): void {
    this.take(activityId)?.reject(error);
  }

  /** The question a claimed activity answers, done waiting (its timer cleared). */
  private take(activityId: string): Waiting | undefined {
    const entry = this.claimed.get(activityId);
    this.claimed.delete(activityId);
    if (entry !== undefined) this.forget(entry);
    return entry;
  }

  /** Every question fails with `error` (the bot stops). */
  cancelAll(error: SparkBotError): void {
    for (const entry of new Set([...this.waiting.values(), ...this.claimed.values()])) this.settle(entry, error);
    this.claimed.clear();
  }

  private settle(entry: Waiting, error: SparkBotError): void {
    this.forget(entry);
    for (const [id, claimed] of this.claimed) if (claimed === entry) this.claimed.delete(id);
    entry.reject(error);
  }

  private forget(entry: Waiting): void {
    this.clock.clearTimeout(entry.timer);
    entry.release?.();
    entry.release = undefined;
    for (const key of entry.keys) if (this.waiting.get(key) === entry) this.waiting.delete(key);
    entry.keys.clear();
  }
}
