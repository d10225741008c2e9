/**
 * SparkBot: the facade over the connection machine. It turns options into the machine's input and
 * actors, starts and stops the actor, and turns the machine's snapshots (and the envelopes its socket service delivers) into
 * typed events. It holds no protocol logic of its own.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import { createActor, fromCallback, fromPromise, type Actor, type SnapshotFrom, type StateValue } from 'xstate';
import { type Clock, realClock } from './clock.js';
import { createDeadline, type Deadline } from './deadline.js';
import { connectionMachine, type ConnectionStateName, type DeviceInput, type DeviceOutput, type DeviceRef, type Failure, type SocketCommand, type SocketEvent, type SocketInput } from '../machines/connection.js';
import { ServiceCatalog } from './actors/catalog.js';
import { createDeviceService } from './actors/device.js';
import { createSocketService, type SocketService } from './actors/socket.js';
import { createStore, type Store } from './actors/store.js';
import { hostAllowed, WdmLocator } from './actors/wdm.js';
import { SparkBotError, type ErrorContext, type SparkBotErrorCode } from './errors.js';
import { ClusterResolver } from './events/cluster.js';
import { DEFAULT_DEDUP_WINDOW, RecentIds } from './events/dedup.js';
import { type Delivery, Dispatcher } from './events/dispatcher.js';
import type { Activity, JoinedEvent, LeftEvent, MembershipEvent, MessageDeletedEvent, ReceivedCardAction, ReceivedMessage, RoomEvent } from './events/types.js';
import { Http } from './http.js';
import { createLog, type Log, type Logger, Redactor, UnheardProblems } from './log.js';
import { resolveOptions, type SparkBotOptions } from './options.js';
import { proxyFromEnvironment } from './proxy.js';
import { WebexApi } from './rest/client.js';
import { Outbox } from './rest/outbox.js';
import type { Message, Person } from './rest/types.js';
import type { MessageContent, Target } from './router/content.js';
import type { ActionHandler, CommandHandler, Middleware } from './router/context.js';
import { Handling } from './router/handling.js';
import type { RouteOptions } from './router/router.js';
import { createStorage, memoryStorage, type BotStorage } from './router/storage.js';
import type { Claim, Coordination } from './coordination.js';
import { uuidOf } from './protocol/ids.js';

export interface SparkBotEvents {
  /** The machine moved to another state (leaf names, as `bot.state`). */
  state: [state: ConnectionStateName, previous: ConnectionStateName];
  /** Someone else posted a message, or shared a file that passed the malware scan: the REST message, with `reply()`. */
  message: [message: ReceivedMessage, activity: Activity];
  /** Someone submitted an Adaptive Card of the bot: the REST attachment action, with `reply()`. */
  cardAction: [action: ReceivedCardAction, activity: Activity];
  /** Someone joined, left, became or stopped being a moderator, or read messages. */
  membership: [event: MembershipEvent, activity: Activity];
  /** The bot is in a new room, or a room was renamed, locked or unlocked. */
  room: [event: RoomEvent, activity: Activity];
  /** The bot came into a room, however it happened (added by someone, or in a room created with it); once a room. `event.say()` posts there. */
  joined: [event: JoinedEvent, activity: Activity];
  /** The bot was removed from a room (or left it). */
  left: [event: LeftEvent, activity: Activity];
  /** Someone else deleted a message. */
  messageDeleted: [event: MessageDeletedEvent, activity: Activity];
  /** Every conversation.activity, raw, once (the bot's own included), before its typed event. */
  activity: [activity: Activity, envelope: unknown];
  /** Something failed: a REST call, a handler, the connection (before `failed`). The bot goes on. */
  error: [error: SparkBotError];
  /** Something was odd but nothing was lost: a corrupt last-connection file moved aside, an unusable frame. */
  warning: [warning: SparkBotError];
  /**
   * This process became the bot's leader (`isLeader` true), or is no longer (false): the one replica
   * that does what must happen once per bot (scheduled messages). Without `coordination` a bot is
   * the leader from start() to stop().
   */
  leader: [event: { readonly isLeader: boolean }];
}

/** ms between a newly handled activity and the write of the ids to the last-connection file. */
const SEEN_WRITE_DELAY = 200;
/** ms between two writes of the handled ids at least (the window holds up to 50 000 of them). */
const SEEN_WRITE_INTERVAL = 1_000;

const FAILURE_CODES: Record<string, SparkBotErrorCode> = {
  unauthorized: 'UNAUTHORIZED',
  forbidden: 'FORBIDDEN',
  'bad-request': 'BAD_REQUEST',
  replaced: 'REPLACED',
  closed: 'CLOSED',
};

/** What the connection machine's actors and effects need of one bot: they find it through the bot's actor system. */
interface BotServices {
  readonly device: ReturnType<typeof createDeviceService>;
  readonly socket: SocketService;
  persistDevice(device: DeviceRef): void;
}

const botServices = new WeakMap<object, BotServices>();

function servicesOf(system: object): BotServices {
  const services = botServices.get(system);
  if (services === undefined) throw new Error('this actor system belongs to no SparkBot');
  return services;
}

/**
 * The connection machine with sparkbot's actors, one for the process: every bot runs it, and its
 * actors take the bot's dependencies (token, HTTP client, store, log) from the bot's actor system,
 * never from context, input or events (an inspector publishes those).
 */
const botMachine = connectionMachine.provide({
  actors: {
    device: fromPromise<DeviceOutput, DeviceInput>((args) => servicesOf(args.system).device(args)),
    socket: fromCallback<SocketCommand, SocketInput, SocketEvent>((args) => servicesOf(args.system).socket(args)),
  },
  actions: {
    'persist device': ({ system }, params: { device: DeviceRef; registered: boolean }) => servicesOf(system).persistDevice(params.device),
  },
});

