/**
 * Model-based tests of the connection machine (issue 4): xstate/graph walks machines/connection.ts
 * itself, and every step of every chosen path is played on a real SparkBot against the real
 * WebexEmulator on loopback, with the TestClock driving the machine's delays. After each step the
 * bot must be in the model's state, its machine must have taken the model's transitions, and the
 * emulator must see what that state means (one socket in open, one ping out in awaitingPong, no
 * traffic in failed, …). The transitions the real machine took are counted against every
 * transition of the machine's definition.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Agent, type ClientRequest } from 'node:http';
import { test, type TestContext } from 'node:test';
import type { StatePath, TestParam } from 'xstate/graph';
import { connectionMachine, type ConnectionContext } from '../../machines/connection.js';
import { stateNodesOf } from '../../scripts/machine-graph.js';
import { harness, type Harness } from '../support/helpers.js';
import {
  connectionModel,
  delayOf,
  deviceRequestExpected,
  eventVariant,
  leafOf,
  RETRY_AFTER_SECONDS,
  TRAFFIC_BEFORE_CHECK,
  type ConnectionModel,
  type ConnectionModelEvent,
  type ConnectionSnapshot,
  type LeafState,
} from './connection-model.js';
import { allTransitionKeys, TransitionRecorder, type ModelStep, type PlannedPath } from './model.js';

/** The bot's timings. `stableAfter < pingEvery`: LINK_STABLE fires before the first ping (see drivable()). */
const SETTINGS = {
  pingEvery: 60_000,
  pingWait: 10_000,
  stableAfter: 30_000,
  connectTimeout: 30_000,
  reconnectSleep: 1_000,
  reconnectSleepMax: 32_000,
  retryTimeout: 10_000,
  retryAfterMax: 3_600_000,
} as const;
assert.ok(SETTINGS.stableAfter < SETTINGS.pingEvery);

type Path = PlannedPath<typeof connectionMachine>;
type Step = ModelStep<typeof connectionMachine>;

const DEVICES = '/wdm/api/v1/devices';
/** The requests the driver holds at the emulator until the model's next event says how they end. */
const GATED = [`POST ${DEVICES}`, `GET ${DEVICES}`, 'WS /mercury/*'] as const;
type Gated = (typeof GATED)[number];

/**
 * The transport of the socket's upgrade request (the bot's `agent` option). It fails on demand the
 * way a broken proxy agent does: synchronously, inside `new WebSocket()`, which is the one outside
 * cause that makes the socket service itself throw (`xstate.error.actor.socket`).
 */
class TransportAgent extends Agent {
  private failures = 0;

  failNextSocket(): void {
    this.failures += 1;
  }

  get armed(): number {
    return this.failures;
  }

  /** How http.request hands a request to its agent (synchronously, from its constructor). */
  addRequest(request: ClientRequest, options: unknown): void {
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('emulated transport failure: the agent could not open a socket');
    }
    (Agent.prototype as unknown as { addRequest(r: ClientRequest, o: unknown): void }).addRequest.call(this, request, options);
  }
}

/** The event's type, including XState's own (`xstate.done.actor.device`, …) that the machine's event type does not list. */
const typeOf = (e: ConnectionModelEvent): string => e.type;
const field = (e: ConnectionModelEvent, key: string): unknown => (e as unknown as Record<string, unknown>)[key];

/** A readable name for a model event (payloads hold generations and ids that differ run to run). */
function describeEvent(event: ConnectionModelEvent): string {
  const delay = delayOf(event);
  if (delay) return `after ${delay}`;
  return eventVariant(event)
    .replace('xstate.done.actor.device', 'device')
    .replace('xstate.error.actor.device', 'device error')
    .replace('xstate.error.actor.socket', 'socket service error')
    .replace('SOCKET_REJECTED', 'handshake')
    .replace('SOCKET_CLOSED', 'close')
    .replace(/^SILENCE (.*)$/, 'SILENCE ($1)')
    .replace(/^PONG (.*)$/, 'PONG ($1)');
}

function describePath(path: Path): string {
  return path.steps
    .slice(1)
    .map((step) => `${describeEvent(step.event)} → ${leafOf(step.state.value)}`)
    .join(', ');
}

/** Plays one model path on a real bot and emulator; returns the transitions the bot's machine took. */
class ConnectionDriver {
  private readonly holds = new Map<Gated, { release(): void }>();
  /** Gated requests waiting now, and the route of the last one. */
  private waiting = 0;
  private heldRoute: Gated | undefined;
  private heldTotal = 0;
  private index = 0;
  private readonly leaves: LeafState[] = ['idle'];
  /** Pings the bot had sent when it was last in open (a new awaitingPong must add exactly one). */
  private pingsSeen = 0;
  /** Traffic when a quiet state was checked; the next step first checks that nothing came since. */
  private quietTraffic: number | undefined;
  private registrationsBefore = 0;
  private deletionsBefore = 0;

