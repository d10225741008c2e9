/**
 * SparkBot's options: defaults, and validation with clear errors. The token is never echoed.
 */
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Agent } from 'node:http';
import type { InspectionEvent, Observer } from 'xstate';
import type { Clock } from './clock.js';
import { DEFAULT_SETTINGS, type ConnectionSettings } from '../machines/connection.js';
import { DEFAULT_MAX_RESPONSE_SIZE } from './http.js';
import { SparkBotError } from './errors.js';
import type { ActivityData } from './events/types.js';
import type { Logger } from './log.js';
import type { StorageAdapter } from './router/storage.js';
import { isCoordination, type Coordination } from './coordination.js';
import { VERSION } from './version.js';

/** `result` of onMessage: the seed's Data::Result. */
export type Result<T> = { readonly ok: true; readonly data: T } | { readonly ok: false; readonly error: string };


/** The seed's callback: `(bot, result, eventType, verb, json)`; `json` is the whole Mercury envelope. */
export type OnMessage<Bot> = (bot: Bot, result: Result<ActivityData>, eventType: string, verb: string, json: unknown) => unknown;

export interface SparkBotOptions<Bot = unknown> {
  /** The bot's access token (developer.webex.com → My Webex Apps). Required. */
  readonly token: string;
  /** Seed-compatible callback for every conversation activity. */
  readonly onMessage?: OnMessage<Bot>;
  /**
   * WDM devices URL (device registration). Default: the one Webex's service catalog names
   * (`serviceLinks.wdm` of `GET {u2cUrl}/catalog?format=hostmap`, plus `/devices`), kept in the
   * last-connection file with the device; `https://wdm-a.wbx2.com/wdm/api/v1/devices` (with a
   * `CATALOG_ERROR` warning) when the catalog cannot be had or names no usable WDM, and with
   * `u2cUrl: false`. Set, it is used as it is and the catalog is not asked.
   */
  readonly wdmUrl?: string;
  /** Webex REST base URL. Default `https://webexapis.com/v1`. */
  readonly apiUrl?: string;
  /**
   * Path of the last-connection file (the device to reuse on restart, and the WDM URL it lives on);
   * `false` keeps it in memory. Default `~/.sparkbot/last-connection-<hash>.json`, the hash taken
   * from the wdmUrl option (its default when not set, whatever the catalog names) and the token so
   * that two bots on one host never share a file (the file never contains the token).
   */
  readonly lastConn?: string | false;
  /** Device description posted to WDM, merged over sparkbot's. */
  readonly deviceDesc?: Readonly<Record<string, unknown>>;
  /** Reconnect after a lost connection. Default true; false ends in state `idle`. */
  readonly reconnect?: boolean;
  /** ms of inbound silence before a ping. Default 60000. Durations are milliseconds: below 1000 is refused unless allowInsecure (a value in seconds, as the Perl module took, would be a mistake). */
  readonly pingEvery?: number;
  /** ms to wait for the pong before reconnecting. Default 10000; at least 1000 unless allowInsecure. */
  readonly pingWait?: number;
  /** ms, ceiling of the first reconnect delay; doubles per attempt, with full jitter. Default 1000. */
  readonly reconnectSleep?: number;
  /** ms, cap of the reconnect delay. Default 32000; at least 1000 unless allowInsecure. */
  readonly reconnectSleepMax?: number;
  /** ms from opening the socket to Webex's readiness frame. Default 30000; at least 1000 unless allowInsecure. */
  readonly connectTimeout?: number;
  /** ms to wait after a 429 without a usable Retry-After. Default 10000; 0, or at least 1000 unless allowInsecure. */
  readonly retryTimeout?: number;
  /** Retries of a REST call answered 429. Default 1. */
  readonly retryCount?: number;
  /** ms, cap of any Retry-After (registration, socket or REST). Default 3600000. */
  readonly retryAfterMax?: number;
  /** ms the link must stay open before the reconnect delay starts again from reconnectSleep. Default 30000. */
  readonly stableAfter?: number;
  /** ms stop() waits for the server to answer the close frame before cutting the link. Default 2000. */
  readonly closeTimeout?: number;
  /** ms before an HTTP request (WDM or REST) is abandoned, its body included. Default 30000; at least 1000 unless allowInsecure. */
  readonly requestTimeout?: number;
  /**
   * Largest inbound socket frame, bytes. Default 4 MiB. It also bounds what waits to be sent on the
   * socket: a server that stops reading while that much is queued (acks, pongs) gets its socket
   * closed, and the bot reconnects, rather than buffering without end.
   */
  readonly maxPayload?: number;
  /** Largest HTTP response body (WDM, REST), bytes; a larger one fails the call and is not read further. Default 8 MiB. */
  readonly maxResponseSize?: number;
  /**
   * Webex's service catalog (U2C), fetched at most once per bot (one request serves both uses): it
   * names the WDM to register at when `wdmUrl` is not set, and the cluster of a conversation, to
   * build the right REST ids for orgs outside the US. Default `https://u2c.wbx2.com/u2c/api/v1`;
   * `false` registers at the default WDM URL and assumes the `us` cluster everywhere.
   */
  readonly u2cUrl?: string | false;
  /** REST calls in flight at most (enrichment of events and your own calls). Default 8. */
  readonly concurrency?: number;
  /** Deliver messages and card actions of other bots too (never the bot's own). Default false. */
  readonly allowBotToBot?: boolean;
  /** Permit `http:` and `ws:` URLs (the emulator, tests). Default false. */
  readonly allowInsecure?: boolean;
  /**
   * An http.Agent for the socket's upgrade request, e.g. `new HttpsProxyAgent(url)` from
   * `https-proxy-agent`. It replaces, for the socket, the proxy the environment names (see `proxy`).
   */
  readonly agent?: Agent;
  /**
   * An undici Dispatcher for the HTTP requests (WDM, REST, U2C), e.g. `new ProxyAgent(url)` from
   * `undici`. It replaces, for those requests, the proxy the environment names (see `proxy`).
   * Node's fetch ignores http.Agent: `agent` alone does not cover them.
   */
  readonly dispatcher?: object;
  /**
   * Honour the proxy environment variables — HTTPS_PROXY, HTTP_PROXY and NO_PROXY, or their
   * lower-case forms — read when the bot is constructed, for WDM, REST, U2C and the socket.
   * Default true; `false` ignores them (everything connects directly unless `agent` or
   * `dispatcher` say otherwise). See docs/reliability.md#proxies.
   */
  readonly proxy?: boolean;
  /**
   * Hosts the socket may connect to (and so receive the token), as names or `*.suffix` patterns.
   * Default: Webex's domains (`*.wbx2.com`, `*.ciscospark.com`, `*.webex.com`) and the host of the
   * WDM in use (wdmUrl, or the one the service catalog or the last-connection file named). Set, the
   * list is used as it is.
   */
  readonly socketHosts?: readonly string[];
  /** ms stop() gives handlers and queued REST calls to finish before it cancels what is left. Default 10000. */
  readonly stopTimeout?: number;
  /** XState inspection observer, e.g. from `@statelyai/inspect`; receives the machine's events (never the token). */
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** The clock of the machine's delays and of the close timer; for tests (see test/support/test-clock.ts). */
  readonly clock?: Clock;
  /**
   * Replicas: `redisCoordination({ url, replica })` from `sparkbot/redis` when the bot runs as
   * several processes (docs/scaling.md). Each replica keeps its own device and socket; each activity
   * is handled by one replica; 429 pauses are shared; one replica is the leader. Default: none (one
   * process handles everything, and is the leader).
   */
  readonly coordination?: Coordination;
  /**
   * Where `ctx.storage` and `bot.storage` keep their values: `memoryStorage()` (the default),
   * `fileStorage(path)`, or any object with `get`, `set` and `delete` (see StorageAdapter).
   */
  readonly storage?: StorageAdapter;
  /**
   * Where sparkbot logs: any object with `debug`, `info`, `warn` and `error` (pino, console…).
   * Default: the `debug` package under `sparkbot:*` (DEBUG=sparkbot:*), and process warnings for
   * errors and warnings nobody listens to. The token is redacted either way.
   */
  readonly logger?: Logger;
}

