/**
 * start()/stop() races: from any interleaving of calls, every stop() settles within its timeout
 * (in the bot's clock time: a TestClock, advanced only by the test) and the bot ends as the last
 * call asked — idle with no socket after a stop(), open with one socket after a start().
 *
 * The seeded test draws its sequences (calls, timeouts, gaps) from the seed alone; WDM's latency
 * and the socket handshakes are real I/O, so a run's timing may differ, not its plan. Replay a
 * failure with the seed its message names: SEED=<seed> SEQUENCES=1 node --import tsx --test test/connection/races.test.ts
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { WebexEmulator } from '../../src/emulator/index.js';
import { SparkBotError, type ConnectionStateName } from '../../src/index.js';
import { prng } from '../chaos/schedule.js';
import { harness, startEmulator, type Harness } from '../support/helpers.js';

const SEED = Number(process.env.SEED ?? 20_250_611);
const SEQUENCES = Number(process.env.SEQUENCES ?? 25);
/** Clock ms advanced at a time when nothing else moves. */
const STEP = 100;
/** Real ms without any event of the bot or the emulator after which the test moves the clock. */
const QUIET = 15;
/** Bound on the drive loop's iterations: a stop() still pending then never settles. */
const MAX_ITERATIONS = 2_000;

// ------------------------------------------------------------------ helpers

/** A call's promise as the test sees it settle, with the clock time it settled at. */
interface Watched {
  readonly promise: Promise<void>;
  status: 'pending' | 'resolved' | 'rejected';
  error?: unknown;
  /** How many times the clock had been advanced when the call was made. */
  readonly advancesBefore: number;
  /** The clock time when the settlement was seen. */
  at?: number;
}

/**
 * Drives a harness: watches promises, moves the clock, and counts the events of the bot and the
 * emulator to tell progress from quiet.
 *
 * Measuring in clock time: the clock moves only in the test's synchronous code, and a promise
 * settles only while the test waits. So a settlement is seen at the clock time of the wait it
 * happened in, and a deadline that passed during an advance has its effects seen at the next wait.
 * The driver marks the clock time of every wait of at least a macrotask (`mark()`); a stop() is
 * in time when it is seen settled before its deadline, or at the latest in the first such wait
 * after an advance, made after the call, that reached its deadline (a timer due now fires only
 * when the clock is advanced, if by 0).
 */
class Driver {
  changes = 0;
  /** Every wait of a macrotask or more, in order: the clock time, and the advances made before it. */
  readonly marks: Array<{ readonly at: number; readonly advances: number }> = [];
  /** How many times the clock was advanced. */
  private advances = 0;
  readonly trace: string[] = [];
  private wake: (() => void) | undefined;

  constructor(
    t: TestContext,
    private readonly h: Harness,
  ) {
    const bump = () => {
      this.changes += 1;
      const wake = this.wake;
      this.wake = undefined;
      wake?.();
    };
    const onState = (state: ConnectionStateName) => {
      this.note(`state ${state}`);
      bump();
    };
    h.emulator.on('change', bump);
    h.bot.on('state', onState);
    h.bot.on('error', bump);
    h.bot.on('warning', bump);
    t.after(() => {
      h.emulator.off('change', bump);
      h.bot.off('state', onState);
      h.bot.off('error', bump);
      h.bot.off('warning', bump);
    });
  }

  note(what: string): void {
    this.trace.push(`@${this.h.clock.now()} ${what}`);
  }

  advance(ms: number): void {
    this.note(`advance ${ms}`);
    this.advances += 1;
    this.h.clock.advance(ms);
  }

  /** The test has waited at least a macrotask (the clock stood still meanwhile). */
  mark(): void {
    this.marks.push({ at: this.h.clock.now(), advances: this.advances });
  }

  /** The latest clock time a call with this deadline may be seen settling at (infinite while the clock has not reached the deadline). */
  latest(watched: Watched, deadline: number): number {
    return this.marks.find((m) => m.advances > watched.advancesBefore && m.at >= deadline)?.at ?? Number.POSITIVE_INFINITY;
  }