type ConnectionActor = Actor<typeof botMachine>;

/** A socket until it has closed: stop() waits for it, and cuts it at its deadline. */
interface ClosingSocket {
  readonly closed: Promise<void>;
  terminate(): void;
}

/** A stop() under way: its promise, and its deadline (which a later stop() may bring forward). */
interface Shutdown {
  readonly promise: Promise<void>;
  readonly deadline: Deadline;
}

interface StartWaiter {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: SparkBotError): void;
}

/** What a bot gives an inspector that has `attach` (see the `inspect` option). */
export interface InspectedBot {
  /** A name for people: the bot's display name once known (and its replica's). */
  name(): string;
  health(): BotHealth;
  /** `text` with the bot's secrets replaced (for what the inspector shows). */
  redact(text: string): string;
}

/** A snapshot of the connection for monitoring; see `bot.health()`. Never contains the token. */
export interface BotHealth {
  readonly state: ConnectionStateName;
  /** When the bot entered `state` (ms since the epoch). */
  readonly since: number;
  /** True in `open` and `awaitingPong`. */
  readonly connected: boolean;
  /** Times the bot lost its link and went back to reconnecting. */
  readonly reconnects: number;
  /** Connection attempts since the link was last stable (drives the backoff delay). */
  readonly attempt: number;
  /** When the last pong arrived (ms since the epoch), if ever. */
  readonly lastPongAt: number | null;
  readonly lastClose: { readonly code: number; readonly reason: string } | null;
  readonly lastError: string | null;
  /** The WDM device URL in use (it names the device, not the bot's credentials). */
  readonly deviceUrl: string | null;
  /** The id of that device (the last part of its URL). */
  readonly deviceId: string | null;
  /** 429 answers the REST outbox waited out so far. */
  readonly rateLimits: number;
  /** Replicas: REST calls wait until then (ms since the epoch) for a 429 another replica met; null when they do not. */
  readonly heldUntil: number | null;
  /** This replica's name with `coordination`; null without. */
  readonly replica: string | null;
  /** True while this process is the bot's leader (see `bot.isLeader`). */
  readonly isLeader: boolean;
}

export class SparkBot extends EventEmitter<SparkBotEvents> {
  /** The Webex REST client: `await bot.api.messages.create({ roomId, text })`. */
  readonly api: WebexApi;
  /** State kept by the bot, by room and person (`bot.storage.room(id)`, `.person(id)`); see the `storage` option. */
  readonly storage: BotStorage;

  private actor: ConnectionActor;
  private readonly createConnection: () => ConnectionActor;
  private readonly store: Store;
  /** Which WDM the device lives on (saved with it). */
  private readonly wdm: WdmLocator;
  /** Webex's service catalog (WDM discovery, clusters); a request of it under way ends with stop(). */
  private readonly catalog: ServiceCatalog | undefined;
  private readonly dispatcher: Dispatcher;
  private readonly handling: Handling;
  /** The delivery whose handlers run (in their async context): a stop() called from one does not wait for it. */
  private readonly inHandler = new AsyncLocalStorage<Delivery>();
  /** Deliveries whose handlers called stop() and wait for it: the stop does not wait for them (nor for their room). */
  private readonly stoppingHandlers = new Set<Delivery>();
  private readonly seen: RecentIds;
  private readonly outbox: Outbox;
  private seenLoaded: Promise<void> | undefined;
  private stopping: Shutdown | undefined;
  private readonly clock: Clock;
  private readonly stopTimeout: number;
  private seenTimer: NodeJS.Timeout | undefined;
  private seenWrittenAt = 0;
  private readonly redactor = new Redactor();
  private readonly log: Log;
  /** The `logger` option, for state changes. */
  private readonly logger: Logger | undefined;
  /** Where the errors and warnings nobody listens to go: the logger, or process warnings; rate-limited. */
  private readonly unheard: UnheardProblems;
  private readonly closing = new Set<ClosingSocket>();
  /** Registrations stop() interrupted, still under way (see the device actor's `abandoned`). */
  private readonly abandoned = new Set<{ readonly settled: Promise<void>; readonly cancel: () => void }>();
  /** A device such a registration brought after stop() began: saved, and deleted by stop({ unregister }). */
  private adopted: DeviceRef | undefined;
  /** The stop() under way deletes the device (it, or a later stop() during it, asked for `unregister`). */
  private unregisterAfterStop = false;
  private lastState: ConnectionStateName = 'idle';
  private stateSince = Date.now();
  private lastPongAt: number | null = null;
  private startWaiter: StartWaiter | undefined;
  /** True when the last call was stop(): what the bot was asked to be is stopped. */
  private stopRequested = false;
  private storeWriteFailing = false;
  private me: Promise<Person> | undefined;
  /** Replicas: the coordination (sparkbot/redis), started with the bot once it knows who it is. */
  private readonly coordination: Coordination | undefined;
  private coordinationStarted: Promise<void> | undefined;
  /** Aborted when stop() begins: activities not claimed by then are left to the other replicas. */
  private claimsHalt = new AbortController();
  private leading = false;
  private person: Person | undefined;

