/**
 * The connection lifecycle of a sparkbot bot, as an XState v5 machine.
 *
 * Pure: it names the services it needs (`device`, `socket`) and the effects it asks for
 * (`persist device`), and sparkbot's src/actors provide them with `machine.provide()`. No I/O,
 * no secrets, no Node imports: paste this file into the Stately editor as it is.
 *
 * States (design.md): idle, fetchingUrl, online (connecting, open, awaitingPong), backoff,
 * rateLimited, failed. Every delay is named and read from context.
 */
import { and, assign, cancel, enqueueActions, fromCallback, fromPromise, raise, sendTo, setup } from 'xstate';

/** A device registration as the machine knows it. No token: that lives in the actors' closures. */
export interface DeviceRef {
  /** The WDM device URL (`https://wdm…/devices/<uuid>`). */
  readonly url: string;
  /** The Mercury socket URL WDM gave for this device. */
  readonly webSocketUrl: string;
}

export interface DeviceInput {
  /** The device in use, if any; null on the first start (the service may load a saved one). */
  readonly device: DeviceRef | null;
  /** True when the socket proved `device` stale: register a new one, delete the old one. */
  readonly stale: boolean;
  /** True after repeated failed attempts: ask WDM whether `device` still exists before reusing it. */
  readonly verify: boolean;
}

export interface DeviceOutput {
  readonly device: DeviceRef;
  /** True when the device was registered now (rather than reused). */
  readonly registered: boolean;
}

/** What the device service rejects with: an HTTP status when there was an answer. */
export interface DeviceFailure {
  readonly message: string;
  readonly status?: number;
  /** Milliseconds from a `Retry-After` header, when one was usable. */
  readonly retryAfter?: number;
}

export interface SocketInput {
  readonly url: string;
  readonly generation: number;
}

/** What the machine tells the socket service. */
export type SocketCommand =
  | { readonly type: 'PING'; readonly id: string }
  /** `pingEvery` ran out: answer SILENCE with the ms since the last inbound frame. */
  | { readonly type: 'CHECK_SILENCE' }
  /** Sent as `online` is left: `graceful` closes with 1000 (STOP), otherwise the socket is terminated. */
  | { readonly type: 'CLOSE'; readonly graceful: boolean };

/** How the machine classifies a close; computed by the socket service (src/protocol/close-codes). */
export type CloseVerdict =
  | { readonly action: 'reconnect'; readonly reregister: boolean; readonly why: string }
  | { readonly action: 'fatal'; readonly reason: string; readonly why: string };

/** Events the socket service sends; each carries the generation of the socket it comes from. */
export type SocketEvent =
  /** The first readiness frame (`mercury.buffer_state`) after the authorization frame. */
  | { readonly type: 'READY'; readonly generation: number }
  /**
   * Inbound traffic while a ping is out (the first frame after a PING command). The service
   * delivers every envelope itself (and acks it): frames do not go through the machine.
   */
  | { readonly type: 'FRAME'; readonly generation: number }
  | { readonly type: 'PONG'; readonly generation: number; readonly id: string }
  /** The answer to CHECK_SILENCE: ms of inbound silence (every frame counts, pongs included), by the service's clock. */
  | { readonly type: 'SILENCE'; readonly generation: number; readonly ms: number }
  /** The upgrade was answered with an HTTP status instead of 101. */
  | { readonly type: 'SOCKET_REJECTED'; readonly generation: number; readonly status: number; readonly retryAfter?: number }
  | { readonly type: 'SOCKET_CLOSED'; readonly generation: number; readonly code: number; readonly reason: string; readonly verdict: CloseVerdict };

export type ConnectionEvent =
  | { readonly type: 'START' }
  | { readonly type: 'STOP' }
  /** Raised internally once the link has stayed open for `stableAfter`. */
  | { readonly type: 'LINK_STABLE' }
  | SocketEvent;

/** Why the machine is in `failed`. */
export interface Failure {
  /** 'unauthorized' | 'forbidden' | 'bad-request' | 'replaced' | 'closed' */
  readonly reason: string;
  readonly message: string;
  readonly status?: number;
  readonly closeCode?: number;
}

