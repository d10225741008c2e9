/**
 * `sparkbot/redis`: one bot on many machines. Replicas of a bot coordinated through Redis
 * (`redisCoordination()`), and the bot's storage in Redis (`redisStorage()`). See docs/scaling.md.
 *
 * What lives in Redis, all under `{prefix}:{<bot id>}:` (one hash slot per bot, so Redis Cluster
 * can run the scripts): `a:<activity id>` — the claim of an activity (`<replica>#<instance>`, with
 * the lease as its TTL) and then `done` for the dedup window; `q:<room|person>` — a question of
 * `ctx.ask` waiting for that person's answer in that room (the asking replica, the lease as TTL,
 * renewed while it waits); `leader` — the leader lease; `pause` — a REST pause after a 429, with
 * its Retry-After as TTL; and the channel `events`, where replicas announce `done <id>`, `free <id>`
 * (given back), `asked <question key>` (a question ended), `pause <ms>` and `leader-free`. Every
 * step is one Lua script, so one round trip: a message costs two (claim, then done), plus a renewal
 * per third of the lease while its handlers run.
 *
 * The `redis` package (node-redis) is an optional peer dependency: with `url`, loading it starts
 * when the coordination (or storage) is made; with `client` (Sentinel, Cluster, your own options),
 * it is not loaded at all.
 * Nothing of this file is loaded by a bot without the `coordination` option.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { createActor, fromPromise, type Actor } from 'xstate';
import { claimMachine, DEFAULT_CLAIM_SETTINGS, type ClaimAnswer } from '../../machines/claim.js';
import type { Claim, Coordination, CoordinationHost } from '../coordination.js';
import { SparkBotError } from '../errors.js';
import { dedupKey, DEFAULT_DEDUP_WINDOW } from '../events/dedup.js';
import type { StorageAdapter } from '../router/storage.js';

/**
 * The part of a node-redis client (v5 or later: `createClient()`, `createSentinel()`,
 * `createCluster()`) that sparkbot uses. Typed structurally, so that sparkbot's types do not need
 * the `redis` package.
 */
export interface RedisClientLike {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  duplicate(): RedisClientLike;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): unknown;
  readonly isOpen: boolean;
  /** Connected and ready for commands (node-redis has it). */
  readonly isReady?: boolean;
}

export interface RedisCoordinationOptions {
  /** `redis://[[user]:password@]host[:port][/db]` (or `rediss://`). sparkbot makes and closes its clients. */
  readonly url?: string;
  /**
   * Your own connected node-redis client (Sentinel, Cluster, TLS options…) instead of `url`.
   * sparkbot uses it as it is, duplicates it once for its subscription, and closes only that duplicate.
   */
  readonly client?: RedisClientLike;
  /**
   * This replica's name: unique among the replicas of the bot, stable across its restarts (its
   * device record is kept under it). Default: the host name (a Kubernetes pod's name).
   */
  readonly replica?: string;
  /** Prefix of every Redis key and channel. Default 'sparkbot'. */
  readonly prefix?: string;
  /**
   * ms a claim lasts unless renewed (renewed every third of it while the handlers run): how long an
   * activity waits after its replica died before another takes it over. Default 10000.
   */
  readonly lease?: number;
  /** ms the leader lease lasts unless renewed (renewed every third of it). Default 10000. */
  readonly leaderLease?: number;
  /** ms a Redis command may take before it counts as failed (and is tried again). Default 2000. */
  readonly commandTimeout?: number;
  /**
   * Activities that may wait for Redis at most (while it cannot be reached, or another replica
   * holds them); past that the oldest waiting is given up, with an error. Default 10000.
   */
  readonly maxWaiting?: number;
}

/**
 * Claims an activity; see machines/claim.ts. KEYS[1] the claim, KEYS[2] (a message) the question
 * its author may be answering; ARGV me, lease. A message another replica's question waits for is
 * left to that replica while its question lasts.
 */
const CLAIM = `
local v = redis.call('GET', KEYS[1])
if not v and KEYS[2] then
  local q = redis.call('GET', KEYS[2])
  if q and q ~= ARGV[1] then
    local wait = redis.call('PTTL', KEYS[2])
    if wait < 0 then wait = 0 end
    return {'held', wait}
  end
end
if not v or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {'claimed', 0}
end
if v == 'done' then return {'done', 0} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
return {'held', ttl}`;