  constructor(options: SparkBotOptions<SparkBot>) {
    super();
    const opts = resolveOptions(options);
    this.redactor.add(opts.token);
    this.coordination = opts.coordination;
    const coordination = opts.coordination;
    this.log = createLog('bot', this.redactor, opts.logger);
    this.logger = opts.logger;
    this.unheard = new UnheardProblems(opts.logger);
    const clock = opts.clock ?? realClock;
    this.clock = clock;
    this.stopTimeout = opts.stopTimeout;
    const u2cOrigin = opts.u2cUrl === false ? [] : [new URL(opts.u2cUrl).origin];
    // HTTPS_PROXY, HTTP_PROXY and NO_PROXY, read now; `dispatcher` and `agent` replace what they give.
    const envProxy = opts.proxy && !(opts.dispatcher && opts.agent) ? proxyFromEnvironment() : undefined;
    if (envProxy) this.log('proxies from the environment: %s', envProxy.summary);
    const httpDispatcher = opts.dispatcher ?? envProxy?.dispatcher;
    const socketAgent = opts.agent ?? envProxy?.agent;
    // The WDM found through the service catalog (or the last-connection file) is added once checked.
    const wdmOrigin = opts.discoverWdm ? [] : [new URL(opts.wdmUrl).origin];
    const http = new Http({
      token: opts.token,
      allowedOrigins: new Set([...wdmOrigin, new URL(opts.apiUrl).origin, ...u2cOrigin]),
      redactor: this.redactor,
      log: createLog('http', this.redactor, opts.logger),
      timeout: opts.requestTimeout,
      maxResponseSize: opts.maxResponseSize,
      ...(httpDispatcher ? { dispatcher: httpDispatcher } : {}),
    });
    this.outbox = new Outbox({
      http,
      settings: {
        concurrency: opts.concurrency,
        retryCount: opts.retryCount,
        retryTimeout: opts.settings.retryTimeout,
        retryAfterMax: opts.settings.retryAfterMax,
      },
      clock,
      log: createLog('rest', this.redactor, opts.logger),
      ...(opts.inspect ? { inspect: opts.inspect } : {}),
      ...(opts.coordination ? { onRateLimit: (ms: number) => opts.coordination?.rateLimited(ms) } : {}),
      onInternalError: (error) => this.reportError(new SparkBotError('CANCELLED', `the REST outbox stopped on an internal error: ${(error as Error)?.message ?? String(error)}`, { cause: error })),
    });
    this.api = new WebexApi({ http, outbox: this.outbox, apiUrl: opts.apiUrl, clock });
    this.storage = createStorage(opts.storage ?? memoryStorage());
    this.handling = new Handling({
      api: this.api,
      storage: this.storage,
      clock,
      me: () => this.person,
      detach: () => {
        const delivery = this.inHandler.getStore();
        if (delivery !== undefined) this.dispatcher.release(delivery);
      },
      stopping: () => this.stopRequested || this.stopping !== undefined,
    });
    // Replicas: the answer to a question of this replica is claimed by this replica.
    if (coordination !== undefined) this.handling.asks.share = (room, person) => coordination.asking(room, person);
    this.store = createStore(opts.lastConn, {
      log: createLog('store', this.redactor, opts.logger),
      warn: (message, cause) => this.reportWarning(new SparkBotError('STORE_ERROR', message, { cause })),
    });
    this.seen = new RecentIds(DEFAULT_DEDUP_WINDOW, () => this.scheduleSeenWrite());
    // One catalog request serves the WDM discovery and the cluster lookup (src/actors/catalog.ts).
    const catalog = (this.catalog = opts.u2cUrl === false ? undefined : new ServiceCatalog({ http, u2cUrl: opts.u2cUrl, log: createLog('device', this.redactor, opts.logger) }));
    const clusters = new ClusterResolver({
      fetchCatalog: catalog === undefined ? undefined : async () => (await catalog.load()).hostCatalog,
      log: createLog('events', this.redactor, opts.logger),
      retryAfter: 60_000,
    });
    // The socket hosts grow with the WDM in use (unless socketHosts was set), and with it only.
    const socketHosts = [...opts.socketHosts];
    this.wdm = new WdmLocator({
      fixed: opts.discoverWdm ? undefined : opts.wdmUrl,
      catalog: opts.discoverWdm ? catalog : undefined,
      u2cUrl: opts.u2cUrl,
      allowInsecure: opts.allowInsecure,
      redactor: this.redactor,
      trust: (url) => {
        http.allowOrigin(url.origin);
        if (!opts.socketHostsGiven && !hostAllowed(url.hostname, socketHosts)) socketHosts.push(url.hostname);
      },
      warn: (message) => this.reportWarning(new SparkBotError('CATALOG_ERROR', message)),
      log: createLog('device', this.redactor, opts.logger),
    });
    const onMessage = opts.onMessage;
    this.dispatcher = new Dispatcher({
      api: this.api,
      me: () => this.loadMe(),
      clusterOf: (activity) => clusters.clusterOf(activity),
      seen: this.seen,
      claim: (activity) => this.handling.asks.claim(activity),
      ...(opts.coordination ? { coordinate: (activity: Activity, halt: AbortSignal) => this.coordinate(activity, halt) } : {}),
      concurrency: opts.concurrency,
      allowBotToBot: opts.allowBotToBot,
      retries: 3,
      deliver: (delivery) => this.deliverActivity(delivery, onMessage),
      reportError: (error) => this.reportError(error),
      reportWarning: (warning) => this.reportWarning(warning),
      log: createLog('events', this.redactor, opts.logger),
    });

    const services: BotServices = {
      device: createDeviceService({
        http,
        wdm: this.wdm,
        deviceDesc: opts.deviceDesc,
        store: this.store,
        log: createLog('device', this.redactor, opts.logger),
        redactor: this.redactor,
        allowInsecure: opts.allowInsecure,
        socketHosts,
        warn: (message) => this.reportWarning(new SparkBotError('STORE_ERROR', message)),
        abandoned: (registration, handle) => this.keepAbandoned(registration, handle),
      }),
      socket: createSocketService({
        token: opts.token,
        deliver: (envelope) => this.dispatcher.handle(envelope),
        log: createLog('socket', this.redactor, opts.logger),
        redactor: this.redactor,
        clock,
        closeTimeout: opts.closeTimeout,
        maxPayload: opts.maxPayload,
        warn: (message) => this.reportWarning(new SparkBotError('INVALID_FRAME', message)),
        ...(socketAgent ? { agent: socketAgent } : {}),
        onPong: () => {
          this.lastPongAt = Date.now();
        },
        track: (socket) => {
          this.closing.add(socket);
          void socket.closed.then(() => this.closing.delete(socket));
        },
        previousClosed: () => (this.closing.size === 0 ? undefined : Promise.all([...this.closing].map((socket) => socket.closed)).then(() => undefined)),
      }),
      persistDevice: (device) => this.watchStoreWrite(this.store.saveDevice(device, this.wdm.current), 'the device'),
    };

    this.createConnection = () => {
      const actor = createActor(botMachine, {
        input: opts.settings,
        clock,
        ...(opts.inspect ? { inspect: opts.inspect } : {}),
      });
      botServices.set(actor.system, services);
      actor.subscribe({
        next: (snapshot) => this.onSnapshot(snapshot),
        error: (error) => this.onActorError(actor, error),
      });
      return actor.start();
    };
    this.actor = this.createConnection();
    // An inspector that wants more than the machines' events (sparkbot/inspect's localInspector): the bot's health, and the redaction of its secrets.
    const inspector = opts.inspect as { attach?: (bot: InspectedBot) => void } | undefined;
    if (typeof inspector?.attach === 'function') {
      inspector.attach({
        name: () => [this.person?.displayName ?? 'sparkbot', opts.coordination?.replica].filter(Boolean).join(' · '),
        health: () => this.health(),
        redact: (text) => this.redactor.redact(text),
      });
    }
  }

