/**
 * The model of the connection machine for model-based testing: which events can happen in each
 * state (with the payloads the socket and device services would send), which of them can be driven
 * on the real system, and how model states are told apart. The transitions themselves come from
 * machines/connection.ts: nothing here copies them.
 */
import type { EventFromLogic, SnapshotFrom, StateValue } from 'xstate';
import { TestModel } from 'xstate/graph';
import { connectionMachine, type ConnectionInput, type DeviceFailure, type DeviceOutput } from '../../machines/connection.js';
import { classifyClose } from '../../src/protocol/close-codes.js';
import { stateNodesOf } from '../../scripts/machine-graph.js';
import { modelLogic, planPaths, type ModelLogic, type Plan } from './model.js';

export type ConnectionSnapshot = SnapshotFrom<typeof connectionMachine>;
/** The machine's own events plus the service and delay events XState makes. */
export type ConnectionModelEvent = EventFromLogic<typeof connectionMachine>;

/** Test bookkeeping the snapshot cannot hold. */
export interface ConnectionShadow {
  /** LINK_STABLE is scheduled (by READY) and has not fired: it lives in the actor system's scheduler. */
  readonly linkStablePending: boolean;
  /** `pingEvery` ran out and the socket service was asked for the silence (CHECK_SILENCE): it answers at once, with SILENCE. */
  readonly silenceAsked: boolean;
}

/** What the device service answers in the model (the real one answers with the emulator's device). */
const MODEL_DEVICE = { url: 'model:device', webSocketUrl: 'model:socket' } as const;

/** HTTP statuses a device request is answered with; each selects another `onError` candidate. */
export const DEVICE_ERROR_STATUSES = [429, 401, 403, 500] as const;
/** HTTP statuses a socket handshake is refused with. */
export const HANDSHAKE_STATUSES = [404, 429, 401, 403, 500] as const;
/** Closes the server can send: fatal, plain reconnect, reconnect with a new registration. */
export const CLOSES = [
  { code: 4403, reason: 'Forbidden' },
  { code: 1011, reason: 'Server error' },
  { code: 4404, reason: 'NotFound' },
] as const;
const OTHER_PONG = 'another-id';
/** In the model, traffic before `pingEvery` ran out came this many ms before it did (the driver sends a frame then). */
export const TRAFFIC_BEFORE_CHECK = 1_000;
const UNASKED_PONG = 'unasked';
/** Retry-After of every 429 in the model, in seconds. */
export const RETRY_AFTER_SECONDS = 7;

export type LeafState = 'idle' | 'fetchingUrl' | 'connecting' | 'open' | 'awaitingPong' | 'backoff' | 'rateLimited' | 'failed';

export function leafOf(value: StateValue): LeafState {
  let current: StateValue = value;
  while (typeof current === 'object') {
    const [key] = Object.keys(current);
    const child: StateValue | undefined = key === undefined ? undefined : current[key];
    if (child === undefined) return key as LeafState;
    current = child;
  }
  return current as LeafState;
}

/** True when the device service will ask WDM (register, or check the device), i.e. when a device request can fail. */
export function deviceRequestExpected(context: ConnectionSnapshot['context']): boolean {
  return context.device === null || context.deviceStale || context.attempt >= context.verifyDeviceAfter;
}

/** The delayed events (`xstate.after.<delay>.<state id>`) of the active state nodes, read from the machine. */
export function delayedEvents(snapshot: ConnectionSnapshot): ConnectionModelEvent[] {
  return snapshot._nodes.flatMap((node) => node.after.map((t) => ({ type: t.eventType }) as unknown as ConnectionModelEvent));
}

/** A delayed event's delay name (`pingEvery`), or undefined for any other event. */
export function delayOf(event: { type: string }): string | undefined {
  for (const node of [connectionMachine.root, ...stateNodesOf(connectionMachine)]) {
    const after = node.after.find((t) => t.eventType === event.type);
    if (after) return String(after.delay);
  }
  return undefined;
}

const event = (e: Record<string, unknown> & { type: string }) => e as unknown as ConnectionModelEvent;