export interface ResolvedOptions<Bot> {
  readonly token: string;
  readonly onMessage: OnMessage<Bot> | undefined;
  /** The wdmUrl option, or DEFAULT_WDM_URL when it is not set. */
  readonly wdmUrl: string;
  /** True when the WDM URL is to be found in the service catalog: wdmUrl not set, u2cUrl not false. */
  readonly discoverWdm: boolean;
  readonly apiUrl: string;
  readonly u2cUrl: string | false;
  readonly concurrency: number;
  readonly allowBotToBot: boolean;
  readonly lastConn: string | false;
  readonly deviceDesc: Readonly<Record<string, unknown>>;
  readonly settings: ConnectionSettings;
  readonly retryCount: number;
  readonly closeTimeout: number;
  readonly requestTimeout: number;
  readonly maxResponseSize: number;
  readonly maxPayload: number;
  readonly allowInsecure: boolean;
  readonly agent: Agent | undefined;
  readonly dispatcher: object | undefined;
  readonly proxy: boolean;
  readonly socketHosts: readonly string[];
  /** True when socketHosts was set: the WDM sparkbot finds does not join it. */
  readonly socketHostsGiven: boolean;
  readonly stopTimeout: number;
  readonly inspect: SparkBotOptions['inspect'];
  readonly clock: Clock | undefined;
  readonly storage: StorageAdapter | undefined;
  readonly coordination: Coordination | undefined;
  readonly logger: Logger | undefined;
}