  constructor(
    private readonly h: Harness,
    private readonly agent: TransportAgent,
    private readonly recorder: TransitionRecorder,
    private readonly model: ConnectionModel,
    private readonly path: Path,
  ) {
    for (const route of GATED) this.holds.set(route, h.emulator.hold(route));
    h.emulator.on('held', ({ method }: { method: string }) => {
      this.waiting += 1;
      this.heldTotal += 1;
      this.heldRoute = method === 'WS' ? 'WS /mercury/*' : method === 'GET' ? `GET ${DEVICES}` : `POST ${DEVICES}`;
    });
    // Pongs are sent by the driver, so that awaitingPong lasts until the model's next event.
    h.emulator.setPongMode('ignore');
  }

  /** Runs the path through TestModel.testPath: `exec` for each event, `check` for each state. */
  async run(): Promise<void> {
    const exec = (step: Step) => this.exec(step);
    const params = {
      events: new Proxy({}, { get: () => exec }),
      states: { '*': (state: ConnectionSnapshot) => this.check(state) },
    } as unknown as TestParam<ConnectionSnapshot, ConnectionModelEvent>;
    try {
      await this.model.model.testPath(this.path as unknown as StatePath<ConnectionSnapshot, ConnectionModelEvent>, params);
      this.assertStillQuiet();
    } finally {
      // stop() lets a registration already sent finish: the holds must let it through.
      const stopping = this.h.bot.stop();
      for (const hold of this.holds.values()) hold.release();
      await stopping;
    }
  }

  // ------------------------------------------------------------------ events

  private async exec(step: Step): Promise<void> {
    this.index = this.path.steps.indexOf(step);
    assert.ok(this.index >= 0);
    if (this.index === 0) return; // xstate.init
    const before = this.stepAt(this.index - 1).state;
    const leaf = leafOf(before.value);
    const { emulator, bot, clock } = this.h;
    this.assertStillQuiet();
    this.armAhead(this.index);
    this.registrationsBefore = emulator.registrations.length;
    this.deletionsBefore = emulator.deviceDeletions.length;
    const event = step.event;
    const type: string = event.type;
    const delay = delayOf(event);
    if (delay !== undefined) return this.fireDelay(delay, before);
    switch (type) {
      case 'START':
        void bot.start().catch(() => undefined);
        return;
      case 'STOP': {
        if (leaf === 'connecting' && this.handshakeHeld()) await this.openUnready();
        const abandoned = this.waiting === 1;
        const requests = emulator.requests.length;
        const stopping = bot.stop();
        if (abandoned) {
          // The machine let go of its device request; the emulator answers it (stop() waits for a
          // registration, to keep its device; a device list is aborted and answered to no one).
          this.release();
          await this.h.until(() => emulator.requests.length > requests, 'the abandoned device request to end');
        }
        await stopping;
        return;
      }
      case 'xstate.done.actor.device':
        // A reused device costs no request: the service has answered already.
        if (deviceRequestExpected(before.context)) this.release();
        return;
      case 'xstate.error.actor.device': {
        const { status } = field(event, 'error') as { status: number };
        assert.ok(this.heldRoute && this.heldRoute !== 'WS /mercury/*', 'a device request waits');
        emulator.failNext(this.heldRoute, { status, ...(status === 429 ? { retryAfter: RETRY_AFTER_SECONDS } : {}) });
        this.release();
        return;
      }
      case 'xstate.error.actor.socket':
        // Armed on the transport before the socket service started (armAhead).
        return;
      case 'SILENCE':
        // The socket service answered CHECK_SILENCE as pingEvery ran out (see fireDelay).
        return;
      case 'READY':
        if (this.handshakeHeld()) this.release(); // the emulator sends mercury.buffer_state on authorization
        else emulator.sendRaw(JSON.stringify({ id: randomUUID(), data: { eventType: 'mercury.buffer_state', bufferState: {} } }));
        return;
      case 'FRAME':
        if (this.handshakeHeld()) await this.openUnready();
        return this.sendFrame(JSON.stringify({ id: randomUUID(), data: { eventType: 'conversation.highlight' } }), step);
      case 'PONG': {
        const lastPing = emulator.pings.at(-1);
        const matching = eventVariant(event) === 'PONG its id';
        return this.sendFrame(JSON.stringify({ id: matching ? lastPing?.id : randomUUID(), type: 'pong' }), step);
      }
      case 'SOCKET_REJECTED': {
        const status = field(event, 'status') as number;
        assert.ok(this.handshakeHeld(), 'the handshake waits');
        emulator.failNext('WS /mercury/*', { status, ...(status === 429 ? { retryAfter: RETRY_AFTER_SECONDS } : {}) });
        this.release();
        return;
      }
      case 'SOCKET_CLOSED':
        if (this.handshakeHeld()) await this.openUnready();
        assert.equal(emulator.dropConnections({ code: field(event, 'code') as number, reason: field(event, 'reason') as string }), 1);
        return;
      case 'LINK_STABLE':
        assert.equal(clock.runNext(), SETTINGS.stableAfter, 'LINK_STABLE is the next timer');
        assert.equal(bot.health().attempt, 0);
        return;
      default:
        assert.fail(`no way to drive ${type}`);
    }
  }