/** Renews a claim or a lease of ARGV[1]: 1, or 0 when another holds it. A key lost (a Redis restart without persistence) is taken again. */
const RENEW = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;

/**
 * Marks an activity handled for the dedup window, and tells the replicas waiting. KEYS claim,
 * channel; ARGV window, message, me. 0 when another replica had taken it over meanwhile (or done it).
 */
const FINISH = `
local v = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], 'done', 'PX', ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[2])
if not v or v == ARGV[3] then return 1 end
return 0`;

/** Gives back what ARGV[1] holds (a claim, the leadership), and says so. KEYS key, channel; ARGV me, message. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', KEYS[2], ARGV[2])
  return 1
end
return 0`;

/** Takes the leader lease if it is free (or ours). ARGV me, lease. */
const LEAD = `
local v = redis.call('GET', KEYS[1])
if not v or v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;

/** A 429's pause, unless a longer one is on; then says so. KEYS pause, channel; ARGV ms. */
const PAUSE = `
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
  redis.call('PUBLISH', KEYS[2], 'pause ' .. ARGV[1])
end
return 1`;

/** The pause on now, in ms (0 when none). */
const PAUSED = `
local left = redis.call('PTTL', KEYS[1])
if left > 0 then return left end
return 0`;

function positive(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new SparkBotError('INVALID_OPTION', `redisCoordination: ${name} must be a number of ms of at least ${min}, got ${String(value)}`);
  }
  return value;
}

function checkClientOptions(where: string, options: { url?: unknown; client?: unknown } | undefined): void {
  if (typeof options !== 'object' || options === null) throw new SparkBotError('INVALID_OPTION', `${where} needs an options object: { url } or { client }`);
  const hasUrl = options.url !== undefined;
  const hasClient = options.client !== undefined;
  if (hasUrl === hasClient) throw new SparkBotError('INVALID_OPTION', `${where} needs either url (redis://…) or client (a node-redis client), not ${hasUrl ? 'both' : 'neither'}`);
  if (hasUrl && (typeof options.url !== 'string' || !/^rediss?:\/\//i.test(options.url) || !URL.canParse(options.url) || !validPort(options.url))) {
    // No cause: what failed to parse would carry the URL, and its password.
    throw new SparkBotError('INVALID_OPTION', `${where}: url must be a valid redis:// or rediss:// URL (redis://[[user]:password@]host[:port][/db])`);
  }
  const client = options.client as Partial<RedisClientLike> | undefined;
  if (hasClient && (typeof client !== 'object' || client === null || typeof client.eval !== 'function' || typeof client.duplicate !== 'function')) {
    throw new SparkBotError('INVALID_OPTION', `${where}: client must be a node-redis client (createClient(), createSentinel() or createCluster() from 'redis')`);
  }
}

function validPort(url: string): boolean {
  const { port } = new URL(url);
  return port === '' || (Number(port) >= 1 && Number(port) <= 65_535);
}

/** A Redis URL for messages: without its password. */
function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = parsed.password === '' ? '' : '***';
    return parsed.toString();
  } catch {
    return 'the Redis URL';
  }
}

/** With `url`, sparkbot makes the client: the optional peer `redis` must be installed (said now, not at the first message). */
function needRedisPackage(where: string): void {
  try {
    createRequire(import.meta.url).resolve('redis');
  } catch (error) {
    throw new SparkBotError('INVALID_OPTION', `${where}({ url }) needs the 'redis' package (node-redis), an optional peer dependency of sparkbot: npm install redis`, { cause: error });
  }
  // Loaded meanwhile (while the bot starts), not when the first activity needs it.
  loadRedis().catch(() => undefined);
}

let redisModule: Promise<{ createClient(options: object): RedisClientLike }> | undefined;

/** node-redis, loaded once; started as soon as a coordination or a storage with `url` is made (loading it takes a while). */
function loadRedis(): Promise<{ createClient(options: object): RedisClientLike }> {
  redisModule ??= import('redis') as unknown as Promise<{ createClient(options: object): RedisClientLike }>;
  return redisModule;
}

async function makeClient(url: string, onError: (error: Error) => void): Promise<RedisClientLike> {
  let redis: { createClient(options: object): RedisClientLike };
  try {
    redis = await loadRedis();
  } catch (error) {
    throw new SparkBotError('INVALID_OPTION', "redisCoordination({ url }) needs the 'redis' package: npm install redis", { cause: error });
  }
  const client = redis.createClient({
    url,
    // A command while Redis is away fails at once (the claim machine tries again), rather than queue without end.
    disableOfflineQueue: true,
    // Reconnects soon (at most RECONNECT_MAX apart), so that replicas are back within a short time of each other (see GRACE).
    socket: { connectTimeout: 5_000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 5), RECONNECT_MAX) },
  });
  client.on('error', onError);
  return client;
}