export const DEFAULT_WDM_URL = 'https://wdm-a.wbx2.com/wdm/api/v1/devices';
export const DEFAULT_API_URL = 'https://webexapis.com/v1';
export const DEFAULT_U2C_URL = 'https://u2c.wbx2.com/u2c/api/v1';
/** The domains Webex names Mercury sockets in. */
export const WEBEX_SOCKET_HOSTS: readonly string[] = ['*.wbx2.com', '*.ciscospark.com', '*.webex.com'];

export const DEFAULT_DEVICE_DESC: Readonly<Record<string, unknown>> = {
  deviceName: 'ts-sparkbot',
  deviceType: 'DESKTOP',
  localizedModel: 'nodejs',
  model: 'nodejs',
  name: 'ts-sparkbot',
  systemName: 'ts-sparkbot',
  systemVersion: VERSION,
};

/** Largest delay setTimeout honours; longer ones fire at once. */
const MAX_DELAY = 2_147_483_647;

const DURATIONS = {
  pingEvery: { min: 1 },
  pingWait: { min: 1 },
  reconnectSleep: { min: 1 },
  reconnectSleepMax: { min: 1 },
  connectTimeout: { min: 1 },
  retryTimeout: { min: 0 },
  retryAfterMax: { min: 0 },
  stableAfter: { min: 0 },
  closeTimeout: { min: 0 },
  requestTimeout: { min: 1 },
  stopTimeout: { min: 0 },
} as const;

const KNOWN = new Set([
  'coordination',
  'token',
  'onMessage',
  'wdmUrl',
  'apiUrl',
  'lastConn',
  'deviceDesc',
  'reconnect',
  'retryCount',
  'maxPayload',
  'maxResponseSize',
  'allowInsecure',
  'u2cUrl',
  'concurrency',
  'allowBotToBot',
  'agent',
  'dispatcher',
  'proxy',
  'socketHosts',
  'inspect',
  'clock',
  'storage',
  'logger',
  ...Object.keys(DURATIONS),
]);

function invalid(message: string): SparkBotError {
  return new SparkBotError('INVALID_OPTION', message);
}