  /**
   * What `console.log(bot)`, `util.inspect(bot)` and `JSON.stringify(bot)` show: the state, the
   * device and the bot's identity — never the token (it lives in private fields and closures only).
   */
  toJSON(): { state: ConnectionStateName; deviceId: string | null; reconnects: number; user: { id: string; displayName: string } | null } {
    const { deviceId, reconnects } = this.health();
    return { state: this.state, deviceId, reconnects, user: this.person ? { id: this.person.id, displayName: this.person.displayName } : null };
  }

  [inspect.custom](_depth: number, options: Parameters<typeof inspect>[1]): string {
    return `SparkBot ${inspect(this.toJSON(), options)}`;
  }

  /** The machine's current state: idle, fetchingUrl, connecting, open, awaitingPong, backoff, rateLimited or failed. */
  get state(): ConnectionStateName {
    return this.lastState;
  }

  /** The connection at a glance, e.g. for an HTTP /health endpoint. */
  health(): BotHealth {
    const { context } = this.actor.getSnapshot();
    return {
      state: this.lastState,
      since: this.stateSince,
      connected: this.lastState === 'open' || this.lastState === 'awaitingPong',
      reconnects: context.reconnects,
      attempt: context.attempt,
      lastPongAt: this.lastPongAt,
      lastClose: context.lastClose,
      lastError: context.lastError === null ? null : this.redactor.redact(context.lastError),
      deviceUrl: context.device?.url ?? null,
      deviceId: context.device ? (context.device.url.split('/').filter(Boolean).pop() ?? null) : null,
      rateLimits: this.outbox.rateLimits,
      heldUntil: this.outbox.heldUntil,
      replica: this.coordination?.replica ?? null,
      isLeader: this.leading,
    };
  }

  /**
   * True while this process is the bot's leader: with `coordination`, one replica at a time (the
   * lease moves when its holder dies or stops); without, the bot from start() to stop(). See 'leader'.
   */
  get isLeader(): boolean {
    return this.leading;
  }

  /** The bot's own person (GET /people/me), known once start() has resolved. */
  get currentUser(): Person | undefined {
    return this.person;
  }

  /**
   * Connects. Resolves when the socket is first open (and /people/me is known); rejects with a
   * SparkBotError when the machine ends in `failed` (e.g. code 'UNAUTHORIZED'), when stop() is
   * called first ('STOPPED'), or when the link is lost with `reconnect: false` ('DISCONNECTED').
   * Called while a stop() is under way, it starts once that stop() has finished.
   */
  start(): Promise<void> {
    if (!this.stopping && (this.lastState === 'open' || this.lastState === 'awaitingPong')) return Promise.resolve();
    this.stopRequested = false;
    if (this.startWaiter) return this.startWaiter.promise;
    let resolve!: () => void;
    let reject!: (error: SparkBotError) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const waiter: StartWaiter = { promise, resolve, reject };
    this.startWaiter = waiter;
    const begin = () => {
      if (this.startWaiter !== waiter || this.stopRequested) return;
      // Fetched alongside the connection; a failure is reported once the socket is open.
      this.loadMe().catch(() => undefined);
      this.claimsHalt = new AbortController();
      if (this.coordination === undefined) this.setLeader(true);
      else this.startCoordination().catch((error: unknown) => this.reportError(asSparkBotError(error)));
      // The ids handled before a restart are known before the first envelope can arrive.
      this.seenLoaded ??= this.store.loadSeen().then((entries) => this.seen.load(entries));
      void this.seenLoaded.then(() => {
        if (this.startWaiter === waiter && !this.stopRequested && (this.lastState === 'idle' || this.lastState === 'failed')) this.actor.send({ type: 'START' });
      });
    };
    // One thing at a time: a start() during a stop() waits for that stop() to finish.
    if (this.stopping) void this.stopping.promise.then(begin);
    else begin();
    return promise;
  }

