/**
 * From Mercury envelopes to the bot's events.
 *
 * Every `conversation.activity` is checked against the recently handled ids (so a redelivered or
 * repeated activity is never handled twice), enriched over REST according to its verb
 * (webex-protocol.md §4.2), and delivered. Enrichment runs concurrently (`concurrency`), yet each
 * room's events are delivered in the order they arrived, one after the other, each delivery
 * awaiting its handlers. The bot's own activities (by person id) and, unless allowed, other bots'
 * are not delivered. Nothing here ever throws at the caller: failures are reported.
 */
import { SparkBotError, type ErrorContext } from '../errors.js';
import type { Log } from '../log.js';
import { buildHydraId, uuidOf } from '../protocol/ids.js';
import type { Result } from '../options.js';
import type { ReadOptions, WebexApi } from '../rest/client.js';
import type { AttachmentAction, Membership, Message, Person, Room } from '../rest/types.js';
import type { RecentIds } from './dedup.js';
import type { Claim } from '../coordination.js';
import { type Activity, type ActivityData, isActivity, type JoinedEvent, type LeftEvent, type MembershipEvent, type MessageDeletedEvent, type RoomEvent } from './types.js';

/** An activity taken in: its delivery once fetched, and the stop signal it was taken in under. */
interface Job {
  readonly activity: Activity;
  readonly delivery: Promise<Delivery | undefined>;
  readonly halt: AbortSignal;
}

/** A typed event to emit. */
export type BotEvent =
  | { readonly name: 'message'; readonly payload: Message }
  | { readonly name: 'cardAction'; readonly payload: AttachmentAction }
  | { readonly name: 'membership'; readonly payload: MembershipEvent }
  | { readonly name: 'room'; readonly payload: RoomEvent }
  | { readonly name: 'messageDeleted'; readonly payload: MessageDeletedEvent }
  /** The bot came into a room (the bot adds `say`). */
  | { readonly name: 'joined'; readonly payload: Omit<JoinedEvent, 'say'> }
  | { readonly name: 'left'; readonly payload: LeftEvent };

/** Everything the bot does with one activity, in order: 'activity', the typed events, onMessage. */
export interface Delivery {
  readonly envelope: unknown;
  readonly eventType: string;
  readonly activity: Activity;
  /** The verb for onMessage: a share whose file became safe is reported as 'share'. */
  readonly verb: string;
  /** The envelope for onMessage (for a file that became safe: its share's). */
  readonly json: unknown;
  /** onMessage's result; undefined when onMessage is not called (own or filtered activities, files still being scanned). */
  readonly result: Result<ActivityData> | undefined;
  readonly events: readonly BotEvent[];
  readonly context: ErrorContext;
  /** True when the activity answers a question (`claim`): its message goes to the question, not to the routes. */
  readonly answer?: boolean;
  /** With replicas (`coordinate`): this replica's claim of the activity, done once its handlers ended. */
  readonly claimed?: Claim;
}

export interface DispatcherDeps {
  readonly api: WebexApi;
  /** The bot's own person (GET /people/me), memoised by the caller. */
  readonly me: () => Promise<Person>;
  readonly clusterOf: (activity: Activity) => Promise<string>;
  readonly seen: RecentIds;
  /**
   * True when something waits for this activity (a question's answer): it then skips its room's
   * queue — the handler that waits for it holds that queue.
   */
  readonly claim?: (activity: Activity) => boolean;
  /**
   * With replicas: whether this replica handles the activity (a Claim) or another does (undefined).
   * Asked before the activity is fetched; it may wait long (another replica holds it, Redis is
   * away), outside the enrichment slots. `halt` aborts it (the bot stops).
   */
  readonly coordinate?: (activity: Activity, halt: AbortSignal) => Promise<Claim | undefined>;
  /** Enrichments (REST calls) under way at most. */
  readonly concurrency: number;
  /** Deliver activities of other bots too. */
  readonly allowBotToBot: boolean;
  /**
   * Tries again of an enrichment fetch answered 404 or 5xx, or not answered (the activity is acked
   * already: a fetch given up on loses the event).
   */
  readonly retries: number;
  /** Emits the delivery; resolves once its handlers are done. Must not reject. */
  readonly deliver: (delivery: Delivery) => Promise<void>;
  readonly reportError: (error: SparkBotError) => void;
  readonly reportWarning: (warning: SparkBotError) => void;
  readonly log: Log;
}