function checkToken(token: unknown): string {
  if (token === undefined || token === null || token === '') {
    throw invalid('the token option is required: pass the bot access token from developer.webex.com (e.g. token: process.env.WEBEX_TOKEN)');
  }
  if (typeof token !== 'string') throw invalid(`the token option must be a string, got ${typeof token}`);
  const trimmed = token.trim();
  if (trimmed === '') throw invalid('the token option is blank');
  if (/^bearer\s/i.test(trimmed)) throw invalid('the token option starts with "Bearer ": pass the token alone');
  if (/\s/.test(trimmed)) throw invalid('the token option contains whitespace or a line break inside it: copy the token again');
  // Webex tokens are printable ASCII; anything else (a zero-width space, a control character, a
  // curly quote from a document) would be refused by Webex at every attempt, for ever.
  const odd = /[^\x21-\x7e]/u.exec(trimmed);
  if (odd) {
    const code = odd[0].codePointAt(0) ?? 0;
    const what = /\p{Cc}/u.test(odd[0]) ? 'a control character' : /\p{Cf}/u.test(odd[0]) ? 'an invisible character' : 'a character that is not printable ASCII';
    throw invalid(`the token option contains ${what} (U+${code.toString(16).toUpperCase().padStart(4, '0')}) at position ${odd.index + 1}: copy the token again, as plain text`);
  }
  return trimmed;
}

function checkUrl(name: string, value: unknown, fallback: string, allowInsecure: boolean): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw invalid(`${name} must be a URL string, got ${typeof value}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`${name} is not a valid URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol === 'http:' && !allowInsecure) throw invalid(`${name} uses http:, which would send the token in clear text; use https: or set allowInsecure: true (emulator, tests)`);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(`${name} must be an https: URL, got ${url.protocol}`);
  if (url.username || url.password) throw invalid(`${name} must not contain credentials`);
  return value;
}