  /**
   * Posts a message: `target` is a room id, or `{ roomId }`, `{ toPersonId }`, `{ toPersonEmail }`;
   * `content` is text, or `{ text, markdown, files, card, fallbackText, parentId }`.
   */
  async say(target: Target, content: MessageContent): Promise<Message> {
    return this.handling.say(target, content);
  }

  /**
   * Handles "/name …" (or "name …"), case-insensitively; `ctx.args` are the arguments after it,
   * split as a shell would (`/remind "stand up" 9:30` → `['stand up', '9:30']`), `ctx.rest` the
   * text as typed. Routes are exclusive: the first that matches a message handles it.
   */
  command(name: string, handler: CommandHandler, options: RouteOptions = {}): this {
    this.handling.router.command(name, handler, options);
    return this;
  }

  /**
   * Handles messages whose text matches `pattern`: a string matches the first words,
   * case-insensitively; a RegExp is tested on the text (`g` and `y` flags are refused). In group
   * rooms the bot's mention is stripped first. `/help` lists the routes that have `help` text.
   */
  hears(pattern: string | RegExp, handler: CommandHandler, options: RouteOptions = {}): this {
    this.handling.router.hears(pattern, handler, options);
    return this;
  }

  /** Handles the messages no route matched (and that are not `/help`). */
  otherwise(handler: CommandHandler): this {
    this.handling.router.otherwise(handler);
    return this;
  }

  /**
   * Handles Adaptive Card submits whose data carries `{ action: id }` (the `data` of the card's
   * `Action.Submit`); `Inputs` types `ctx.inputs`. Submits no action takes go to 'cardAction'.
   */
  action<Inputs extends object = Record<string, unknown>>(id: string, handler: ActionHandler<Inputs>): this {
    this.handling.router.action(id, handler);
    return this;
  }

  /** Middleware, run before routing for messages and card submits: `bot.use(async (ctx, next) => { …; await next(); })`. */
  use(middleware: Middleware): this {
    this.handling.router.use(middleware);
    return this;
  }

  /**
   * Shuts down gracefully and resolves in state `idle`:
   * 1. the machine stops: no new events; the socket closes with 1000 (cut after `closeTimeout` if
   *    the server never answers); every timer is cancelled; a device registration already sent
   *    is let finish and its device saved, so that the next start reuses it;
   * 2. handlers under way, and events already received, finish; events still being fetched then
   *    are dropped and reported, handlers still running are reported (both on 'error');
   * 3. queued REST calls go out; those still waiting then reject with a CANCELLED SparkBotError;
   * 4. with `unregister: true` the device is deleted from WDM and forgotten by the last-connection
   *    file (the next start registers a new one);
   * 5. the last-connection file is written.
   * All of it within `timeout` ms (`stopTimeout`, default 10000): whatever is left then is cut,
   * and the promise resolves — from any interleaving of start() and stop() calls. Calling it
   * again while it runs returns the same promise (a shorter `timeout` brings the deadline
   * forward, and a start() made meanwhile is cancelled: it rejects with STOPPED); calling it when
   * stopped resolves at once. Called from a handler (in its async context: what the handler awaits,
   * and the timers and promises it starts), it does not wait for that handler — which waits for
   * it — and the events queued behind that handler in its room are dropped, each reported.
   */
  stop(options: { unregister?: boolean; timeout?: number } = {}): Promise<void> {
    const timeout = options.timeout ?? this.stopTimeout;
    if (!Number.isFinite(timeout) || timeout < 0) return Promise.reject(new SparkBotError('INVALID_OPTION', `stop({ timeout }) must be zero or more milliseconds, got ${String(timeout)}`));
    this.stopRequested = true;
    this.settleStart(new SparkBotError('STOPPED', 'stop() was called before the bot connected'));
    // A handler that awaits stop() cannot finish before it: the stop does not wait for it.
    const caller = this.inHandler.getStore();
    if (caller !== undefined) {
      this.stoppingHandlers.add(caller);
      this.dispatcher.recheckIdle();
    }
    if (this.stopping) {
      this.stopping.deadline.bringForward(timeout);
      if (options.unregister) this.unregisterAfterStop = true;
      return this.stopping.promise;
    }
    const deadline = createDeadline(this.clock, timeout);
    const shutdown: Shutdown = {
      deadline,
      promise: this.shutdown(deadline, timeout, options.unregister === true).finally(() => {
        deadline.cancel();
        this.stoppingHandlers.clear();
        if (this.stopping === shutdown) this.stopping = undefined;
      }),
    };
    this.stopping = shutdown;
    return shutdown.promise;
  }