/** Verbs about messages: the bot's own (and other bots') are not delivered. */
const MESSAGE_VERBS = new Set(['post', 'share', 'delete', 'acknowledge', 'cardAction']);
const PENDING_SHARES_MAX = 200;
/** Rooms remembered as joined (so that 'joined' fires once a room), the oldest forgotten first. */
const JOINED_ROOMS_MAX = 10_000;

export class Dispatcher {
  /** Per room, the activities taken in, in order: each one's delivery (once fetched), and the stop signal it was taken in under. */
  private readonly rooms = new Map<string, Job[]>();
  private readonly pendingShares = new Map<string, unknown>();
  /** The rooms the bot came into (uuids), since it started. */
  private readonly joinedRooms = new Set<string>();
  private readonly idleWaiters: Array<{ readonly except: ReadonlySet<Delivery>; readonly resolve: () => void }> = [];
  /** The delivery each room's queue is running the handlers of, if any. */
  private readonly current = new Map<string, Delivery>();
  /** Deliveries whose handlers wait for something that comes later (a question's answer): their room went on without them. */
  private readonly detached = new Set<Delivery>();
  /** How to let a room go on while its current handlers wait (see release). */
  private readonly releasers = new Map<Delivery, () => void>();
  private running = 0;
  private waiting: Array<() => void> = [];
  /** Aborted by cancel(): the enrichment reads under way stop, and their activities are dropped. */
  private halt = new AbortController();

  constructor(private readonly deps: DispatcherDeps) {}

  /** Takes an envelope in; its delivery waits for the earlier ones of the same room. */
  handle(envelope: unknown): void {
    const data = (envelope as { data?: { eventType?: unknown; activity?: unknown } } | undefined)?.data;
    const eventType = typeof data?.eventType === 'string' ? data.eventType : undefined;
    if (eventType !== 'conversation.activity') {
      this.deps.log('ignoring event type %s', eventType ?? '(none)');
      return;
    }
    const activity = data?.activity;
    if (!isActivity(activity)) {
      this.deps.reportWarning(new SparkBotError('INVALID_FRAME', 'ignored a conversation.activity without id, verb or actor'));
      return;
    }
    if (!this.deps.seen.add(activity.id)) {
      this.deps.log('skipping %s %s: already handled', activity.verb, activity.id);
      return;
    }
    const halt = this.halt.signal;
    // A share whose file is still scanned is delivered later (once safe): it answers nothing now.
    const answer = (activity.verb !== 'share' || fileSafety(activity.object) === 'safe') && this.deps.claim?.(activity) === true;
    const fetched = async (): Promise<Delivery | undefined> => {
      if (halt.aborted) return undefined;
      const delivery = await this.enrich(envelope, eventType, activity, halt);
      return delivery && answer ? { ...delivery, answer } : delivery;
    };
    const coordinate = this.deps.coordinate;
    const job = { activity, delivery: coordinate === undefined ? this.limited(fetched) : this.claimed(coordinate, activity, halt, fetched), halt };
    // An answer has a queue of its own: its room's queue waits for the handler that asked.
    const key = `${answer ? 'answer ' : ''}${activity.target?.id ?? ''}`;
    const queue = this.rooms.get(key);
    if (queue) queue.push(job);
    else {
      const fresh = [job];
      this.rooms.set(key, fresh);
      void this.drain(key, fresh);
    }
  }

  /**
   * Resolves once every activity taken in so far has been delivered — but for the rooms whose
   * handlers run `except` deliveries (handlers that wait for the caller: a stop() called from a
   * handler), and what queues behind them.
   */
  idle(except: ReadonlySet<Delivery> = new Set()): Promise<void> {
    const { handlers, undelivered } = this.pending(except);
    if (handlers + undelivered === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push({ except, resolve }));
  }

  /**
   * What is under way, but for the rooms of `except` (see idle): deliveries whose handlers run,
   * and activities still being fetched or waiting for their room.
   */
  pending(except: ReadonlySet<Delivery> = new Set()): { readonly handlers: number; readonly undelivered: number } {
    let handlers = [...this.detached].filter((delivery) => !except.has(delivery)).length;
    let undelivered = 0;
    for (const [key, queue] of this.rooms) {
      const running = this.current.get(key);
      if (running !== undefined && except.has(running)) continue;
      if (running !== undefined) handlers += 1;
      undelivered += queue.length - (running !== undefined ? 1 : 0);
    }
    return { handlers, undelivered };
  }