export interface ConnectionSettings {
  /** ms of inbound silence before a ping. */
  readonly pingEvery: number;
  /** ms to wait for the pong. */
  readonly pingWait: number;
  /** ms, ceiling of the first backoff delay. */
  readonly reconnectSleep: number;
  /** ms, cap of the backoff delay. */
  readonly reconnectSleepMax: number;
  /** ms from socket start to READY. */
  readonly connectTimeout: number;
  /** ms to wait after a 429 without a usable Retry-After. */
  readonly retryTimeout: number;
  /** ms, cap of any Retry-After. */
  readonly retryAfterMax: number;
  /** ms the link must stay open before the backoff starts again from reconnectSleep. */
  readonly stableAfter: number;
  /** false: a lost connection ends in `idle` instead of reconnecting. */
  readonly reconnect: boolean;
  /** After this many attempts in a row without a stable link, the device is checked with WDM before reuse. */
  readonly verifyDeviceAfter: number;
}

export type ConnectionInput = Partial<ConnectionSettings>;

export interface ConnectionContext extends ConnectionSettings {
  readonly device: DeviceRef | null;
  readonly deviceStale: boolean;
  /** True from a new registration until a socket of that device is ready. */
  readonly deviceFresh: boolean;
  /** Generation of the current socket; events from older sockets are ignored. */
  readonly generation: number;
  /** Connection attempts since the link was last stable. */
  readonly attempt: number;
  /** The delay chosen for the current backoff (jittered). */
  readonly backoffDelay: number;
  /** The wait chosen for the current rate limit. */
  readonly retryAfter: number;
  readonly pingId: string | null;
  readonly pingCount: number;
  /** ms of inbound silence already passed when the `pingEvery` timer was armed (0 after READY or a pong): it waits the rest. */
  readonly silentFor: number;
  /** Times the machine went from online back to fetchingUrl or backoff. */
  readonly reconnects: number;
  readonly lastClose: { readonly code: number; readonly reason: string } | null;
  readonly lastError: string | null;
  readonly failure: Failure | null;
}


export const DEFAULT_SETTINGS: ConnectionSettings = {
  pingEvery: 60_000,
  pingWait: 10_000,
  reconnectSleep: 1_000,
  reconnectSleepMax: 32_000,
  connectTimeout: 30_000,
  retryTimeout: 10_000,
  retryAfterMax: 3_600_000,
  stableAfter: 30_000,
  reconnect: true,
  verifyDeviceAfter: 3,
};

/**
 * Exponential backoff with full jitter: a delay drawn uniformly from
 * [0, min(max, base · 2^(attempt−1))]. `random` is in [0, 1).
 */
export function reconnectDelay(attempt: number, base: number, max: number, random: number): number {
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random * ceiling);
}

function statusOf(error: unknown): number | undefined {
  const status = (error as DeviceFailure | undefined)?.status;
  return typeof status === 'number' ? status : undefined;
}

function messageOf(error: unknown): string {
  const message = (error as DeviceFailure | undefined)?.message;
  return typeof message === 'string' ? message : String(error);
}

/** Retry-After, else retryTimeout; never below reconnectSleep (a "retry now" must not spin) nor above retryAfterMax. */
function clampRetryAfter(context: ConnectionContext, retryAfter: number | undefined): number {
  const wait = retryAfter === undefined || !Number.isFinite(retryAfter) || retryAfter < 0 ? context.retryTimeout : retryAfter;
  return Math.min(Math.max(wait, context.reconnectSleep), context.retryAfterMax);
}