/** Every event the model offers in `snapshot`, with the payload the real services would send now. */
export function modelEvents(snapshot: ConnectionSnapshot): ConnectionModelEvent[] {
  const { context } = snapshot;
  const generation = context.generation;
  const leaf = leafOf(snapshot.value);
  const ready = leaf === 'open' || leaf === 'awaitingPong';
  const done: DeviceOutput = { device: MODEL_DEVICE, registered: context.device === null || context.deviceStale };
  return [
    event({ type: 'START' }),
    event({ type: 'STOP' }),
    event({ type: 'xstate.done.actor.device', actorId: 'device', output: done }),
    ...DEVICE_ERROR_STATUSES.map((status) =>
      event({
        type: 'xstate.error.actor.device',
        actorId: 'device',
        error: { status, message: `HTTP ${status}`, ...(status === 429 ? { retryAfter: RETRY_AFTER_SECONDS * 1000 } : {}) } satisfies DeviceFailure,
      }),
    ),
    event({ type: 'xstate.error.actor.socket', actorId: 'socket', error: new Error('the socket could not be created') }),
    event({ type: 'READY', generation }),
    event({ type: 'FRAME', generation }),
    // The socket service's answers to CHECK_SILENCE: silent for all of pingEvery, or traffic a moment ago.
    event({ type: 'SILENCE', generation, ms: context.pingEvery }),
    event({ type: 'SILENCE', generation, ms: TRAFFIC_BEFORE_CHECK }),
    ...(leaf === 'awaitingPong'
      ? [event({ type: 'PONG', generation, id: context.pingId ?? '' }), event({ type: 'PONG', generation, id: OTHER_PONG })]
      : [event({ type: 'PONG', generation, id: UNASKED_PONG })]),
    ...HANDSHAKE_STATUSES.map((status) =>
      event({ type: 'SOCKET_REJECTED', generation, status, ...(status === 429 ? { retryAfter: RETRY_AFTER_SECONDS * 1000 } : {}) }),
    ),
    ...CLOSES.map(({ code, reason }) => event({ type: 'SOCKET_CLOSED', generation, code, reason, verdict: classifyClose(code, reason, ready) })),
    event({ type: 'LINK_STABLE' }),
    ...delayedEvents(snapshot),
  ];
}

/**
 * Which offered events the machine accepts and the real system can produce here:
 * - a device error needs a device request: a reused device costs none, and then the service
 *   answers at once, so nothing but its answer can happen in that `fetchingUrl`;
 * - the socket service fails only as it starts (in `connecting`);
 * - LINK_STABLE fires only while scheduled, and, as `stableAfter < pingEvery`, before `pingEvery`;
 * - SILENCE answers CHECK_SILENCE, at once: only then, and nothing else in between.
 */
export function drivable(logic: ModelLogic<typeof connectionMachine, ConnectionShadow>) {
  return (snapshot: ConnectionSnapshot, e: ConnectionModelEvent): boolean => {
    if (!snapshot.can(e)) return false;
    const { linkStablePending, silenceAsked } = logic.shadow(snapshot);
    const type: string = e.type;
    if (silenceAsked !== (type === 'SILENCE')) return false;
    // With a reused device the service answers at once: nothing else can happen in between.
    if (leafOf(snapshot.value) === 'fetchingUrl' && !deviceRequestExpected(snapshot.context)) return type === 'xstate.done.actor.device';
    if (type === 'xstate.error.actor.device') return deviceRequestExpected(snapshot.context);
    if (type === 'xstate.error.actor.socket') return leafOf(snapshot.value) === 'connecting';
    if (type === 'LINK_STABLE') return linkStablePending;
    if (delayOf(e) === 'pingEvery') return !linkStablePending;
    return true;
  };
}

/**
 * A model state: the state value and only what guards and drivability read: `reconnect`
 * (`reconnect disabled`), `deviceFresh` (`device was just registered`), whether a device request is
 * made (device known, stale, attempts up to `verifyDeviceAfter`), and the LINK_STABLE timer.
 * Generations, ping ids, delays and counters are left out, so the state space is finite.
 */