  /** Fires the machine's named delay on the test clock, checking it is the timer due next. */
  private fireDelay(delay: string, before: ConnectionSnapshot): void | Promise<void> {
    const { clock, bot, emulator } = this.h;
    const context = before.context as ConnectionContext;
    const run = (): void => {
      if (delay === 'reconnectDelay') {
        const attempt = bot.health().attempt;
        const ceiling = Math.min(context.reconnectSleepMax, context.reconnectSleep * 2 ** Math.max(0, attempt - 1));
        const fired = clock.runNext();
        assert.ok(fired !== undefined && fired >= 0 && fired <= ceiling, `reconnect delay ${fired} within [0, ${ceiling}]`);
        return;
      }
      const expected = delayValue(delay, before);
      if (delay === 'retryAfter') {
        // rateLimited: no device request before Retry-After has elapsed.
        assert.equal(clock.nextIn(), expected);
        const traffic = this.traffic();
        clock.advance(expected - 1);
        assert.equal(bot.state, 'rateLimited');
        assert.equal(this.traffic(), traffic, 'no request before Retry-After');
        clock.advance(1);
        return;
      }
      assert.equal(clock.runNext(), expected, `${delay} is the timer due next`);
    };
    if (delay === 'connectTimeout' && this.handshakeHeld()) return this.openUnready().then(run);
    if (delay === 'pingEvery') {
      this.pingsSeen = emulator.pings.length;
      const answer = this.path.steps[this.index + 1]?.event;
      if (answer !== undefined && eventVariant(answer) === 'SILENCE traffic') {
        // Traffic TRAFFIC_BEFORE_CHECK ms before pingEvery runs out: the bot waits for the rest.
        const due = clock.nextIn();
        assert.ok(due !== undefined && due > TRAFFIC_BEFORE_CHECK);
        clock.advance(due - TRAFFIC_BEFORE_CHECK);
        const acks = emulator.acks.length;
        assert.equal(emulator.sendRaw(JSON.stringify({ id: randomUUID(), data: { eventType: 'conversation.highlight' } })), 1);
        return this.h.until(() => emulator.acks.length > acks, 'the frame acked').then(() => {
          clock.advance(TRAFFIC_BEFORE_CHECK);
        });
      }
    }
    run();
  }

  /** Sends a frame on the socket; when the bot's state does not change, waits for its ack (the bot has handled it). */
  private async sendFrame(frame: string, step: Step): Promise<void> {
    const { emulator } = this.h;
    const acks = emulator.acks.length;
    assert.equal(emulator.sendRaw(frame), 1);
    if (leafOf(step.state.value) === leafOf(this.stepAt(this.index - 1).state.value)) {
      await this.h.until(() => emulator.acks.length > acks, 'the frame acked');
    }
  }

  /**
   * Arms the transport failure for a socket service error ahead: the service fails as it starts,
   * so the fault must be in place before the step that makes the bot enter `online`.
   */
  private armAhead(index: number): void {
    if (this.isAutomatic(index)) return; // armed with the step before
    for (let k = index + 1; k < this.path.steps.length; k += 1) {
      const type: string = this.stepAt(k).event.type;
      if (type === 'xstate.error.actor.socket') {
        this.agent.failNextSocket();
        return;
      }
      if (!this.isAutomatic(k)) return;
    }
  }

  /** A step the bot takes by itself, without the driver: a device service answering at once with the reused device. */
  private isAutomatic(index: number): boolean {
    const step = this.stepAt(index);
    return typeOf(step.event) === 'xstate.done.actor.device' && index > 0 && !deviceRequestExpected(this.stepAt(index - 1).state.context);
  }