  watch(what: string, promise: Promise<void>): Watched {
    const watched: Watched = { promise, status: 'pending', advancesBefore: this.advances };
    const settle = (status: 'resolved' | 'rejected', error?: unknown) => {
      watched.status = status;
      watched.error = error;
      watched.at = this.h.clock.now();
      this.note(`${what} ${status}${error ? ` (${(error as SparkBotError).code ?? (error as Error).message})` : ''}`);
    };
    promise.then(
      () => settle('resolved'),
      (error: unknown) => settle('rejected', error),
    );
    return watched;
  }

  /** True when a call with this deadline is still pending well after it: two steps past the first wait after its deadline. */
  overdue(watched: Watched, deadline: number): boolean {
    return watched.status === 'pending' && this.h.clock.now() > this.latest(watched, deadline) + 2 * STEP;
  }

  /**
   * Before failing on a stop() that does not settle: cuts the bot's sockets from the server, so
   * that a stop() stuck waiting for one of them (the issue's defect) can end, and with it the
   * harness's own stop() at the end of the test (it returns the same promise), instead of hanging
   * the file until its timeout.
   */
  private rescue(): void {
    for (const uuid of devicesOf(this.h)) this.h.emulator.dropConnections({ terminate: true, deviceUuid: uuid });
  }