  private async shutdown(deadline: Deadline, timeout: number, unregister: boolean): Promise<void> {
    const device = this.actor.getSnapshot().context.device;
    this.adopted = undefined;
    this.unregisterAfterStop = unregister;
    this.actor.send({ type: 'STOP' });
    // Nothing starts a socket from here on: a start() waits for this promise.

    // A registration under way finishes, so that its device is saved, not left on the server.
    const registrations = () => Promise.all([...this.abandoned].map((a) => a.settled)).then(() => undefined);
    if (this.abandoned.size > 0 && !(await deadline.race(registrations()))) {
      for (const registration of this.abandoned) registration.cancel();
      await registrations(); // aborted: they settle at once, and nothing is saved after stop() resolved
    }
    // Replicas: what this one has not claimed yet is the others' (they take what it gives back at once).
    this.claimsHalt.abort();
    // Questions (ctx.ask) get no answer any more: their handlers go on, and finish.
    this.handling.asks.cancelAll(new SparkBotError('STOPPED', 'the bot stopped before the answer came'));
    // Events not delivered by then are dropped, each reported (CANCELLED) by the dispatcher.
    if (!(await deadline.race(this.dispatcher.idle(this.stoppingHandlers)))) {
      const { handlers } = this.dispatcher.pending(this.stoppingHandlers);
      this.dispatcher.cancel();
      if (handlers > 0) {
        this.reportError(new SparkBotError('HANDLER_ERROR', `stop(): ${handlers} event handler${handlers === 1 ? ' was' : 's were'} still running after ${timeout} ms; the bot stopped without waiting for ${handlers === 1 ? 'it' : 'them'}`));
      }
    } else if (this.stoppingHandlers.size > 0) {
      // What waits behind a handler that called stop() (and so waits for it) cannot come first.
      this.dispatcher.cancel();
    }
    if (!(await deadline.race(this.outbox.idle()))) this.outbox.cancelWaiting();
    await this.stopCoordination(deadline);
    this.catalog?.cancel(new SparkBotError('STOPPED', 'the bot stopped'));
    const current = this.adopted ?? device;
    if (this.unregisterAfterStop && current) await this.unregister(current, deadline, timeout);
    const sockets = [...this.closing];
    if (!(await deadline.race(Promise.all(sockets.map((socket) => socket.closed)).then(() => undefined)))) {
      for (const socket of sockets) socket.terminate();
    }
    this.writeSeenNow();
    if (!(await deadline.race(this.store.flush()))) this.log('stop(): the last-connection file was still being written after %d ms', timeout);
  }

  /**
   * A registration the machine let go of while it was under way. When stop() interrupted it, its
   * device is saved once the server answers (stop() waits for it, up to its deadline): the next
   * start reuses it and receives what was sent to it meanwhile. Otherwise (the machine was
   * replaced after an internal error) it is discarded.
   */
  private keepAbandoned(registration: Promise<DeviceRef>, handle: { cancel(): void; discard(device: DeviceRef): Promise<void> }): void {
    const byStop = this.stopping !== undefined || this.stopRequested;
    const entry = {
      cancel: handle.cancel,
      settled: registration.then(
        async (device) => {
          if (byStop) {
            this.log('keeping device %s, registered while the bot stopped', device.url);
            this.adopted = device;
            this.watchStoreWrite(this.store.saveDevice(device, this.wdm.current), 'the device');
            return;
          }
          await handle.discard(device);
        },
        (error: unknown) => this.log('an interrupted registration failed: %s', (error as Error)?.message ?? String(error)),
      ),
    };
    this.abandoned.add(entry);
    void entry.settled.finally(() => this.abandoned.delete(entry));
  }

  private async unregister(device: DeviceRef, deadline: Deadline, timeout: number): Promise<void> {
    if (deadline.passed()) {
      this.reportWarning(new SparkBotError('CANCELLED', `stop({ unregister: true }): the device was not deleted: nothing may run after the stop timeout (${timeout} ms); it stays registered and saved`));
      return;
    }
    const cut = new AbortController();
    void deadline.race(new Promise<void>(() => undefined)).then(() => cut.abort(new SparkBotError('CANCELLED', `stop() timed out after ${timeout} ms`)));
    try {
      await this.api.request<void>('DELETE', device.url, { signal: cut.signal });
      this.log('deleted device %s', device.url);
    } catch (error) {
      // Kept: it may well still be registered, and the next start reuses it rather than leave it behind.
      this.reportWarning(new SparkBotError('API_ERROR', `stop({ unregister: true }): could not delete the device (${(error as Error).message}); it stays saved, and the next start reuses it`, { cause: error }));
      return;
    }
    await deadline.race(
      this.store.forgetDevice().then(
        () => undefined,
        (error: unknown) => {
          this.reportWarning(new SparkBotError('STORE_ERROR', `could not update the last-connection file: ${(error as Error).message}`, { cause: error }));
        },
      ),
    );
  }

  private scheduleSeenWrite(): void {
    if (this.seenTimer !== undefined) return;
    const wait = Math.max(SEEN_WRITE_DELAY, this.seenWrittenAt + SEEN_WRITE_INTERVAL - Date.now());
    this.seenTimer = setTimeout(() => this.writeSeenNow(), wait);
    this.seenTimer.unref();
  }

  private writeSeenNow(): void {
    if (this.seenTimer === undefined) return;
    clearTimeout(this.seenTimer);
    this.seenTimer = undefined;
    this.seenWrittenAt = Date.now();
    this.watchStoreWrite(this.store.saveSeen(this.seen.entries()), 'the handled activity ids');
  }

  /**
   * Reports a failed write of the last-connection file on 'warning' — once: while writes keep
   * failing (the same unwritable path), the next failures go to the log only, not one warning per
   * handled activity. A write that succeeds re-arms the warning.
   */
  private watchStoreWrite(write: Promise<boolean>, what: string): void {
    write.then(
      (written) => {
        if (written) this.storeWriteFailing = false;
      },
      (error: unknown) => {
        const message = `could not save ${what} to the last-connection file (${(error as Error)?.message ?? String(error)}); the bot goes on with them in memory, and a restart registers a new device — set lastConn to a writable path, or to false`;
        if (this.storeWriteFailing) {
          this.log('%s', message);
          return;
        }
        this.storeWriteFailing = true;
        this.reportWarning(new SparkBotError('STORE_ERROR', message, { cause: error }));
      },
    );
  }

  /**
   * Emits one activity's events in order, awaiting each handler: 'activity', the typed event (and
   * the routes), onMessage. Handlers run inside `inHandler`, so that a stop() they call knows it.
   */
  private deliverActivity(delivery: Delivery, onMessage: SparkBotOptions<SparkBot>['onMessage']): Promise<void> {
    return this.inHandler.run(delivery, () => this.deliverEvents(delivery, onMessage));
  }