  // ------------------------------------------------------------------ states

  private async check(state: ConnectionSnapshot): Promise<void> {
    const step = this.stepAt(this.index);
    assert.equal(step.state, state);
    const leaf = leafOf(state.value);
    if (this.leaves.at(-1) !== leaf) this.leaves.push(leaf);
    if (this.isTransient(this.index)) return; // the bot moves on by itself; the next state checks the way
    const { bot, emulator, clock } = this.h;
    await this.h.until(() => bot.state === leaf, `state ${leaf} (the bot is in ${bot.state})`);
    assert.deepEqual(this.h.states, this.leaves, 'the states the bot went through');
    const expected = this.path.steps.slice(0, this.index + 1).flatMap((s) => this.model.logic.taken(s.state));
    assert.deepEqual(this.recorder.problems, []);
    assert.deepEqual(this.recorder.taken, expected, 'the transitions the bot took');
    assert.equal(this.agent.armed, 0, 'no transport failure left armed');

    const open = () => emulator.openConnections();
    const noSocket = () => this.h.until(() => open().length === 0, `no socket open in ${leaf}`);
    switch (leaf) {
      case 'idle':
        await noSocket();
        assert.equal(this.waiting, 0, 'no request in flight');
        assert.equal(clock.pending, 0, 'no timer');
        this.quiet();
        return;
      case 'fetchingUrl': {
        await this.h.until(() => this.waiting === 1, 'the device request');
        const c = state.context;
        assert.equal(this.heldRoute, c.device === null || c.deviceStale ? `POST ${DEVICES}` : `GET ${DEVICES}`, 'register, or check the device');
        if (c.device !== null && c.deviceStale) {
          await this.h.until(() => emulator.deviceDeletions.length > this.deletionsBefore, 'the stale device deleted');
        }
        await noSocket();
        assert.equal(clock.pending, 0, 'no timer');
        return;
      }
      case 'connecting': {
        if (typeOf(step.event) === 'xstate.done.actor.device') {
          const { registered } = field(step.event, 'output') as { registered: boolean };
          assert.equal(emulator.registrations.length - this.registrationsBefore, registered ? 1 : 0, registered ? 'a new device' : 'the device reused');
        }
        if (step.event.type === 'FRAME') {
          assert.equal(open().length, 1, 'the socket is open');
          assert.ok(open()[0]?.authorizedAt !== undefined && open()[0]?.readyAt === undefined, 'authorized, not ready');
        } else {
          await this.h.until(() => this.handshakeHeld(), 'the socket handshake');
          assert.equal(open().length, 0);
        }
        assert.deepEqual(clock.pendingDelays(), [SETTINGS.connectTimeout]);
        return;
      }
      case 'open': {
        const [socket, ...more] = open();
        assert.equal(more.length, 0, 'exactly one socket open');
        assert.ok(socket?.authorizedAt !== undefined, 'the socket is authorized');
        assert.ok(bot.health().deviceUrl?.endsWith(socket.deviceUuid), 'on the bot’s device');
        const linkStable = this.model.logic.shadow(state).linkStablePending;
        const ping = delayValue('pingEvery', state);
        assert.equal(ping, state.context.silentFor === 0 ? SETTINGS.pingEvery : SETTINGS.pingEvery - TRAFFIC_BEFORE_CHECK);
        assert.deepEqual([...clock.pendingDelays()].sort((a, b) => a - b), linkStable ? [SETTINGS.stableAfter, ping].sort((a, b) => a - b) : [ping]);
        this.pingsSeen = emulator.pings.length;
        return;
      }
      case 'awaitingPong':
        await this.h.until(() => emulator.pings.length > this.pingsSeen, 'the ping');
        assert.equal(emulator.pings.length - this.pingsSeen, 1, 'one ping outstanding');
        assert.equal(open().length, 1, 'exactly one socket open');
        assert.equal(emulator.pings.at(-1)?.connectionId, open()[0]?.id);
        assert.deepEqual(clock.pendingDelays(), [SETTINGS.pingWait]);
        return;
      case 'backoff':
        await noSocket();
        assert.equal(this.waiting, 0, 'no request in flight');
        assert.equal(clock.pending, 1, 'only the reconnect delay');
        this.quiet();
        return;
      case 'rateLimited':
        await noSocket();
        assert.equal(this.waiting, 0, 'no request in flight');
        assert.deepEqual(clock.pendingDelays(), [delayValue('retryAfter', state)]);
        assert.equal(state.context.retryAfter, RETRY_AFTER_SECONDS * 1000);
        this.quiet();
        return;
      case 'failed':
        await noSocket();
        assert.equal(this.waiting, 0, 'no request in flight');
        assert.equal(clock.pending, 0, 'no timer');
        assert.ok(bot.health().lastError, 'the failure is explained');
        this.quiet();
        return;
    }
  }