/** Claims a replica sends to Redis at once at most (a burst of activities waits its turn locally). */
const CLAIMS_AT_ONCE = 64;

/** ms between reconnection attempts at most (clients sparkbot makes). */
const RECONNECT_MAX = 500;

/**
 * ms after Redis came back (to this replica) before it claims an activity or the leadership again:
 * the replicas that held them have reconnected by then (within RECONNECT_MAX of each other) and
 * renewed at once, so a claim or a lease that ran out during the outage is not taken from a live
 * holder. At most the lease.
 */
const GRACE = 2 * RECONNECT_MAX;

/** A command that takes longer than `ms` fails (the caller tries again). */
function timed<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer ${what} within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Replicas of one bot coordinated through Redis: every activity handled by one replica, failover
 * when a replica dies, 429 pauses shared, one leader. Give it as the bot's `coordination` option.
 */
export function redisCoordination(options: RedisCoordinationOptions): Coordination {
  checkClientOptions('redisCoordination', options);
  if (options.url !== undefined) needRedisPackage('redisCoordination');
  const replica = options.replica ?? hostname();
  if (typeof replica !== 'string' || replica.trim() === '' || /[\s#]/.test(replica)) {
    throw new SparkBotError('INVALID_OPTION', 'redisCoordination: replica must be a non-empty name without spaces or #');
  }
  const prefix = options.prefix ?? 'sparkbot';
  if (typeof prefix !== 'string' || prefix === '' || /[{}\s]/.test(prefix)) throw new SparkBotError('INVALID_OPTION', 'redisCoordination: prefix must be a non-empty string without spaces or braces');
  const lease = positive('lease', options.lease, DEFAULT_CLAIM_SETTINGS.lease, 100);
  const leaderLease = positive('leaderLease', options.leaderLease, 10_000, 100);
  const commandTimeout = positive('commandTimeout', options.commandTimeout, 2_000, 10);
  const maxWaiting = options.maxWaiting ?? 10_000;
  if (!Number.isInteger(maxWaiting) || maxWaiting < 1) throw new SparkBotError('INVALID_OPTION', `redisCoordination: maxWaiting must be a whole number of at least 1, got ${String(maxWaiting)}`);
  return new RedisCoordination({ ...options, replica, prefix, lease, leaderLease, commandTimeout, maxWaiting });
}

type Settings = Required<Pick<RedisCoordinationOptions, 'replica' | 'prefix' | 'lease' | 'leaderLease' | 'commandTimeout' | 'maxWaiting'>> & Pick<RedisCoordinationOptions, 'url' | 'client'>;

interface Waiting {
  readonly actor: Actor<typeof claimMachine>;
  /** The question key a message may be the answer of (see asking()). */
  readonly question: string | undefined;
  settle(claim: Claim | undefined): void;
}

class RedisCoordination implements Coordination {
  readonly replica: string;
  /** This run of the replica: a replica restarted under its name does not hold what it held before. */
  readonly #me: string;
  readonly #settings: Settings;
  #host: CoordinationHost | undefined;
  #client: RedisClientLike | undefined;
  #subscriber: RedisClientLike | undefined;
  #ownsClient = false;
  #started: Promise<void> | undefined;
  #keys = { base: '', channel: '', leader: '', pause: '' };
  /** Claim machines not yet settled (claiming, waiting, offline), by activity key, oldest first. */
  readonly #undecided = new Map<string, Waiting>();
  /** Questions of this replica waiting for an answer, by their Redis key: how many. */
  readonly #questions = new Map<string, number>();
  /** The renewal timer of each question key. */
  readonly #questionTimers = new Map<string, NodeJS.Timeout>();
  /** Claim machines of activities this replica handles, by activity key. */
  readonly #held = new Map<string, Actor<typeof claimMachine>>();
  #leaderTimer: NodeJS.Timeout | undefined;
  #isLeader = false;
  /** Ends the leadership before the lease runs out when no renewal came in time (Redis away). */
  #leaderDeadline: NodeJS.Timeout | undefined;
  #subscribed = false;
  #subscribing: Promise<void> | undefined;
  #stopped = false;
  #redisDown = false;
  /** When Redis last came back after an outage (ms since the epoch); 0 when it never went away. */
  #backAt = 0;

  constructor(settings: Settings) {
    this.#settings = settings;
    this.replica = settings.replica;
    this.#me = `${settings.replica}#${randomBytes(6).toString('hex')}`;
  }

  /** Never shows the URL's password, nor the client. */
  toJSON(): object {
    return { replica: this.replica, prefix: this.#settings.prefix, lease: this.#settings.lease };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `RedisCoordination { replica: ${JSON.stringify(this.replica)}, prefix: ${JSON.stringify(this.#settings.prefix)}, lease: ${this.#settings.lease} }`;
  }

  start(host: CoordinationHost): Promise<void> {
    this.#stopped = false;
    this.#started ??= this.#connect(host).catch((error: unknown) => {
      this.#started = undefined;
      throw error;
    });
    return this.#started;
  }

  async #connect(host: CoordinationHost): Promise<void> {
    this.#host = host;
    const base = `${this.#settings.prefix}:{${host.botId}}`;
    this.#keys = { base, channel: `${base}:events`, leader: `${base}:leader`, pause: `${base}:pause` };
    const onError = this.#onError;
    if (this.#client === undefined) {
      if (this.#settings.url !== undefined) {
        this.#client = await makeClient(this.#settings.url, onError);
        this.#ownsClient = true;
      } else {
        this.#client = this.#settings.client!;
        this.#client.on('error', onError);
      }
      this.#client.on('ready', this.#onReady);
      this.#subscriber = this.#client.duplicate();
      this.#subscriber.on('error', onError);
      this.#subscriber.on('ready', this.#onSubscriberReady);
    }
    const client = this.#client;
    const subscriber = this.#subscriber!;
    // A Redis that is down now does not stop the bot: activities wait for it (see claim()), and the
    // subscription is made once it is back (#link on the subscriber's 'ready'). Each client connects
    // on its own (node-redis goes on trying after a timeout here).
    const connect = (c: RedisClientLike) => (c.isOpen ? Promise.resolve() : timed(c.connect(), Math.max(this.#settings.commandTimeout, 5_000), 'the connection'));
    const connected = await Promise.allSettled([connect(client), connect(subscriber)]);
    const failed = connected.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed !== undefined) this.#down(failed.reason as Error);
    else await this.#link().catch((error: unknown) => this.#down(error as Error));
    host.log('coordination: replica %s on %s', this.replica, this.#settings.url === undefined ? 'the given client' : safeUrl(this.#settings.url));
    this.#leadLater(0);
  }

  #eval(script: string, keys: string[], args: string[], what: string): Promise<unknown> {
    const client = this.#client;
    if (client === undefined) return Promise.reject(new Error('not started'));
    return timed(client.eval(script, { keys, arguments: args }), this.#settings.commandTimeout, what).then((result) => {
      // An outage that ended without a reconnection (Redis was slow, not gone) ends with a command that worked.
      if (this.#redisDown) this.#up();
      return result;
    });
  }

  /** Redis failed a command or dropped the connection: said once per outage. */
  #down(error: Error): void {
    if (this.#redisDown || this.#stopped) return;
    this.#redisDown = true;
    this.#host?.reportWarning(
      new SparkBotError('COORDINATION_ERROR', `Redis cannot be reached (${error.message}): activities wait for it and are claimed when it is back; no replica handles them meanwhile`, { cause: error }),
    );
  }

  /** The command connection is (back) up: Redis is reachable. */
  readonly #onReady = (): void => {
    this.#link().catch((error: unknown) => this.#down(error as Error));
    this.#up();
  };

  /** The subscription's connection is up: subscribe if that could not be done yet. */
  readonly #onSubscriberReady = (): void => {
    this.#subscribe().catch((error: unknown) => this.#down(error as Error));
  };

  /** The channel subscribed (once: node-redis subscribes again after a reconnect), and a 429 pause that is on read. */
  async #link(): Promise<void> {
    await Promise.all([this.#subscribe(), this.#readPause()]);
  }

  /** Subscribes to the bot's channel, on a ready connection (node-redis would queue it on one that is not, and never send it). */
  #subscribe(): Promise<void> {
    const subscriber = this.#subscriber;
    if (this.#subscribed || subscriber === undefined || subscriber.isReady === false) return Promise.resolve();
    this.#subscribing ??= timed(subscriber.subscribe(this.#keys.channel, (message) => this.#announced(message)), this.#settings.commandTimeout, 'the subscription')
      .then(() => {
        this.#subscribed = true;
      })
      .finally(() => {
        this.#subscribing = undefined;
      });
    return this.#subscribing;
  }

  async #readPause(): Promise<void> {
    const paused = Number(await this.#eval(PAUSED, [this.#keys.pause], [], 'the pause'));
    if (paused > 0) this.#host?.holdRequests(paused);
  }

  readonly #onError = (error: Error): void => this.#down(error);

  #up(): void {
    if (!this.#redisDown) return;
    this.#redisDown = false;
    this.#backAt = Date.now();
    this.#host?.log('coordination: Redis is back');
    // What this replica holds is said at once (renewed, or marked done); the leader renews at once.
    for (const actor of this.#held.values()) actor.send({ type: 'NOTICE' });
    if (this.#isLeader) this.#leadLater(0);
    // Claims that wait try again after the grace (see GRACE: claim() waits for it).
    for (const waiting of this.#undecided.values()) waiting.actor.send({ type: 'NOTICE' });
  }

  /** Resolves once the grace after Redis came back is over (at once when it did not go away). */
  #afterGrace(): Promise<void> {
    const wait = this.#backAt + Math.min(GRACE, this.#settings.lease) - Date.now();
    if (wait <= 0) return Promise.resolve();
    return new Promise((resolve) => setTimeout(resolve, wait).unref());
  }

  #announced(message: string): void {
    const space = message.indexOf(' ');
    const verb = space < 0 ? message : message.slice(0, space);
    const arg = space < 0 ? '' : message.slice(space + 1);
    if (verb === 'done') this.#undecided.get(arg)?.actor.send({ type: 'DONE' });
    else if (verb === 'free') this.#undecided.get(arg)?.actor.send({ type: 'NOTICE' });
    else if (verb === 'asked') {
      // A question ended: the messages left to it are anyone's now.
      for (const waiting of this.#undecided.values()) if (waiting.question === arg) waiting.actor.send({ type: 'NOTICE' });
    } else if (verb === 'pause') {
      const ms = Number(arg);
      if (Number.isFinite(ms) && ms > 0) this.#host?.holdRequests(ms);
    } else if (verb === 'leader-free' && !this.#isLeader) this.#leadLater(0);
  }

  asking(room: string, person: string): { readonly ready: Promise<void>; end(): void } {
    const key = this.#questionKey({ room, person });
    const count = (this.#questions.get(key) ?? 0) + 1;
    this.#questions.set(key, count);
    const ready = count === 1 ? this.#ask(key) : Promise.resolve();
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      const left = (this.#questions.get(key) ?? 1) - 1;
      if (left > 0) return void this.#questions.set(key, left);
      this.#questions.delete(key);
      clearTimeout(this.#questionTimers.get(key));
      this.#questionTimers.delete(key);
      if (this.#client !== undefined) {
        this.#eval(RELEASE, [key, this.#keys.channel], [this.#me, `asked ${key}`], 'a question').catch(() => undefined);
      }
    };
    return { ready, end };
  }

  #questionKey(from: { readonly room: string; readonly person: string }): string {
    return `${this.#keys.base}:q:${dedupKey(`${from.room}|${from.person}`)}`;
  }

  /** Says (and renews, every third of the lease while it lasts) that a question of this replica waits for answers there. */
  #ask(key: string): Promise<void> {
    if (!this.#questions.has(key) || this.#stopped || this.#client === undefined) return Promise.resolve();
    // One renewal chain per question key (a question that ends and another that starts within a renewal share none).
    clearTimeout(this.#questionTimers.get(key));
    const timer = setTimeout(() => void this.#ask(key), Math.max(1, Math.floor(this.#settings.lease / 3)));
    timer.unref();
    this.#questionTimers.set(key, timer);
    // Without Redis the question is asked anyway: its answer may then go to another replica.
    return this.#eval(RENEW, [key], [this.#me, String(this.#settings.lease)], 'a question').then(
      () => undefined,
      () => undefined,
    );
  }

  claim(id: string, signal: AbortSignal, from?: { readonly room: string; readonly person: string }): Promise<Claim | undefined> {
    const key = dedupKey(id);
    if (signal.aborted || this.#stopped) return Promise.resolve(undefined);
    const claimKey = `${this.#keys.base}:a:${key}`;
    const claimKeys = from === undefined ? [claimKey] : [claimKey, this.#questionKey(from)];
    const me = this.#me;
    const lease = this.#settings.lease;
    const window = String(DEFAULT_DEDUP_WINDOW.minAge);
    const failed = (error: unknown) => {
      this.#down(error as Error);
      throw error;
    };
    const machine = claimMachine.provide({
      actors: {
        claim: fromPromise(async ({ signal: stopped }) => {
          await this.#started;
          await this.#afterGrace();
          // Given back or stopped meanwhile: no claim that nobody would release.
          if (stopped.aborted || this.#stopped) throw new Error('the claim was given up');
          // A burst (hundreds of activities at once) goes out a slice at a time, not as one queue that outlasts commandTimeout.
          const [result, ttl] = (await this.#limited(() => this.#eval(CLAIM, claimKeys, [me, String(lease)], 'a claim')).catch(failed)) as [string, number];
          return (result === 'held' ? { result, ttl: Number(ttl) } : { result }) as ClaimAnswer;
        }),
        renew: fromPromise(async () => (await this.#eval(RENEW, [claimKey], [me, String(lease)], 'a renewal').catch(failed)) === 1),
        finish: fromPromise(async () => {
          const held = await this.#eval(FINISH, [claimKey, this.#keys.channel], [window, `done ${key}`, me], 'a done mark').catch(failed);
          if (held === 0) {
            this.#host?.reportWarning(
              new SparkBotError('COORDINATION_ERROR', `activity ${id}: another replica took it over before its handlers here ended (Redis was away longer than the lease, or lost its data): they may have run twice`, {
                context: { activityId: id },
              }),
            );
          }
        }),
        release: fromPromise(async () => {
          await this.#eval(RELEASE, [claimKey, this.#keys.channel], [me, `free ${key}`], 'a release').catch(failed);
        }),
      },
    });
    const actor = createActor(machine, { input: { id: key, lease } });
    return new Promise<Claim | undefined>((resolve) => {
      let settled = false;
      const settle = (claim: Claim | undefined) => {
        if (settled) return;
        settled = true;
        this.#undecided.delete(key);
        signal.removeEventListener('abort', onAbort);
        resolve(claim);
      };
      const onAbort = () => actor.send({ type: 'RELEASE' });
      signal.addEventListener('abort', onAbort, { once: true });
      let warnedLost = false;
      actor.subscribe({
        next: (snapshot) => {
          if (snapshot.matches('running')) {
            if (snapshot.context.lost && !warnedLost) {
              warnedLost = true;
              this.#host?.reportWarning(
                new SparkBotError('COORDINATION_ERROR', `activity ${id}: another replica took it over while this one held it (Redis was away longer than the lease, or lost its data); if its handlers already ran here, they run twice`, {
                  context: { activityId: id },
                }),
              );
            }
            if (!settled) {
              this.#held.set(key, actor);
              settle({
                get lost() {
                  return actor.getSnapshot().context.lost;
                },
                done: () => actor.send({ type: 'HANDLED' }),
                release: () => actor.send({ type: 'RELEASE' }),
              });
            }
          }
          if (snapshot.status === 'done') {
            this.#held.delete(key);
            settle(undefined);
          }
        },
        error: (error) => {
          this.#held.delete(key);
          this.#host?.reportError(new SparkBotError('COORDINATION_ERROR', `activity ${id}: the claim failed (${String(error)})`, { cause: error, context: { activityId: id } }));
          settle(undefined);
        },
      });
      if (this.#undecided.has(key)) {
        // Two claims of one id at once (cannot happen through the bot, which skips a repeated id): the later waits for nothing.
        settle(undefined);
        return;
      }
      this.#undecided.set(key, { actor, settle, question: from === undefined ? undefined : this.#questionKey(from) });
      this.#bound();
      actor.start();
    });
  }

  /** Claims out at once at most; the others wait for a slot (in order). */
  #slots = CLAIMS_AT_ONCE;
  readonly #slotWaiters: Array<() => void> = [];

  async #limited<T>(task: () => Promise<T>): Promise<T> {
    if (this.#slots === 0) await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
    else this.#slots -= 1;
    try {
      return await task();
    } finally {
      const next = this.#slotWaiters.shift();
      if (next !== undefined) next();
      else this.#slots += 1;
    }
  }

  /** At most maxWaiting activities wait: the oldest is given up, and said so. */
  #bound(): void {
    while (this.#undecided.size > this.#settings.maxWaiting) {
      const [key, oldest] = this.#undecided.entries().next().value as [string, Waiting];
      this.#undecided.delete(key);
      oldest.actor.stop();
      this.#host?.reportError(
        new SparkBotError('COORDINATION_ERROR', `activity ${key} given up: more than ${this.#settings.maxWaiting} activities wait for Redis or for another replica (maxWaiting)`, {
          context: { activityId: key },
        }),
      );
      oldest.settle(undefined);
    }
  }

  rateLimited(ms: number): void {
    if (this.#client === undefined || !(ms > 0)) return;
    this.#eval(PAUSE, [this.#keys.pause, this.#keys.channel], [String(Math.ceil(ms))], 'a pause').catch((error: unknown) => this.#down(error as Error));
  }

  get isLeader(): boolean {
    return this.#isLeader;
  }

  #leadLater(ms: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#leaderTimer);
    this.#leaderTimer = setTimeout(() => void this.#lead(), ms);
    this.#leaderTimer.unref();
  }

  /** Takes or renews the leader lease; a lease not renewed within its time is lost. */
  async #lead(): Promise<void> {
    const every = Math.max(1, Math.floor(this.#settings.leaderLease / 3));
    // After an outage a replica that was not the leader waits for the grace: the leader renews first.
    if (!this.#isLeader) await this.#afterGrace();
    if (this.#stopped) return;
    const asked = Date.now();
    try {
      const led = (await this.#eval(this.#isLeader ? RENEW : LEAD, [this.#keys.leader], [this.#me, String(this.#settings.leaderLease)], 'the leader lease')) === 1;
      if (this.#stopped) return;
      if (led) {
        // Counted from when it was asked: the lease may have started then. Without a renewal, the
        // leadership ends at 4/5 of it, before another replica can take the lease.
        clearTimeout(this.#leaderDeadline);
        this.#leaderDeadline = setTimeout(() => this.#setLeader(false), Math.max(0, asked + Math.floor((this.#settings.leaderLease * 4) / 5) - Date.now()));
        this.#leaderDeadline.unref();
      }
      this.#setLeader(led);
    } catch (error) {
      this.#down(error as Error);
    }
    this.#leadLater(every);
  }

  #setLeader(isLeader: boolean): void {
    if (isLeader === this.#isLeader) return;
    this.#isLeader = isLeader;
    this.#host?.log('coordination: replica %s %s the leader', this.replica, isLeader ? 'is now' : 'is no longer');
    this.#host?.leader(isLeader);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#leaderTimer);
    clearTimeout(this.#leaderDeadline);
    for (const waiting of [...this.#undecided.values()]) waiting.actor.send({ type: 'RELEASE' });
    const ended = (actor: Actor<typeof claimMachine>) =>
      new Promise<void>((resolve) => {
        if (actor.getSnapshot().status !== 'active') return resolve();
        actor.subscribe({ complete: resolve, error: () => resolve() });
      });
    // Done marks still owed (handlers ended while Redis was away) wait a little for Redis to come back:
    // given up, their activities would run again on another replica.
    const owed = [...this.#held.values()].filter((actor) => actor.getSnapshot().matches('finishing') || actor.getSnapshot().matches('retryingFinish'));
    if (owed.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 2 * this.#settings.commandTimeout);
        timer.unref();
      });
      await Promise.race([Promise.all(owed.map(ended)), bound]);
      clearTimeout(timer);
    }
    for (const actor of this.#held.values()) actor.send({ type: 'RELEASE' });
    // Let the releases reach Redis (each within commandTimeout), so that others take over at once.
    await Promise.all([...this.#held.values()].map(ended));
    if (this.#isLeader) {
      // No longer the leader before another can be: then the lease is given back.
      this.#setLeader(false);
      await this.#eval(RELEASE, [this.#keys.leader, this.#keys.channel], [this.#me, 'leader-free'], 'the leader release').catch(() => undefined);
    }
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    this.#subscribed = false;
    const client = this.#client;
    this.#client = undefined;
    this.#started = undefined;
    await closeClient(subscriber, this.#settings.commandTimeout);
    if (this.#ownsClient) await closeClient(client, this.#settings.commandTimeout);
    else if (client !== undefined) {
      // Your client stays yours: sparkbot's listeners leave it.
      const emitter = client as unknown as { removeListener?(event: string, listener: (...args: never[]) => void): unknown };
      emitter.removeListener?.('ready', this.#onReady);
      emitter.removeListener?.('error', this.#onError);
    }
    this.#redisDown = false;
  }
}

/** Closes a client: at once when Redis does not answer (a close waits for the commands still queued). */
async function closeClient(client: RedisClientLike | undefined, within = 2_000): Promise<void> {
  if (client === undefined) return;
  try {
    const closing = typeof client.close === 'function' ? client.close() : typeof client.quit === 'function' ? client.quit() : undefined;
    if (closing !== undefined) await timed(closing, within, 'the close');
    else client.destroy?.();
  } catch {
    client.destroy?.();
  }
}

export interface RedisStorageOptions {
  /** `redis://…`: sparkbot makes the client (on first use). */
  readonly url?: string;
  /** Your own node-redis client instead. */
  readonly client?: RedisClientLike;
  /** Prefix of the keys. Default 'sparkbot:storage' — give each bot sharing a Redis its own. */
  readonly prefix?: string;
}

/** Sets ARGV[2] if the key still holds ARGV[1] ('' = missing); 1 when done. */
const COMPARE_AND_SET = `
local v = redis.call('GET', KEYS[1])
if (v or '') ~= ARGV[1] then return 0 end
if ARGV[3] == 'delete' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1`;

/**
 * The bot's storage (`ctx.storage`, `bot.storage`) in Redis, shared by the replicas: give it as the
 * `storage` option. `update()` is atomic across replicas (compare-and-set, tried again on a race).
 */
export function redisStorage(options: RedisStorageOptions): StorageAdapter & { close(): Promise<void> } {
  checkClientOptions('redisStorage', options);
  if (options.url !== undefined) needRedisPackage('redisStorage');
  const prefix = options.prefix ?? 'sparkbot:storage';
  if (typeof prefix !== 'string' || prefix === '') throw new SparkBotError('INVALID_OPTION', 'redisStorage: prefix must be a non-empty string');
  let client: Promise<RedisClientLike> | undefined;
  /** The client being made (to destroy it when the connection is given up). */
  let making: RedisClientLike | undefined;
  const connect = (): Promise<RedisClientLike> => {
    client ??= (async () => {
      if (options.client !== undefined) return options.client;
      const made = await makeClient(options.url!, () => undefined);
      making = made;
      try {
        // node-redis goes on trying without end: a storage call fails instead, and the next one tries again.
        await timed(made.connect(), 5_000, 'the connection');
      } catch (error) {
        made.destroy?.();
        throw error;
      } finally {
        making = undefined;
      }
      return made;
    })().catch((error: unknown) => {
      client = undefined;
      throw new SparkBotError('STORE_ERROR', `redisStorage: Redis cannot be reached (${(error as Error).message})`, { cause: error });
    });
    return client;
  };
  const run = async (script: string, key: string, args: string[]): Promise<unknown> => {
    const redis = await connect();
    try {
      return await redis.eval(script, { keys: [`${prefix}:${key}`], arguments: args });
    } catch (error) {
      throw new SparkBotError('STORE_ERROR', `redisStorage: ${(error as Error).message}`, { cause: error });
    }
  };
  return {
    get: async (key) => {
      const value = await run("return redis.call('GET', KEYS[1])", key, []);
      return typeof value === 'string' ? value : undefined;
    },
    set: async (key, value) => {
      await run("return redis.call('SET', KEYS[1], ARGV[1])", key, [value]);
    },
    delete: async (key) => {
      await run("return redis.call('DEL', KEYS[1])", key, []);
    },
    update: async (key, change) => {
      for (;;) {
        const current = await run("return redis.call('GET', KEYS[1])", key, []);
        const before = typeof current === 'string' ? current : undefined;
        const after = await change(before);
        const swapped = await run(COMPARE_AND_SET, key, [before ?? '', after ?? '', after === undefined ? 'delete' : 'set']);
        if (swapped === 1) return after;
      }
    },
    close: async () => {
      const made = client;
      client = undefined;
      if (made === undefined || options.client !== undefined) return;
      // Still connecting: given up at once, not waited for.
      making?.destroy?.();
      await closeClient(await made.catch(() => undefined));
    },
  };
}

export { claimMachine, DEFAULT_CLAIM_SETTINGS, type ClaimAnswer, type ClaimContext, type ClaimEvent, type ClaimSettings } from '../../machines/claim.js';
export type { Claim, Coordination, CoordinationHost } from '../coordination.js';