function checkDuration(name: keyof typeof DURATIONS, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const { min } = DURATIONS[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${name} must be a number of milliseconds, got ${describe(value)}`);
  if (value < min) throw invalid(`${name} must be ${min === 0 ? 'zero or more' : 'at least 1'} milliseconds, got ${value}`);
  if (value > MAX_DELAY) throw invalid(`${name} must be at most ${MAX_DELAY} milliseconds (about 24.8 days), got ${value}`);
  return value;
}

/**
 * Durations that make no sense below a second against Webex: such a value is almost certainly
 * seconds (AnyEvent::SparkBot counted pingEvery, pingWait and retryTimeout in seconds).
 */
const AT_LEAST_A_SECOND = ['pingEvery', 'pingWait', 'connectTimeout', 'requestTimeout', 'retryTimeout', 'reconnectSleepMax'] as const;

/** Refuses a duration of 1 to 999 ms among AT_LEAST_A_SECOND; `allowInsecure` (the emulator, tests) permits them. */
function checkNotSeconds(values: Readonly<Record<(typeof AT_LEAST_A_SECOND)[number], number>>, allowInsecure: boolean): void {
  if (allowInsecure) return;
  for (const name of AT_LEAST_A_SECOND) {
    const value = values[name];
    if (value > 0 && value < 1000) {
      throw invalid(
        `${name} is ${value} milliseconds: durations are in milliseconds — for ${value} seconds write ${name}: ${value * 1000} (values under 1000 ms are refused against Webex; with allowInsecure, e.g. on the emulator, they are allowed)`,
      );
    }
  }
}

function checkMethods(name: string, value: unknown, methods: readonly string[], hint: string): void {
  if (value === undefined) return;
  const missing = typeof value === 'object' && value !== null ? methods.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function') : methods;
  if (missing.length > 0) throw invalid(`${name} must be an object with ${methods.join(', ')} methods (${hint}); ${typeof value === 'object' && value !== null ? `it lacks ${missing.join(', ')}` : `got ${describe(value)}`}`);
}

function checkBoolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(`${name} must be true or false, got ${describe(value)}`);
  return value;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'number' ? String(value) : typeof value;
}

/**
 * The default last-connection path. `wdmUrl` is the option (DEFAULT_WDM_URL when it is not set),
 * never a discovered one: the path of a bot does not change with what the catalog says, and the
 * file of a bot that ran before discovery existed is found again.
 */
/** With replicas, each keeps its device in a file of its own: `bot.json` → `bot.<replica>.json`. */
function replicaFile(path: string | false, replica: string | undefined): string | false {
  if (path === false || replica === undefined) return path;
  const name = basename(path);
  const dot = name.lastIndexOf('.');
  const safe = replica.replace(/[^\w.-]/g, '_');
  return join(dirname(path), dot > 0 ? `${name.slice(0, dot)}.${safe}${name.slice(dot)}` : `${name}.${safe}`);
}

export function defaultLastConn(wdmUrl: string, token: string, replica?: string): string {
  // A replica (coordination) has a device of its own: its name is in the hash (a lone bot's file is unchanged).
  const hash = createHash('sha256').update(`${wdmUrl}\n${token}${replica === undefined ? '' : `\n${replica}`}`).digest('hex').slice(0, 16);
  return join(homedir(), '.sparkbot', `last-connection-${hash}.json`);
}

export function resolveOptions<Bot>(options: SparkBotOptions<Bot>): ResolvedOptions<Bot> {
  if (typeof options !== 'object' || options === null) throw invalid('new SparkBot(options) needs an options object with at least { token }');
  const unknown = Object.keys(options).filter((key) => !KNOWN.has(key));
  if (unknown.length > 0) throw invalid(`unknown option${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (see the options table in the README)`);
  const token = checkToken(options.token);
  const allowInsecure = checkBoolean('allowInsecure', options.allowInsecure, false);
  const wdmUrl = checkUrl('wdmUrl', options.wdmUrl, DEFAULT_WDM_URL, allowInsecure);
  const apiUrl = checkUrl('apiUrl', options.apiUrl, DEFAULT_API_URL, allowInsecure);
  const u2cUrl = options.u2cUrl === false ? false : checkUrl('u2cUrl', options.u2cUrl, DEFAULT_U2C_URL, allowInsecure);
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000) throw invalid(`concurrency must be a whole number from 1 to 1000, got ${describe(concurrency)}`);

  if (options.onMessage !== undefined && typeof options.onMessage !== 'function') throw invalid(`onMessage must be a function, got ${typeof options.onMessage}`);
  if (options.lastConn !== undefined && options.lastConn !== false && (typeof options.lastConn !== 'string' || options.lastConn.trim() === '')) {
    throw invalid('lastConn must be a file path or false');
  }
  if (options.deviceDesc !== undefined && (typeof options.deviceDesc !== 'object' || options.deviceDesc === null || Array.isArray(options.deviceDesc))) {
    throw invalid('deviceDesc must be an object (the device description posted to WDM)');
  }
  const retryCount = options.retryCount ?? 1;
  if (!Number.isInteger(retryCount) || retryCount < 0) throw invalid(`retryCount must be a whole number, zero or more, got ${describe(retryCount)}`);
  const maxPayload = options.maxPayload ?? 4 * 1024 * 1024;
  if (!Number.isInteger(maxPayload) || maxPayload < 1024) throw invalid(`maxPayload must be a whole number of bytes, at least 1024, got ${describe(maxPayload)}`);
  if (options.inspect !== undefined && typeof options.inspect !== 'function' && typeof options.inspect !== 'object') throw invalid('inspect must be a function or an observer object');
  if (options.agent !== undefined && (typeof options.agent !== 'object' || options.agent === null)) throw invalid('agent must be an http.Agent');
  if (options.dispatcher !== undefined && (typeof options.dispatcher !== 'object' || options.dispatcher === null)) throw invalid('dispatcher must be an undici Dispatcher (e.g. new ProxyAgent(url) from undici)');
  if (options.socketHosts !== undefined && (!Array.isArray(options.socketHosts) || options.socketHosts.some((h) => typeof h !== 'string' || !/^(\*\.)?[a-z0-9.-]+$/i.test(h)))) {
    throw invalid('socketHosts must be a list of host names or *.suffix patterns');
  }
  if (options.clock !== undefined && (typeof options.clock?.setTimeout !== 'function' || typeof options.clock?.clearTimeout !== 'function')) {
    throw invalid('clock must have setTimeout and clearTimeout');
  }
  checkMethods('storage', options.storage, ['get', 'set', 'delete'], 'e.g. memoryStorage() or fileStorage(path) from sparkbot');
  if (options.coordination !== undefined && !isCoordination(options.coordination)) throw invalid("coordination must be a coordination, e.g. redisCoordination({ url, replica }) from 'sparkbot/redis'");
  checkMethods('logger', options.logger, ['debug', 'info', 'warn', 'error'], 'e.g. console, or a pino logger');

  const settings: ConnectionSettings = {
    pingEvery: checkDuration('pingEvery', options.pingEvery, DEFAULT_SETTINGS.pingEvery),
    pingWait: checkDuration('pingWait', options.pingWait, DEFAULT_SETTINGS.pingWait),
    reconnectSleep: checkDuration('reconnectSleep', options.reconnectSleep, DEFAULT_SETTINGS.reconnectSleep),
    reconnectSleepMax: checkDuration('reconnectSleepMax', options.reconnectSleepMax, DEFAULT_SETTINGS.reconnectSleepMax),
    connectTimeout: checkDuration('connectTimeout', options.connectTimeout, DEFAULT_SETTINGS.connectTimeout),
    retryTimeout: checkDuration('retryTimeout', options.retryTimeout, DEFAULT_SETTINGS.retryTimeout),
    retryAfterMax: checkDuration('retryAfterMax', options.retryAfterMax, DEFAULT_SETTINGS.retryAfterMax),
    stableAfter: checkDuration('stableAfter', options.stableAfter, DEFAULT_SETTINGS.stableAfter),
    reconnect: checkBoolean('reconnect', options.reconnect, DEFAULT_SETTINGS.reconnect),
    verifyDeviceAfter: DEFAULT_SETTINGS.verifyDeviceAfter,
  };
  const requestTimeout = checkDuration('requestTimeout', options.requestTimeout, 30_000);
  checkNotSeconds({ ...settings, requestTimeout }, allowInsecure);
  const maxResponseSize = options.maxResponseSize ?? DEFAULT_MAX_RESPONSE_SIZE;
  if (!Number.isInteger(maxResponseSize) || maxResponseSize < 1024) throw invalid(`maxResponseSize must be a whole number of bytes, at least 1024, got ${describe(maxResponseSize)}`);
  if (settings.reconnectSleepMax < settings.reconnectSleep) {
    throw invalid(`reconnectSleepMax (${settings.reconnectSleepMax}) must not be below reconnectSleep (${settings.reconnectSleep})`);
  }

  return {
    token,
    onMessage: options.onMessage,
    wdmUrl,
    discoverWdm: options.wdmUrl === undefined && u2cUrl !== false,
    apiUrl,
    u2cUrl,
    concurrency,
    allowBotToBot: checkBoolean('allowBotToBot', options.allowBotToBot, false),
    lastConn: options.lastConn === undefined ? defaultLastConn(wdmUrl, token, options.coordination?.replica) : replicaFile(options.lastConn, options.coordination?.replica),
    deviceDesc: { ...DEFAULT_DEVICE_DESC, ...(options.deviceDesc ?? {}) },
    settings,
    retryCount,
    closeTimeout: checkDuration('closeTimeout', options.closeTimeout, 2_000),
    requestTimeout,
    maxResponseSize,
    maxPayload,
    allowInsecure,
    agent: options.agent,
    dispatcher: options.dispatcher,
    proxy: checkBoolean('proxy', options.proxy, true),
    socketHosts: options.socketHosts ?? [...WEBEX_SOCKET_HOSTS, new URL(wdmUrl).hostname],
    socketHostsGiven: options.socketHosts !== undefined,
    stopTimeout: checkDuration('stopTimeout', options.stopTimeout, 10_000),
    inspect: options.inspect,
    clock: options.clock,
    storage: options.storage,
    coordination: options.coordination,
    logger: options.logger,
  };
}