  /** A state the bot leaves by itself before the driver could look: fetchingUrl with a reused device, connecting with a socket that fails to start. */
  private isTransient(index: number): boolean {
    const next = this.path.steps[index + 1];
    if (next === undefined) return false;
    return this.isAutomatic(index + 1) || typeOf(next.event) === 'xstate.error.actor.socket' || typeOf(next.event) === 'SILENCE';
  }

  // ------------------------------------------------------------------ emulator helpers

  private stepAt(index: number): Step {
    const step = this.path.steps[index];
    assert.ok(step, `step ${index}`);
    return step;
  }

  private handshakeHeld(): boolean {
    return this.waiting === 1 && this.heldRoute === 'WS /mercury/*';
  }

  /** Lets the waiting gated request through; later ones are held again. */
  private release(): void {
    assert.equal(this.waiting, 1, 'one request waits');
    for (const route of GATED) {
      this.holds.get(route)?.release();
      this.holds.set(route, this.h.emulator.hold(route));
    }
    this.waiting = 0;
    this.heldRoute = undefined;
  }

  /** Lets the held handshake through without `mercury.buffer_state`: the socket is open and authorized, not ready. */
  private async openUnready(): Promise<void> {
    const { emulator } = this.h;
    const before = emulator.connections.length;
    emulator.setBufferState('withhold');
    this.release();
    await this.h.until(() => emulator.connections.length > before && emulator.connections.at(-1)?.authorizedAt !== undefined, 'the socket authorized');
    emulator.setBufferState('send');
  }

  /** Device and socket traffic the emulator has seen (or holds). */
  private traffic(): number {
    const { emulator } = this.h;
    return emulator.requests.filter((r) => r.method === 'WS' || r.path.startsWith(DEVICES)).length + emulator.connections.length + this.heldTotal;
  }

  private quiet(): void {
    this.quietTraffic = this.traffic();
  }

  private assertStillQuiet(): void {
    if (this.quietTraffic !== undefined) assert.equal(this.traffic(), this.quietTraffic, 'no device or socket traffic while waiting');
    this.quietTraffic = undefined;
  }
}

/** The value of a named delay in a model state, from the machine's own delay implementations. */
function delayValue(delay: string, snapshot: ConnectionSnapshot): number {
  const implementation = (connectionMachine.implementations.delays as Record<string, unknown>)[delay];
  assert.equal(typeof implementation, 'function', `delay ${delay}`);
  return (implementation as (args: { context: ConnectionContext }) => number)({ context: snapshot.context });
}

async function runPath(t: TestContext, model: ConnectionModel, path: Path, recorder: TransitionRecorder): Promise<void> {
  const agent = new TransportAgent();
  const h = await harness(t, { ...SETTINGS, reconnect: model.input.reconnect, agent, inspect: recorder.inspect });
  await new ConnectionDriver(h, agent, recorder, model, path).run();
}

test('the connection machine, path by path, on a real bot and emulator', async (t) => {
  const all = allTransitionKeys(connectionMachine);
  const states = stateNodesOf(connectionMachine).map((node) => node.id);
  const covered = new Set<string>();
  const visited = new Set<string>();
  let paths = 0;
  // reconnect: false is a model of its own: the guard `reconnect disabled` reads it.
  for (const reconnect of [true, false]) {
    const model = connectionModel({ ...SETTINGS, reconnect });
    t.diagnostic(`reconnect=${reconnect}: ${model.plan.states} model states, ${model.plan.edges} edges, ${model.plan.paths.length} paths`);
    for (const path of model.plan.paths) {
      paths += 1;
      await t.test(`reconnect=${reconnect}: ${describePath(path)}`, async (t) => {
        const recorder = new TransitionRecorder(connectionMachine.id);
        await runPath(t, model, path, recorder);
        for (const key of recorder.taken) covered.add(key);
        for (const id of recorder.visited) visited.add(id);
      });
    }
  }
  const missing = all.filter((key) => !covered.has(key));
  const unvisited = states.filter((id) => !visited.has(id));
  const summary = `transitions covered: ${all.length - missing.length}/${all.length}, states covered: ${states.length - unvisited.length}/${states.length}, paths: ${paths}`;
  t.diagnostic(summary);
  assert.deepEqual(missing, [], 'transitions no path exercised on the real bot');
  assert.deepEqual(unvisited, [], 'states no path reached on the real bot');
});