export function serializer(logic: ModelLogic<typeof connectionMachine, ConnectionShadow>) {
  return (snapshot: ConnectionSnapshot): string => {
    const c = snapshot.context;
    const device = c.device === null ? 'none' : c.deviceStale ? 'stale' : c.deviceFresh ? 'fresh' : 'trusted';
    const attempts = Math.min(c.attempt, c.verifyDeviceAfter);
    const { linkStablePending, silenceAsked } = logic.shadow(snapshot);
    const link = linkStablePending ? ' linkStable' : '';
    const silence = silenceAsked ? ' silenceAsked' : '';
    return `${JSON.stringify(snapshot.value)} reconnect=${c.reconnect} device=${device} attempts=${attempts} silentFor=${c.silentFor}${link}${silence}`;
  };
}

const ONLINE = connectionMachine.getStateNodeById('connection.online');

export function connectionLogic(): ModelLogic<typeof connectionMachine, ConnectionShadow> {
  return modelLogic<typeof connectionMachine, ConnectionShadow>(connectionMachine, {
    initial: { linkStablePending: false, silenceAsked: false },
    next: ({ shadow, event: e, next, taken }) => {
      if (!next._nodes.includes(ONLINE)) return { linkStablePending: false, silenceAsked: false };
      const actions = taken.flatMap((key) => actionsOf(key));
      const silenceAsked = actions.includes('check silence');
      if (actions.includes('schedule link stable')) return { linkStablePending: true, silenceAsked };
      if (e.type === 'LINK_STABLE') return { linkStablePending: false, silenceAsked };
      return { ...shadow, silenceAsked };
    },
  });
}

function actionsOf(key: string): string[] {
  const [source = '', eventType = '', index = '0'] = key.split('|');
  const node = connectionMachine.getStateNodeById(source);
  const candidates = eventType === '' ? (node.always ?? []) : (node.transitions.get(eventType) ?? []);
  const definition = candidates[Number(index)];
  return (definition?.actions ?? []).map((a) => (typeof a === 'string' ? a : ((a as { type?: string }).type ?? '')));
}

/**
 * An event as the model tells events apart: its type and what selects a transition (status, close
 * code, whether a pong carries the ping's id), not generations or ids that differ run to run.
 */
export function eventVariant(e: ConnectionModelEvent): string {
  const fields = e as unknown as Record<string, unknown>;
  switch (fields.type) {
    case 'xstate.done.actor.device':
      return `${e.type} ${(fields.output as DeviceOutput).registered ? 'registered' : 'reused'}`;
    case 'xstate.error.actor.device':
      return `${e.type} ${String((fields.error as DeviceFailure).status)}`;
    case 'SOCKET_REJECTED':
      return `${e.type} ${String(fields.status)}`;
    case 'SOCKET_CLOSED':
      return `${e.type} ${String(fields.code)}`;
    case 'SILENCE':
      return `${e.type} ${fields.ms === TRAFFIC_BEFORE_CHECK ? 'traffic' : 'silent'}`;
    case 'PONG':
      return `${e.type} ${fields.id === UNASKED_PONG ? 'unasked' : fields.id === OTHER_PONG ? 'another id' : 'its id'}`;
    default:
      return e.type;
  }
}

export interface ConnectionModel {
  readonly input: ConnectionInput;
  readonly logic: ModelLogic<typeof connectionMachine, ConnectionShadow>;
  readonly model: TestModel<ConnectionSnapshot, ConnectionModelEvent, unknown>;
  readonly serialize: (snapshot: ConnectionSnapshot) => string;
  readonly plan: Plan<typeof connectionMachine>;
}

/** The model of a bot with these settings, and the paths that cover what it can reach. */
export function connectionModel(input: ConnectionInput): ConnectionModel {
  const logic = connectionLogic();
  const serialize = serializer(logic);
  const model = new TestModel<ConnectionSnapshot, ConnectionModelEvent, unknown>(logic.logic as never, {
    input,
    events: modelEvents,
    filterEvents: drivable(logic),
    serializeState: serialize,
    serializeEvent: eventVariant,
  });
  const plan = planPaths(model, logic, serialize, eventVariant);
  return { input, logic, model, serialize, plan };
}