  private async deliverEvents(delivery: Delivery, onMessage: SparkBotOptions<SparkBot>['onMessage']): Promise<void> {
    const { activity, context } = delivery;
    await this.deliver('activity', context, activity, delivery.envelope);
    if (delivery.answer && !delivery.events.some((event) => event.name === 'message')) {
      this.handling.asks.fail(activity.id, new SparkBotError('API_ERROR', `the answer (${activity.verb} ${activity.id}) could not be fetched: ${delivery.result?.ok === false ? delivery.result.error : 'no message'}`));
    }
    for (const event of delivery.events) {
      switch (event.name) {
        case 'message': {
          const message = this.handling.receivedMessage(event.payload);
          await this.deliver('message', context, message, activity);
          // The answer to a question (ctx.ask) goes to the question only.
          if (delivery.answer) this.handling.asks.answer(activity.id, message);
          else {
            try {
              await this.handling.message(message, activity);
            } catch (error) {
              this.reportError(handlerError('a route or middleware', 'threw', error, context));
            }
          }
          break;
        }
        case 'cardAction': {
          const action = this.handling.receivedAction(event.payload);
          let taken = true;
          try {
            taken = await this.handling.cardAction(action, activity);
          } catch (error) {
            this.reportError(handlerError('an action route or middleware', 'threw', error, context));
          }
          if (!taken) await this.deliver('cardAction', context, action, activity);
          break;
        }
        case 'joined': {
          const { room } = event.payload;
          const joined: JoinedEvent = { ...event.payload, say: (content) => this.say(room.id, content) };
          await this.deliver('joined', context, joined, activity);
          break;
        }
        case 'left':
          await this.deliver('left', context, event.payload, activity);
          break;
        case 'membership':
          await this.deliver('membership', context, event.payload, activity);
          break;
        case 'room':
          await this.deliver('room', context, event.payload, activity);
          break;
        case 'messageDeleted':
          await this.deliver('messageDeleted', context, event.payload, activity);
          break;
      }
    }
    if (onMessage && delivery.result) {
      try {
        await onMessage(this, delivery.result, delivery.eventType, delivery.verb, delivery.json);
      } catch (error) {
        this.reportError(handlerError('onMessage', 'threw', error, context));
      }
    }
  }

  /** Replicas: who handles `activity` (see Dispatcher's `coordinate`); the coordination starts first. */
  private async coordinate(activity: Activity, halt: AbortSignal): Promise<Claim | undefined> {
    const coordination = this.coordination;
    if (coordination === undefined) return undefined;
    const signal = AbortSignal.any([halt, this.claimsHalt.signal]);
    // A frame that comes while the bot stops (its socket closing) starts nothing again: it is the others'.
    if (signal.aborted || this.stopRequested || this.stopping !== undefined) return undefined;
    await this.startCoordination();
    if (signal.aborted) return undefined;
    const room = activity.target?.id;
    const person = activity.actor.entryUUID ?? activity.actor.id;
    const isMessage = activity.verb === 'post' || activity.verb === 'share';
    return coordination.claim(activity.id, signal, isMessage && room !== undefined ? { room, person } : undefined);
  }

  /** Starts the coordination once the bot knows its own id (GET /people/me); again after a stop(). */
  private startCoordination(): Promise<void> {
    const coordination = this.coordination;
    if (coordination === undefined) return Promise.resolve();
    if (this.coordinationStarted === undefined && (this.stopRequested || this.stopping !== undefined)) return Promise.reject(new SparkBotError('STOPPED', 'the bot is stopping'));
    this.coordinationStarted ??= this.loadMe()
      .then((me) =>
        coordination.start({
          botId: uuidOf(me.id),
          log: createLog('coordination', this.redactor, this.logger),
          reportError: (error) => this.reportError(error),
          reportWarning: (warning) => this.reportWarning(warning),
          holdRequests: (ms) => this.outbox.hold(ms),
          leader: (isLeader) => this.setLeader(isLeader),
        }),
      )
      .catch((error: unknown) => {
        this.coordinationStarted = undefined;
        throw error;
      });
    return this.coordinationStarted;
  }

  /** stop(): the coordination gives back the leadership and what it holds, within the deadline; a lone bot stops leading. */
  private async stopCoordination(deadline: Deadline): Promise<void> {
    const coordination = this.coordination;
    if (coordination === undefined) {
      this.setLeader(false);
      return;
    }
    const started = this.coordinationStarted;
    this.coordinationStarted = undefined;
    if (started === undefined) return;
    await deadline.race(
      started.then(
        () => coordination.stop(),
        () => undefined,
      ),
    );
    this.setLeader(false);
  }

  private setLeader(isLeader: boolean): void {
    if (this.leading === isLeader) return;
    this.leading = isLeader;
    this.log('%s the leader', isLeader ? 'now' : 'no longer');
    this.inHandler.exit(() => void this.deliver('leader', undefined, { isLeader }));
  }

  /** GET /people/me, memoised once it succeeds; the caller reports a failure. */
  private loadMe(): Promise<Person> {
    this.me ??= this.api.people.me().then(
      (person) => {
        this.person = person;
        return person;
      },
      (error: unknown) => {
        this.me = undefined;
        throw error;
      },
    );
    return this.me;
  }