  /**
   * Stops the enrichment under way (its REST reads are aborted, a list stops between pages) and
   * drops those activities; handlers already running go on. Activities taken in later are handled.
   */
  cancel(): void {
    const halt = this.halt;
    this.halt = new AbortController();
    halt.abort(new SparkBotError('CANCELLED', 'the bot stopped before this event could be fetched'));
  }

  /** Never rejects: whatever goes wrong with one delivery is reported, and the room goes on. */
  private async drain(key: string, queue: Job[]): Promise<void> {
    for (let job = queue[0]; job !== undefined; job = queue[0]) {
      const delivery = await job.delivery;
      // The bot stopped first (cancel()): nothing is delivered after stop() gave up; what a handler would have had is reported
      // (with replicas, it is given back: another replica handles it).
      if (job.halt.aborted) {
        // With replicas, no delivery means another replica has it (or this one gave it back): nothing is lost here.
        if (delivery?.claimed !== undefined) delivery.claimed.release();
        else if (this.deps.coordinate === undefined || delivery !== undefined) this.dropped(delivery, job.activity);
      } else if (delivery?.claimed?.lost === true) {
        // Replicas: another replica took it over before its handlers started here: they run there.
        this.deps.log('not delivering %s %s: another replica took it over', delivery.verb, delivery.activity.id);
        delivery.claimed.release();
      } else if (delivery) {
        this.current.set(key, delivery);
        const handled = this.deps.deliver(delivery).then(
          () => 'handled' as const,
          (error: unknown) => {
            this.deps.reportError(asError(error, 'HANDLER_ERROR', `delivering ${delivery.verb} ${delivery.activity.id} failed`, delivery.context));
            return 'handled' as const;
          },
        );
        if (delivery.claimed !== undefined) void handled.then(() => delivery.claimed?.done());
        const released = new Promise<'released'>((resolve) => this.releasers.set(delivery, () => resolve('released')));
        const outcome = await Promise.race([handled, released]);
        this.releasers.delete(delivery);
        this.current.delete(key);
        if (outcome === 'released') {
          this.detached.add(delivery);
          void handled.then(() => {
            this.detached.delete(delivery);
            this.recheckIdle();
          });
        }
      }
      queue.shift();
      this.recheckIdle();
    }
    this.rooms.delete(key);
  }

  /** An activity dropped because the bot stopped: reported, unless it was nothing for the handlers (the bot's own, say). */
  private dropped(delivery: Delivery | undefined, activity: Activity): void {
    if (delivery !== undefined && delivery.events.length === 0 && delivery.result === undefined) return;
    const roomId = delivery?.context.roomId;
    this.deps.reportError(
      new SparkBotError('CANCELLED', `stop(): ${activity.verb} ${activity.id} was received but not delivered: the bot stopped before ${delivery === undefined ? 'it was fetched' : 'its turn came'} (Webex does not send it again)`, {
        context: { activityId: activity.id, verb: activity.verb, ...(roomId === undefined ? {} : { roomId }) },
      }),
    );
  }

  /**
   * Lets the room of `delivery` go on while its handlers wait for something that comes later — a
   * question's answer (`ctx.ask`), which may come after other events of that room. The handlers
   * run on; idle() and stop() still wait for them.
   */
  release(delivery: Delivery): void {
    this.releasers.get(delivery)?.();
  }