  /** Resolves on the next event of the bot or the emulator, or after `ms` of real time. */
  private quiet(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /**
   * Until `done()`: lets real I/O run and, when nothing happened for QUIET ms and `clockNeeded()`
   * (a stop() waits for its deadline, a backoff for its timer), advances the clock by STEP.
   * Fails with `failure()`'s message when it returns one (a deadline long passed), or after
   * MAX_ITERATIONS.
   */
  async drive(done: () => boolean, clockNeeded: () => boolean, failure: () => string | undefined, what: string): Promise<void> {
    for (let i = 0; ; i++) {
      const before = this.changes;
      await new Promise((resolve) => setImmediate(resolve));
      this.mark();
      if (done()) return;
      const problem = failure();
      if (problem !== undefined) {
        this.rescue();
        assert.fail(`${what}: ${problem}\n${this.trace.join('\n')}`);
      }
      if (i >= MAX_ITERATIONS) assert.fail(`${what}: still pending after ${MAX_ITERATIONS} iterations (clock ${this.h.clock.now()}, state ${this.h.bot.state})\n${this.trace.join('\n')}`);
      if (this.changes === before) {
        await this.quiet(QUIET);
        this.mark();
      }
      if (this.changes === before && clockNeeded()) this.advance(STEP);
    }
  }
}

/** The device uuids the emulator registered for this harness's bot (each bot has its own person). */
function devicesOf(h: Harness): Set<string> {
  return new Set(h.emulator.registrations.filter((r) => r.personUuid === h.person.uuid).map((r) => r.deviceUuid));
}

function openSocketsOf(h: Harness): number {
  const devices = devicesOf(h);
  return h.emulator.openConnections().filter((c) => devices.has(c.deviceUuid)).length;
}

function codeOf(error: unknown): string | undefined {
  return error instanceof SparkBotError ? error.code : undefined;
}

/** Records what reaches the process as an unhandled rejection during a test. */
function unhandledRejections(t: TestContext): unknown[] {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', listener);
  t.after(() => {
    process.off('unhandledRejection', listener);
  });
  return seen;
}

// ------------------------------------------------------------------ the issue's case

test('start(); stop(); start() during a registration: the stop() resolves within its timeout, a later stop() too, and the bot ends as the last call asked', async (t) => {
  const rejections = unhandledRejections(t);
  const h = await harness(t);
  const { bot, emulator, clock } = h;
  const driver = new Driver(t, h);
  const held = emulator.hold('POST /wdm/api/v1/devices');
  const first = driver.watch('start #1', bot.start());
  await emulator.waitFor(() => emulator.heldRequests === 1, { what: 'the registration sent and held' });
  driver.mark();
  assert.equal(bot.state, 'fetchingUrl');

  const stopAt = clock.now();
  const stopping = driver.watch('stop #1 (1000)', bot.stop({ timeout: 1_000 }));
  const second = driver.watch('start #2', bot.start());
  // The server answers the registration while the stop() waits for it: the start() made during
  // the stop() must not bring a socket up under it.
  held.release();
  await assert.rejects(first.promise, { code: 'STOPPED' }, 'the start() before the stop() is cancelled');

  await driver.drive(
    () => stopping.status !== 'pending',
    () => true,
    () => (driver.overdue(stopping, stopAt + 1_000) ? `stop() did not settle: called at ${stopAt} with timeout 1000, the clock is at ${clock.now()}` : undefined),
    'the first stop()',
  );
  assert.equal(stopping.status, 'resolved', `the first stop() resolved\n${driver.trace.join('\n')}`);
  assert.ok((stopping.at ?? 0) <= driver.latest(stopping, stopAt + 1_000), `the first stop() settled by its deadline (seen at clock ${stopping.at})\n${driver.trace.join('\n')}`);

  await driver.drive(
    () => second.status !== 'pending',
    () => bot.state === 'backoff' || bot.state === 'rateLimited',
    () => undefined,
    'the start() made during the stop()',
  );
  assert.equal(second.status, 'resolved', `the start() made during the stop() connects once the stop() is over: ${String(second.error)}\n${driver.trace.join('\n')}`);
  assert.equal(bot.state, 'open');
  await emulator.waitFor(() => openSocketsOf(h) === 1, { what: 'one socket of the bot open' });

  const lastAt = clock.now();
  const last = driver.watch('stop #2', bot.stop({ timeout: 1_000 }));
  await driver.drive(
    () => last.status !== 'pending',
    () => true,
    () => (driver.overdue(last, lastAt + 1_000) ? `the later stop() did not settle: called at ${lastAt} with timeout 1000, the clock is at ${clock.now()}` : undefined),
    'the later stop()',
  );
  assert.equal(last.status, 'resolved', 'a later stop() resolves too');
  assert.ok((last.at ?? 0) <= driver.latest(last, lastAt + 1_000), `the later stop() settled by its deadline (seen at clock ${last.at})\n${driver.trace.join('\n')}`);
  assert.equal(bot.state, 'idle');
  await emulator.waitFor(() => openSocketsOf(h) === 0, { what: 'no socket of the bot open' });
  assert.deepEqual(
    h.errors.map((e) => e.code),
    [],
    'no error reported',
  );
  assert.deepEqual(rejections, [], 'no unhandled rejection');
});

// ------------------------------------------------------------------ seeded sequences

type Op = { readonly kind: 'start' } | { readonly kind: 'stop'; readonly timeout: number };

type Gap =
  | { readonly kind: 'none' }
  | { readonly kind: 'microtask' }
  | { readonly kind: 'immediate' }
  | { readonly kind: 'state'; readonly state: ConnectionStateName }
  | { readonly kind: 'advance'; readonly ms: number };

interface Plan {
  readonly seed: number;
  readonly ops: readonly Op[];
  /** gaps[i] comes after ops[i]; there is none after the last. */
  readonly gaps: readonly Gap[];
  /** Real ms of latency drawn for each request of the route: [least, spread]. */
  readonly latency: { readonly post: readonly [number, number]; readonly get: readonly [number, number]; readonly ws: readonly [number, number] };
}

const GAP_STATES: readonly ConnectionStateName[] = ['fetchingUrl', 'connecting', 'open', 'idle'];

/** The plan of one sequence, drawn from its seed alone. */
function plan(seed: number): Plan {
  const random = prng(seed);
  const int = (least: number, most: number) => least + Math.floor(random() * (most - least + 1));
  const ops: Op[] = [];
  const gaps: Gap[] = [];
  const count = int(3, 8);
  for (let i = 0; i < count; i++) {
    const zero = random() < 0.1; // a stop() with no time at all, more often than int(0, 3000) draws it
    ops.push(random() < 0.5 ? { kind: 'start' } : { kind: 'stop', timeout: zero ? 0 : int(0, 3_000) });
    if (i === count - 1) break;
    const gap = random();
    if (gap < 0.2) gaps.push({ kind: 'none' });
    else if (gap < 0.35) gaps.push({ kind: 'microtask' });
    else if (gap < 0.5) gaps.push({ kind: 'immediate' });
    else if (gap < 0.75) gaps.push({ kind: 'state', state: GAP_STATES[int(0, GAP_STATES.length - 1)] as ConnectionStateName });
    else gaps.push({ kind: 'advance', ms: int(0, 1_500) });
  }
  return {
    seed,
    ops,
    gaps,
    latency: { post: [int(5, 20), int(0, 40)], get: [int(0, 10), int(0, 30)], ws: [0, int(0, 20)] },
  };
}

function describe(p: Plan): string {
  const parts: string[] = [];
  p.ops.forEach((op, i) => {
    parts.push(op.kind === 'start' ? 'start()' : `stop({ timeout: ${op.timeout} })`);
    const gap = p.gaps[i];
    if (gap === undefined) return;
    if (gap.kind === 'state') parts.push(`[until ${gap.state}]`);
    else if (gap.kind === 'advance') parts.push(`[advance ${gap.ms}]`);
    else if (gap.kind !== 'none') parts.push(`[${gap.kind}]`);
  });
  const { post, get, ws } = p.latency;
  return `${parts.join(' ')}; latency POST ${post[0]}+${post[1]}, GET ${get[0]}+${get[1]}, WS ${ws[0]}+${ws[1]} ms`;
}

interface Call {
  readonly index: number;
  readonly op: Op;
  readonly calledAt: number;
  readonly watched: Watched;
}

async function runSequence(t: TestContext, emulator: WebexEmulator, seed: number): Promise<void> {
  const p = plan(seed);
  const where = `seed ${seed} (replay: SEED=${seed} SEQUENCES=1): ${describe(p)}`;
  const rejections = unhandledRejections(t);
  const latency = prng(seed ^ 0x5eed);
  const draw = ([least, spread]: readonly [number, number]) => () => least + latency() * spread;
  emulator.setLatency('POST /wdm/api/v1/devices', draw(p.latency.post));
  emulator.setLatency('GET /wdm/api/v1/devices', draw(p.latency.get));
  emulator.setLatency('WS /mercury/*', draw(p.latency.ws));
  const h = await harness(t, { emulator });
  const { bot, clock } = h;
  const driver = new Driver(t, h);
  const calls: Call[] = [];

  for (const [index, op] of p.ops.entries()) {
    const calledAt = clock.now();
    if (op.kind === 'start') {
      driver.note(`#${index} start()`);
      calls.push({ index, op, calledAt, watched: driver.watch(`#${index} start()`, bot.start()) });
    } else {
      driver.note(`#${index} stop(${op.timeout})`);
      calls.push({ index, op, calledAt, watched: driver.watch(`#${index} stop(${op.timeout})`, bot.stop({ timeout: op.timeout })) });
    }
    const gap = p.gaps[index];
    if (gap === undefined) break;
    switch (gap.kind) {
      case 'none':
        break;
      case 'microtask':
        await Promise.resolve();
        break;
      case 'immediate':
        await new Promise((resolve) => setImmediate(resolve));
        driver.mark();
        break;
      case 'state': {
        // In that state already, the wait is a microtask only: no mark.
        const waits = bot.state !== gap.state;
        await h.until(() => bot.state === gap.state, gap.state, 150).catch(() => undefined);
        if (waits) driver.mark();
        break;
      }
      case 'advance':
        driver.advance(gap.ms);
        break;
    }
  }

  const stops = calls.filter((c) => c.op.kind === 'stop');
  const deadlineOf = (c: Call) => c.calledAt + (c.op.kind === 'stop' ? c.op.timeout : 0);
  await driver.drive(
    () => calls.every((c) => c.watched.status !== 'pending'),
    () => stops.some((c) => c.watched.status === 'pending') || bot.state === 'backoff' || bot.state === 'rateLimited',
    () => {
      const late = stops.find((c) => driver.overdue(c.watched, deadlineOf(c)));
      return late ? `stop() did not settle: #${late.index} called at ${late.calledAt} with timeout ${(late.op as { timeout: number }).timeout}, the clock is at ${clock.now()}, state ${bot.state}; ${where}` : undefined;
    },
    `the calls of ${where}`,
  );

  const trace = `\n${driver.trace.join('\n')}`;
  for (const call of stops) {
    const { watched } = call;
    assert.equal(watched.status, 'resolved', `#${call.index} stop() resolved (${String(watched.error)}); ${where}${trace}`);
    assert.ok(
      (watched.at ?? 0) <= driver.latest(watched, deadlineOf(call)),
      `#${call.index} stop(${(call.op as { timeout: number }).timeout}) called at ${call.calledAt} settled in time: seen at clock ${watched.at}, but pending at clock ${driver.latest(watched, deadlineOf(call))}, after its deadline; ${where}${trace}`,
    );
  }
  for (const call of calls.filter((c) => c.op.kind === 'start')) {
    const { watched } = call;
    assert.ok(
      watched.status === 'resolved' || codeOf(watched.error) === 'STOPPED',
      `#${call.index} start() resolved or was cancelled by a stop() (got ${watched.status}: ${String(watched.error)}); ${where}${trace}`,
    );
  }

  const last = calls.at(-1) as Call;
  if (last.op.kind === 'stop') {
    assert.equal(bot.state, 'idle', `idle after a last stop(); ${where}${trace}`);
    await h.emulator.waitFor(() => openSocketsOf(h) === 0, { what: `no socket of the bot open after a last stop(); ${where}` });
    assert.equal(clock.pending, 0, `no timer left after a last stop() (delays ${clock.pendingDelays().join(', ')}); ${where}${trace}`);
  } else {
    assert.equal(last.watched.status, 'resolved', `the last start() resolved (${String(last.watched.error)}); ${where}${trace}`);
    assert.ok(bot.state === 'open' || bot.state === 'awaitingPong', `connected after a last start() (state ${bot.state}); ${where}${trace}`);
    await h.emulator
      .waitFor(() => openSocketsOf(h) === 1, { what: 'one socket of the bot open', timeout: 5_000 })
      .catch(() => assert.fail(`exactly one socket of the bot open after a last start(), got ${openSocketsOf(h)}; ${where}${trace}`));
    // Leave the bot stopped, so that the harness's own stop() has nothing to wait for.
    const stopAt = clock.now();
    const stopping = driver.watch('final stop()', bot.stop({ timeout: 1_000 }));
    await driver.drive(
      () => stopping.status !== 'pending',
      () => true,
      () => (driver.overdue(stopping, stopAt + 1_000) ? `the final stop() did not settle; ${where}` : undefined),
      `the final stop() of ${where}`,
    );
  }
  const handlerErrors = h.errors.filter((e) => e.code === 'HANDLER_ERROR' || /internal error/.test(e.message));
  assert.deepEqual(
    handlerErrors.map((e) => `${e.code}: ${e.message}`),
    [],
    `no handler error nor internal error of the machine; ${where}`,
  );
  assert.deepEqual(rejections, [], `no unhandled rejection; ${where}`);
}

test(`random start()/stop() sequences against a slow WDM (seeds ${SEED}…${SEED + SEQUENCES - 1}): every stop() settles within its timeout, every start() connects or is cancelled, the bot ends as the last call asked`, async (t) => {
  assert.ok(Number.isInteger(SEED) && Number.isInteger(SEQUENCES) && SEQUENCES > 0, `SEED and SEQUENCES must be integers, got ${process.env.SEED} and ${process.env.SEQUENCES}`);
  const emulator = await startEmulator(t);
  for (let i = 0; i < SEQUENCES; i++) {
    const seed = SEED + i;
    await t.test(`seed ${seed}`, (sub) => runSequence(sub, emulator, seed));
  }
});