  private onSnapshot(snapshot: SnapshotFrom<typeof botMachine>): void {
    const state = leafOf(snapshot.value);
    if (state === this.lastState) return;
    const previous = this.lastState;
    this.lastState = state;
    this.stateSince = Date.now();
    const why = snapshot.context.lastError && state !== 'open' ? ` (${snapshot.context.lastError})` : '';
    this.log('state %s -> %s%s', previous, state, why);
    this.logger?.info(this.redactor.redact(`sparkbot: ${previous} -> ${state}${why}`));
    this.inHandler.exit(() => void this.deliver('state', undefined, state, previous));
    if (state === 'open') {
      const waiter = this.startWaiter;
      if (waiter) {
        this.startWaiter = undefined;
        const settle = () => {
          if (this.stopRequested) waiter.reject(new SparkBotError('STOPPED', 'stop() was called before the bot connected'));
          else waiter.resolve();
        };
        this.loadMe().then(settle, (error: unknown) => {
          this.reportError(asSparkBotError(error));
          settle();
        });
      }
    } else if (state === 'failed') {
      const failure = this.failureError(snapshot.context.failure);
      if (this.startWaiter) this.settleStart(failure);
      else this.reportError(failure);
    } else if ((state === 'backoff' || state === 'rateLimited') && this.startWaiter && snapshot.context.lastError) {
      // Until the first connection, a failed attempt is the only news the caller of start() gets.
      const wait = state === 'backoff' ? snapshot.context.backoffDelay : snapshot.context.retryAfter;
      this.reportWarning(new SparkBotError('CONNECT_FAILED', `connecting failed (${snapshot.context.lastError}); trying again in ${wait} ms`));
    } else if (state === 'idle' && !this.stopRequested) {
      const why = snapshot.context.lastError ? `: ${snapshot.context.lastError}` : '';
      this.settleStart(new SparkBotError('DISCONNECTED', `the connection was lost and reconnect is false${why}`));
    }
  }

  private settleStart(error: SparkBotError): void {
    const waiter = this.startWaiter;
    if (!waiter) return;
    this.startWaiter = undefined;
    waiter.reject(this.redactor.error(error));
  }

  private failureError(failure: Failure | null): SparkBotError {
    const code = FAILURE_CODES[failure?.reason ?? ''] ?? 'CLOSED';
    return new SparkBotError(code, failure?.message ?? 'the connection failed');
  }

  /** A bug in the machine or in a provided action stopped the actor: report it and start over from idle. */
  private onActorError(actor: ConnectionActor, error: unknown): void {
    const failure = new SparkBotError('CLOSED', `the connection machine stopped on an internal error: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    for (const child of Object.values(actor.getSnapshot().children)) (child as { stop?: () => void } | undefined)?.stop?.();
    this.reportError(failure);
    this.settleStart(failure);
    this.actor = this.createConnection();
  }

  private reportError(error: SparkBotError): void {
    this.report('error', error);
  }

  private reportWarning(warning: SparkBotError): void {
    this.report('warning', warning);
  }

  /**
   * Errors and warnings go to their listeners, or become process warnings when there is none —
   * at most one a minute of each code (a server sending bad frames must not flood stderr); the
   * next one printed says how many were not, and every one is in the debug log.
   */
  private report(event: 'error' | 'warning', problem: SparkBotError): void {
    this.redactor.error(problem);
    this.log('%s %s: %s', event, problem.code, problem.message);
    if (this.listenerCount(event) > 0) {
      // Outside any handler's context: a stop() from an 'error' listener is no handler's own.
      this.inHandler.exit(() => void this.deliver(event, problem.context, problem));
      return;
    }
    this.unheard.print(event, problem.code, problem.message);
  }



  /**
   * Calls each listener on its own: one that throws or rejects is reported as HANDLER_ERROR and
   * never keeps the others from the event, nor reaches the machine or the process.
   */
  private deliver<K extends keyof SparkBotEvents>(event: K, context: ErrorContext | undefined, ...args: SparkBotEvents[K]): Promise<void> {
    const pending: Array<Promise<unknown>> = [];
    for (const listener of this.rawListeners(event) as Array<(...a: SparkBotEvents[K]) => unknown>) {
      try {
        const result = listener.apply(this, args);
        if (isThenable(result)) pending.push(Promise.resolve(result).catch((error: unknown) => this.listenerFailed(event, 'rejected', error, context)));
      } catch (error) {
        this.listenerFailed(event, 'threw', error, context);
      }
    }
    return pending.length === 0 ? Promise.resolve() : Promise.all(pending).then(() => undefined);
  }

  private listenerFailed(event: keyof SparkBotEvents, how: 'threw' | 'rejected', error: unknown, context: ErrorContext | undefined): void {
    const failure = handlerError(`a '${event}' listener`, how, error, context);
    if (event === 'error') {
      // Reporting it on 'error' again would feed the same listener: print it instead.
      this.redactor.error(failure);
      this.log('%s', failure.message);
      this.unheard.print('error', 'HANDLER_ERROR', failure.message);
      return;
    }
    this.reportError(failure);
  }
}

function handlerError(what: string, how: 'threw' | 'rejected', error: unknown, context: ErrorContext | undefined): SparkBotError {
  return new SparkBotError('HANDLER_ERROR', `${what} ${how}: ${(error as Error)?.message ?? String(error)}`, { cause: error, ...(context ? { context: { ...context } } : {}) });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

function asSparkBotError(error: unknown): SparkBotError {
  return error instanceof SparkBotError ? error : new SparkBotError('API_ERROR', (error as Error)?.message ?? String(error), { cause: error });
}

function leafOf(value: StateValue): ConnectionStateName {
  let current: StateValue = value;
  while (typeof current === 'object') {
    const [key] = Object.keys(current);
    const child = key === undefined ? undefined : current[key];
    if (child === undefined) return (key ?? 'idle') as ConnectionStateName;
    current = child as StateValue;
  }
  return current as ConnectionStateName;
}