export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
    input: {} as ConnectionInput,
  },
  actors: {
    device: fromPromise<DeviceOutput, DeviceInput>(async () => {
      throw { message: 'no device service was provided' } satisfies DeviceFailure;
    }),
    socket: fromCallback<SocketCommand, SocketInput, SocketEvent>(() => undefined),
  },
  delays: {
    /** The rest of `pingEvery` of inbound silence: all of it after READY or a pong. */
    pingEvery: ({ context }) => Math.max(0, context.pingEvery - context.silentFor),
    pingWait: ({ context }) => context.pingWait,
    connectTimeout: ({ context }) => context.connectTimeout,
    reconnectDelay: ({ context }) => context.backoffDelay,
    retryAfter: ({ context }) => context.retryAfter,
    stableAfter: ({ context }) => context.stableAfter,
  },
  guards: {
    'is current socket': ({ context, event }) => 'generation' in event && event.generation === context.generation,
    'is rate limited': ({ event }) => 'error' in event && statusOf(event.error) === 429,
    'is unauthorized': ({ event }) => 'error' in event && statusOf(event.error) === 401,
    'is forbidden': ({ event }) => 'error' in event && statusOf(event.error) === 403,
    'device was just registered': ({ context }) => context.deviceFresh,
    'handshake says device is stale': ({ event }) => event.type === 'SOCKET_REJECTED' && (event.status === 404 || event.status === 410),
    'handshake is rate limited': ({ event }) => event.type === 'SOCKET_REJECTED' && event.status === 429,
    'handshake is unauthorized': ({ event }) => event.type === 'SOCKET_REJECTED' && event.status === 401,
    'handshake is forbidden': ({ event }) => event.type === 'SOCKET_REJECTED' && event.status === 403,
    'close is fatal': ({ event }) => event.type === 'SOCKET_CLOSED' && event.verdict.action === 'fatal',
    'pong matches': ({ context, event }) => event.type === 'PONG' && event.id === context.pingId,
    'silent for pingEvery': ({ context, event }) => event.type === 'SILENCE' && event.ms >= context.pingEvery,
    'reconnect disabled': ({ context }) => !context.reconnect,
  },
  actions: {
    /** Effect: write the device to the last-connection store. Provided by src/actors/store.ts. */
    'persist device': (_, _params: { device: DeviceRef; registered: boolean }) => {},
    'reset for start': assign({ attempt: 0, failure: null, lastError: null }),
    'remember device': assign(({ event }) => {
      const output = (event as unknown as { output: DeviceOutput }).output;
      return { device: output.device, deviceStale: false, deviceFresh: output.registered };
    }),
    'begin socket generation': assign({ generation: ({ context }) => context.generation + 1, pingId: null, silentFor: 0 }),
    'close socket': enqueueActions(({ enqueue, event, self }) => {
      if (self.getSnapshot().children.socket) enqueue.sendTo('socket', { type: 'CLOSE', graceful: event.type === 'STOP' } satisfies SocketCommand);
    }),
    'trust device': assign({ deviceFresh: false }),
    'schedule link stable': raise({ type: 'LINK_STABLE' }, { id: 'linkStable', delay: 'stableAfter' }),
    'cancel link stable': cancel('linkStable'),
    'reset attempts': assign({ attempt: 0 }),
    'count reconnect': assign({ reconnects: ({ context }) => context.reconnects + 1 }),
    'choose reconnect delay': assign(({ context }) => {
      const attempt = context.attempt + 1;
      return { attempt, backoffDelay: reconnectDelay(attempt, context.reconnectSleep, context.reconnectSleepMax, Math.random()) };
    }),
    'choose retry after for registration': assign({
      retryAfter: ({ context, event }) => clampRetryAfter(context, 'error' in event ? (event.error as DeviceFailure).retryAfter : undefined),
      lastError: ({ event }) => ('error' in event ? messageOf(event.error) : null),
    }),
    'choose retry after for handshake': assign({
      retryAfter: ({ context, event }) => clampRetryAfter(context, event.type === 'SOCKET_REJECTED' ? event.retryAfter : undefined),
      lastError: ({ event }) => (event.type === 'SOCKET_REJECTED' ? `socket handshake answered HTTP ${event.status}` : null),
    }),
    'record registration error': assign({ lastError: ({ event }) => ('error' in event ? messageOf(event.error) : null) }),
    'fail as unauthorized': assign(({ event }) => {
      const status = 'error' in event ? statusOf(event.error) : event.type === 'SOCKET_REJECTED' ? event.status : undefined;
      const message = `Webex refused the token (HTTP ${status ?? 401}); check the bot's access token`;
      return { failure: { reason: 'unauthorized', message, ...(status === undefined ? {} : { status }) }, lastError: message };
    }),
    'fail as forbidden': assign(({ event }) => {
      const status = 'error' in event ? statusOf(event.error) : event.type === 'SOCKET_REJECTED' ? event.status : undefined;
      const message = `Webex refused access (HTTP ${status ?? 403}); the token is not entitled to use Webex messaging`;
      return { failure: { reason: 'forbidden', message, ...(status === undefined ? {} : { status }) }, lastError: message };
    }),
    'mark device stale': assign({
      deviceStale: true,
      lastError: ({ event }) => (event.type === 'SOCKET_REJECTED' ? `socket handshake answered HTTP ${event.status}: the device registration is stale` : null),
    }),
    'record handshake error': assign({
      lastError: ({ event }) => (event.type === 'SOCKET_REJECTED' ? `socket handshake answered HTTP ${event.status}` : null),
    }),
    'record close': assign(({ context, event }) => {
      if (event.type !== 'SOCKET_CLOSED') return {};
      const verdict = event.verdict;
      return {
        lastClose: { code: event.code, reason: event.reason },
        lastError: verdict.why,
        deviceStale: context.deviceStale || (verdict.action === 'reconnect' && verdict.reregister),
        failure: verdict.action === 'fatal' ? { reason: verdict.reason, message: verdict.why, closeCode: event.code } : context.failure,
      };
    }),
    'record connect timeout': assign({ lastError: ({ context }) => `no mercury.buffer_state within connectTimeout (${context.connectTimeout} ms)` }),
    'record socket error': assign({ lastError: ({ event }) => ('error' in event ? `socket service failed: ${messageOf(event.error)}` : null) }),
    'choose ping id': assign({ pingId: () => globalThis.crypto.randomUUID(), pingCount: ({ context }) => context.pingCount + 1, silentFor: 0 }),
    'check silence': sendTo('socket', { type: 'CHECK_SILENCE' } satisfies SocketCommand),
    'wait for the rest': assign({ silentFor: ({ event }) => (event.type === 'SILENCE' ? event.ms : 0) }),
    'send ping': sendTo('socket', ({ context }) => ({ type: 'PING', id: context.pingId ?? '' }) as const),
    'record pong timeout': assign({ lastError: ({ context }) => `no pong within pingWait (${context.pingWait} ms)` }),
    'record pong mismatch': assign({
      lastError: ({ context, event }) => `pong id ${event.type === 'PONG' ? event.id : '?'} does not match ping id ${context.pingId ?? '?'}`,
    }),
  },
}).createMachine({
  id: 'connection',
  context: ({ input }) => ({
    ...DEFAULT_SETTINGS,
    ...definedOnly(input),
    device: null,
    deviceStale: false,
    deviceFresh: false,
    generation: 0,
    attempt: 0,
    backoffDelay: 0,
    retryAfter: 0,
    pingId: null,
    pingCount: 0,
    silentFor: 0,
    reconnects: 0,
    lastClose: null,
    lastError: null,
    failure: null,
  }),
  initial: 'idle',
  on: {
    STOP: { target: '.idle' },
  },
  states: {
    idle: {
      on: {
        START: { target: 'fetchingUrl', actions: 'reset for start' },
      },
    },
    fetchingUrl: {
      invoke: {
        id: 'device',
        src: 'device',
        input: ({ context }) => ({ device: context.device, stale: context.deviceStale, verify: context.attempt >= context.verifyDeviceAfter }),
        onDone: {
          target: 'online',
          actions: ['remember device', { type: 'persist device', params: ({ event }) => event.output }],
        },
        onError: [
          { guard: 'is rate limited', target: 'rateLimited', actions: 'choose retry after for registration' },
          { guard: 'is unauthorized', target: 'failed', actions: 'fail as unauthorized' },
          { guard: 'is forbidden', target: 'failed', actions: 'fail as forbidden' },
          { target: 'backoff', actions: 'record registration error' },
        ],
      },
    },
    online: {
      entry: 'begin socket generation',
      exit: ['close socket', 'cancel link stable'],
      invoke: {
        id: 'socket',
        src: 'socket',
        input: ({ context }) => ({ url: context.device?.webSocketUrl ?? '', generation: context.generation }),
        onError: { target: 'backoff', actions: ['record socket error', 'count reconnect'] },
      },
      initial: 'connecting',
      on: {
        SOCKET_CLOSED: [
          { guard: and(['is current socket', 'close is fatal']), target: 'failed', actions: 'record close' },
          { guard: 'is current socket', target: 'backoff', actions: ['record close', 'count reconnect'] },
        ],
        LINK_STABLE: { actions: 'reset attempts' },
      },
      states: {
        connecting: {
          after: {
            connectTimeout: { target: '#connection.backoff', actions: ['record connect timeout', 'count reconnect'] },
          },
          on: {
            READY: { guard: 'is current socket', target: 'open', actions: ['trust device', 'schedule link stable'] },
            SOCKET_REJECTED: [
              {
                // A device registered a moment ago is stale already: do not re-register in a tight loop.
                guard: and(['is current socket', 'handshake says device is stale', 'device was just registered']),
                target: '#connection.backoff',
                actions: ['mark device stale', 'count reconnect'],
              },
              { guard: and(['is current socket', 'handshake says device is stale']), target: '#connection.fetchingUrl', actions: ['mark device stale', 'count reconnect'] },
              { guard: and(['is current socket', 'handshake is rate limited']), target: '#connection.rateLimited', actions: ['choose retry after for handshake', 'count reconnect'] },
              { guard: and(['is current socket', 'handshake is unauthorized']), target: '#connection.failed', actions: 'fail as unauthorized' },
              { guard: and(['is current socket', 'handshake is forbidden']), target: '#connection.failed', actions: 'fail as forbidden' },
              { guard: 'is current socket', target: '#connection.backoff', actions: ['record handshake error', 'count reconnect'] },
            ],
          },
        },
        open: {
          // Frames do not go through the machine: the socket service times them. When pingEvery
          // runs out it is asked how long the link has been silent: silent that long, ping;
          // otherwise wait for the rest of the interval.
          after: {
            pingEvery: { actions: 'check silence' },
          },
          on: {
            SILENCE: [
              { guard: and(['is current socket', 'silent for pingEvery']), target: 'awaitingPong' },
              { guard: 'is current socket', target: 'open', reenter: true, actions: 'wait for the rest' },
            ],
          },
        },
        awaitingPong: {
          entry: ['choose ping id', 'send ping'],
          after: {
            pingWait: { target: '#connection.backoff', actions: ['record pong timeout', 'count reconnect'] },
          },
          on: {
            PONG: [
              { guard: and(['is current socket', 'pong matches']), target: 'open' },
              { guard: 'is current socket', target: '#connection.backoff', actions: ['record pong mismatch', 'count reconnect'] },
            ],
            FRAME: { guard: 'is current socket', target: 'open' },
          },
        },
      },
    },
    backoff: {
      entry: 'choose reconnect delay',
      always: { guard: 'reconnect disabled', target: 'idle' },
      after: {
        reconnectDelay: { target: 'fetchingUrl' },
      },
    },
    rateLimited: {
      after: {
        retryAfter: { target: 'fetchingUrl' },
      },
    },
    failed: {
      on: {
        START: { target: 'fetchingUrl', actions: 'reset for start' },
      },
    },
  },
});

function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  const out: Partial<T> = {};
  if (!value) return out;
  for (const [key, v] of Object.entries(value)) {
    if (v !== undefined) (out as Record<string, unknown>)[key] = v;
  }
  return out;
}

export type ConnectionMachine = typeof connectionMachine;

/** The leaf state names, as `bot.state` reports them. */
export type ConnectionStateName = 'idle' | 'fetchingUrl' | 'connecting' | 'open' | 'awaitingPong' | 'backoff' | 'rateLimited' | 'failed';