  /** Resolves the idle() waits that hold now (call it when their `except` grew). */
  recheckIdle(): void {
    for (const waiter of [...this.idleWaiters]) {
      const { handlers, undelivered } = this.pending(waiter.except);
      if (handlers + undelivered > 0) continue;
      this.idleWaiters.splice(this.idleWaiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }

  /**
   * With replicas: fetched only when this replica claims the activity. A claim with nothing to
   * deliver (the bot's own activity, a fetch that failed and was reported) is done at once; one the
   * bot stopped before fetching is given back, for another replica to take.
   */
  private async claimed(
    coordinate: NonNullable<DispatcherDeps['coordinate']>,
    activity: Activity,
    halt: AbortSignal,
    fetched: () => Promise<Delivery | undefined>,
  ): Promise<Delivery | undefined> {
    const claim = await coordinate(activity, halt).catch((error: unknown) => {
      this.deps.reportError(asError(error, 'COORDINATION_ERROR', `could not claim ${activity.verb} ${activity.id}`));
      return undefined;
    });
    if (claim === undefined) return undefined;
    const delivery = await this.limited(fetched);
    if (halt.aborted) {
      claim.release();
      return undefined;
    }
    if (delivery === undefined) {
      claim.done();
      return undefined;
    }
    return { ...delivery, claimed: claim };
  }

  /** Runs `task` when fewer than `concurrency` are running; never rejects. */
  private async limited(task: () => Promise<Delivery | undefined>): Promise<Delivery | undefined> {
    if (this.running >= this.deps.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running += 1;
    try {
      return await task();
    } catch (error) {
      this.deps.reportError(asError(error, 'API_ERROR'));
      return undefined;
    } finally {
      this.running -= 1;
      this.waiting.shift()?.();
    }
  }

  private async enrich(envelope: unknown, eventType: string, activity: Activity, halt: AbortSignal): Promise<Delivery | undefined> {
    const { verb, actor, object, target } = activity;
    // Enrichment reads are tried again on 404, 5xx or no answer (the event exists, so must what it names), and stop with the bot.
    const read = { retries: this.deps.retries, signal: halt };
    const cluster = await this.deps.clusterOf(activity);
    const id = (type: Parameters<typeof buildHydraId>[0], uuid: string) => buildHydraId(type, uuid, cluster);
    const roomUuid = target?.id;
    const roomId = roomUuid === undefined ? undefined : id('ROOM', roomUuid);
    const actorUuid = actor.entryUUID ?? actor.id;
    const actorId = buildHydraId('PEOPLE', actorUuid);
    const context: ErrorContext = { activityId: activity.id, verb, ...(roomId === undefined ? {} : { roomId }) };
    const base = { envelope, eventType, activity, verb, json: envelope, context };
    const skip = (why: string): Delivery => {
      this.deps.log('not delivering %s %s: %s', verb, activity.id, why);
      return { ...base, result: undefined, events: [] };
    };
    const deliver = (data: ActivityData, events: BotEvent[], overrides: Partial<Delivery> = {}): Delivery => ({ ...base, result: { ok: true, data }, events, ...overrides });
    const isContent = verb === 'update' && object?.objectType === 'content';

    if (MESSAGE_VERBS.has(verb) || isContent) {
      const me = await this.deps.me().catch((error: unknown) => {
        throw asError(error, 'API_ERROR', `skipped ${verb} ${activity.id}: could not load /people/me to tell the bot's own activities apart`, context);
      });
      if (actorUuid === uuidOf(me.id)) return skip("the bot's own activity");
      if (!this.deps.allowBotToBot && isBot(actor)) return skip('from another bot (allowBotToBot is false)');
    }

    try {
      switch (verb) {
        case 'post': {
          const message = await this.getMessage(read, id('MESSAGE', activity.id));
          return deliver(message, [{ name: 'message', payload: message }]);
        }
        case 'share': {
          const safety = fileSafety(object);
          if (safety === 'pending') {
            this.rememberShare(activity.id, envelope);
            return skip('its files are still being scanned');
          }
          if (safety === 'unsafe') return this.unsafeFile(activity, context, skip);
          if (!this.deps.seen.add(`share:${activity.id}`)) return skip('already delivered');
          const message = await this.getMessage(read, id('MESSAGE', activity.id));
          return deliver(message, [{ name: 'message', payload: message }]);
        }
        case 'update': {
          if (isContent) {
            const contentId = object?.id;
            if (typeof contentId !== 'string') return this.unsupported(base, eventType, verb);
            const safety = fileSafety(object);
            if (safety === 'pending') return skip('its files are still being scanned');
            const share = this.pendingShares.get(contentId);
            this.pendingShares.delete(contentId);
            if (safety === 'unsafe') return this.unsafeFile(activity, context, skip);
            if (!this.deps.seen.add(`share:${contentId}`)) return skip('the shared file was delivered already');
            const message = await this.getMessage(read, id('MESSAGE', contentId));
            return deliver(message, [{ name: 'message', payload: message }], { verb: 'share', json: share ?? envelope });
          }
          return this.roomUpdated(read, activity, object?.id ?? roomUuid, id, actorId, deliver, base, eventType);
        }
        case 'lock':
        case 'unlock':
          return this.roomUpdated(read, activity, roomUuid ?? object?.id, id, actorId, deliver, base, eventType);
        case 'add': {
          const email = object?.emailAddress;
          if (object?.objectType !== 'person' || roomId === undefined || typeof email !== 'string') return this.unsupported(base, eventType, verb);
          const memberships = await this.deps.api.memberships.list({ roomId, personEmail: email }, read).all();
          const events: BotEvent[] = memberships.map((membership) => ({ name: 'membership', payload: { action: 'created', membership, actorId } }));
          if (roomUuid !== undefined && (await this.isMe(object)) && this.joins(roomUuid)) {
            events.push({ name: 'joined', payload: { room: await this.deps.api.rooms.get(roomId, read), actorId, how: 'added' } });
          }
          return deliver(memberships, events);
        }
        case 'create': {
          const uuid = object?.id ?? roomUuid;
          if (uuid === undefined) return this.unsupported(base, eventType, verb);
          const room = await this.deps.api.rooms.get(id('ROOM', uuid), read);
          const memberships = await this.deps.api.memberships.list({ roomId: room.id }, read).all();
          const events: BotEvent[] = [{ name: 'room', payload: { action: 'created', room, actorId } }];
          if (this.joins(uuid)) events.push({ name: 'joined', payload: { room, actorId, how: 'created' } });
          return deliver(memberships, events);
        }
        case 'leave': {
          const ref = this.membershipRef(object, roomUuid, id);
          if (!ref) return this.unsupported(base, eventType, verb);
          const events: BotEvent[] = [{ name: 'membership', payload: { action: 'deleted', membership: ref, actorId } }];
          if (roomUuid !== undefined && (await this.isMe(object))) {
            this.joinedRooms.delete(roomUuid);
            events.push({ name: 'left', payload: { roomId: ref.roomId, actorId } });
          }
          return deliver(ref, events);
        }
        case 'assignModerator':
        case 'unassignModerator':
        case 'hide': {
          const ref = this.membershipRef(object, roomUuid, id);
          if (!ref) return this.unsupported(base, eventType, verb);
          const membership: Membership = await this.deps.api.memberships.get(ref.id, read);
          return deliver(membership, [{ name: 'membership', payload: { action: 'updated', membership, actorId } }]);
        }
        case 'acknowledge': {
          if (roomUuid === undefined || roomId === undefined || typeof object?.id !== 'string') return this.unsupported(base, eventType, verb);
          const ref = { id: id('MEMBERSHIP', `${actorUuid}:${roomUuid}`), roomId, personId: actorId, lastSeenId: id('MESSAGE', object.id) };
          return deliver(ref, [{ name: 'membership', payload: { action: 'seen', membership: ref, actorId } }]);
        }
        case 'delete': {
          if (roomId === undefined || typeof object?.id !== 'string') return this.unsupported(base, eventType, verb);
          const deleted: MessageDeletedEvent = { id: id('MESSAGE', object.id), roomId, actorId };
          return deliver(deleted, [{ name: 'messageDeleted', payload: deleted }]);
        }
        case 'cardAction': {
          const action = await this.deps.api.attachmentActions.get(id('ATTACHMENT_ACTION', activity.id), read);
          return deliver(action, [{ name: 'cardAction', payload: action }]);
        }
        default:
          return this.unsupported(base, eventType, verb);
      }
    } catch (error) {
      if (halt.aborted) {
        this.deps.log('dropped %s %s: %s', verb, activity.id, (halt.reason as Error).message);
        return undefined;
      }
      const failure = asError(error, 'API_ERROR', `could not enrich ${verb} ${activity.id}`, context);
      this.deps.reportError(failure);
      return { ...base, result: { ok: false, error: failure.message }, events: [] };
    }
  }

  /** True when the person of an add or leave is the bot itself. */
  private async isMe(object: Activity['object']): Promise<boolean> {
    const me = await this.deps.me().catch(() => undefined);
    if (me === undefined || object === undefined) return false;
    const uuid = typeof object.entryUUID === 'string' ? object.entryUUID : object.id;
    const email = typeof object.emailAddress === 'string' ? object.emailAddress.toLowerCase() : undefined;
    return uuid === uuidOf(me.id) || (email !== undefined && (me.emails ?? []).some((e) => e.toLowerCase() === email));
  }

  /**
   * True the first time the bot comes into room `uuid` (since it last left it): 'joined' fires once
   * a room, whether Webex says so with a create, an add, or both.
   */
  private joins(uuid: string): boolean {
    if (this.joinedRooms.has(uuid)) return false;
    this.joinedRooms.add(uuid);
    if (this.joinedRooms.size > JOINED_ROOMS_MAX) {
      const oldest = this.joinedRooms.values().next().value;
      if (oldest !== undefined) this.joinedRooms.delete(oldest);
    }
    return true;
  }

  private getMessage(read: ReadOptions, messageId: string): Promise<Message> {
    return this.deps.api.messages.get(messageId, read);
  }

  private async roomUpdated(
    read: ReadOptions,
    activity: Activity,
    uuid: string | undefined,
    id: (type: 'ROOM', uuid: string) => string,
    actorId: string,
    deliver: (data: ActivityData, events: BotEvent[]) => Delivery,
    base: Omit<Delivery, 'result' | 'events'>,
    eventType: string,
  ): Promise<Delivery> {
    if (uuid === undefined) return this.unsupported(base, eventType, activity.verb);
    const room: Room = await this.deps.api.rooms.get(id('ROOM', uuid), read);
    return deliver(room, [{ name: 'room', payload: { action: 'updated', room, actorId } }]);
  }

  private membershipRef(
    object: Activity['object'],
    roomUuid: string | undefined,
    id: (type: 'MEMBERSHIP' | 'ROOM', uuid: string) => string,
  ): { id: string; roomId: string; personId: string; personEmail?: string } | undefined {
    const personUuid = typeof object?.entryUUID === 'string' ? object.entryUUID : object?.id;
    if (object?.objectType !== 'person' || typeof personUuid !== 'string' || roomUuid === undefined) return undefined;
    const email = object.emailAddress;
    return {
      id: id('MEMBERSHIP', `${personUuid}:${roomUuid}`),
      roomId: id('ROOM', roomUuid),
      personId: buildHydraId('PEOPLE', personUuid),
      ...(typeof email === 'string' ? { personEmail: email } : {}),
    };
  }

  private unsupported(base: Omit<Delivery, 'result' | 'events'>, eventType: string, verb: string): Delivery {
    return { ...base, result: { ok: false, error: `Unsupported EventType: [${eventType}] and Verb: [${verb}]` }, events: [] };
  }

  private unsafeFile(activity: Activity, context: ErrorContext, skip: (why: string) => Delivery): Delivery {
    this.deps.reportWarning(new SparkBotError('UNSAFE_FILE', `a file shared with ${activity.verb} ${activity.id} failed Webex's malware scan; it is not delivered`, { context }));
    return skip('its file is not safe');
  }

  private rememberShare(shareId: string, envelope: unknown): void {
    this.pendingShares.set(shareId, envelope);
    if (this.pendingShares.size > PENDING_SHARES_MAX) {
      const oldest = this.pendingShares.keys().next().value;
      if (oldest !== undefined) this.pendingShares.delete(oldest);
    }
  }
}

/** safe: nothing to wait for; pending: a scan is running; unsafe: a file failed the scan. */
function fileSafety(object: Activity['object']): 'safe' | 'pending' | 'unsafe' {
  const items = (object?.files as { items?: unknown } | undefined)?.items;
  if (!Array.isArray(items)) return 'safe';
  let pending = false;
  for (const item of items) {
    const state = (item as { malwareQuarantineState?: unknown } | null)?.malwareQuarantineState;
    if (state === undefined || state === '' || state === 'safe') continue;
    if (state === 'unchecked' || state === 'pending' || state === 'scanning') pending = true;
    else return 'unsafe';
  }
  return pending ? 'pending' : 'safe';
}

/** Webex marks bots as another actor type (webex_bot ignores non-PERSON actors); bot emails end in @webex.bot. */
function isBot(actor: Activity['actor']): boolean {
  if (typeof actor.type === 'string' && actor.type !== 'PERSON') return true;
  return typeof actor.emailAddress === 'string' && actor.emailAddress.toLowerCase().endsWith('@webex.bot');
}

/** `error` as a SparkBotError: its own code when it has one (RATE_LIMITED, API_ERROR…), else `code`. */
function asError(error: unknown, code: SparkBotError['code'], message?: string, context?: ErrorContext): SparkBotError {
  if (error instanceof SparkBotError && message === undefined) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new SparkBotError(error instanceof SparkBotError ? error.code : code, message ? `${message}: ${detail}` : detail, { cause: error, ...(context ? { context } : {}) });
}
