/**
 * Test helpers: a real emulator and a real bot on loopback, with a test clock for the machine's
 * delays and a temp dir for the last-connection file, all cleaned up after the test.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { WebexEmulator, type EmulatedPerson, type EmulatorOptions } from '../../src/emulator/index.js';
import { Waiters } from '../../src/emulator/waiters.js';
import { SparkBot, type SparkBotError, type SparkBotOptions, type ConnectionStateName } from '../../src/index.js';
import { TestClock } from './test-clock.js';
import { SECRET_PIECE } from '../../src/log.js';

const cleanups = new WeakMap<TestContext, Array<() => unknown>>();

/** Registers cleanup work for the end of the test; the last registered runs first (bots stop before their emulator closes and their dir goes). */
export function defer(t: TestContext, fn: () => unknown): void {
  let stack = cleanups.get(t);
  if (!stack) {
    const fresh: Array<() => unknown> = [];
    stack = fresh;
    cleanups.set(t, fresh);
    t.after(async () => {
      for (const cleanup of fresh.reverse()) await cleanup();
    });
  }
  stack.push(fn);
}

export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sparkbot-test-'));
  defer(t, () => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function startEmulator(t: TestContext, options?: EmulatorOptions): Promise<WebexEmulator> {
  const emulator = await WebexEmulator.start(options);
  defer(t, () => emulator.close());
  return emulator;
}

export interface Harness {
  readonly emulator: WebexEmulator;
  readonly bot: SparkBot;
  readonly person: EmulatedPerson;
  readonly clock: TestClock;
  readonly lastConn: string;
  /** Every state the bot went through, in order, starting with 'idle'. */
  readonly states: ConnectionStateName[];
  readonly errors: SparkBotError[];
  readonly warnings: SparkBotError[];
  /** Call after changing something a predicate of `until` reads (the bot's events do it themselves). */
  changed(): void;
  /**
   * Resolves once `predicate` holds, checking it now, after every change the emulator sees and
   * after every event of the bot. Rejects after `timeout` ms so that a broken test fails.
   */
  until(predicate: () => boolean, what?: string, timeout?: number): Promise<void>;
}

/**
 * A bot on an emulator, driven by a TestClock. Options override the defaults; `emulator` and
 * `person` let several bots share one emulator or one identity.
 */
export async function harness(
  t: TestContext,
  options: Partial<SparkBotOptions<SparkBot>> & { emulator?: WebexEmulator; person?: EmulatedPerson; clock?: TestClock } = {},
): Promise<Harness> {
  const { emulator: given, person: givenPerson, clock: givenClock, ...botOptions } = options;
  const emulator = given ?? (await startEmulator(t));
  const person = givenPerson ?? emulator.createBot({ displayName: 'Test Bot' });
  const clock = givenClock ?? new TestClock();
  const lastConn = typeof botOptions.lastConn === 'string' ? botOptions.lastConn : join(await tempDir(t), 'last-connection.json');
  const bot = new SparkBot({ token: person.token, ...emulator.botOptions(), lastConn, clock, ...botOptions });
  const states: ConnectionStateName[] = [bot.state];
  const errors: SparkBotError[] = [];
  const warnings: SparkBotError[] = [];
  const waiters = new Waiters();
  const changed = () => waiters.poke();
  emulator.on('change', changed);
  defer(t, () => emulator.off('change', changed));
  // After the bot's events, predicates are checked once every listener of the event has run.
  const afterListeners = () => setImmediate(changed);
  bot.on('state', (state) => {
    states.push(state);
    afterListeners();
  });
  bot.on('error', (error) => {
    errors.push(error);
    afterListeners();
  });
  bot.on('warning', (warning) => {
    warnings.push(warning);
    afterListeners();
  });
  for (const event of ['message', 'activity', 'cardAction', 'membership', 'room', 'messageDeleted'] as const) bot.on(event, afterListeners);
  const until = (predicate: () => boolean, what?: string, timeout = 10_000): Promise<void> =>
    waiters.until(predicate, timeout, () => new Error(`timed out waiting${what ? ` for ${what}` : ''}`));
  defer(t, () => bot.stop());
  return { emulator, bot, person, clock, lastConn, states, errors, warnings, changed, until };
}

/** Resolves when the bot is in `state` (now or later); rejects after `timeout` ms so a broken test fails fast. */
export function waitForState(bot: SparkBot, state: ConnectionStateName, timeout = 10_000): Promise<void> {
  if (bot.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      bot.off('state', listener);
      reject(new Error(`bot did not reach state ${state} (it is ${bot.state})`));
    }, timeout);
    const listener = (next: ConnectionStateName) => {
      if (next !== state) return;
      clearTimeout(timer);
      bot.off('state', listener);
      resolve();
    };
    bot.on('state', listener);
  });
}

/** Resolves with the next event `name` the bot emits. */
export function nextEvent<K extends 'message' | 'error' | 'warning' | 'state'>(bot: SparkBot, name: K, timeout = 10_000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      bot.off(name, listener as never);
      reject(new Error(`bot emitted no '${name}' event`));
    }, timeout);
    const listener = (...args: unknown[]) => {
      clearTimeout(timer);
      bot.off(name, listener as never);
      resolve(args);
    };
    bot.on(name, listener as never);
  });
}

/**
 * The pieces of `token` (SECRET_PIECE characters long, what the redactor counts as a leak) that
 * `text` contains. Of a Webex token (`<secret>_<cluster>_<org uuid>`), the pieces of its secret
 * part, and the whole token: the org id is public (activities carry it in every `orgId`).
 */
export function secretPieces(text: string, token: string): string[] {
  const webex = /^(.+)_[A-Za-z0-9]{4}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.exec(token);
  const secret = webex?.[1] ?? token;
  const found: string[] = text.includes(token) && secret !== token ? [token] : [];
  for (let i = 0; i + SECRET_PIECE <= secret.length; i++) {
    const piece = secret.slice(i, i + SECRET_PIECE);
    if (text.includes(piece)) found.push(piece);
  }
  return found;
}

/**
 * Runs `script` with tsx in a child process, offline (no WEBEX_TOKEN), until it prints `until`
 * (or exits); then Ctrl-C (SIGINT). Resolves with its exit code and everything it printed. A
 * child that neither prints it nor exits is killed after `hangAfter` ms — a bound for a hang,
 * not a measurement.
 */
export async function runUntil(script: string, until: string, options: { cwd?: string; hangAfter?: number } = {}): Promise<{ code: number | null; output: string }> {
  const env = { ...process.env };
  delete env.WEBEX_TOKEN;
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env, stdio: ['ignore', 'pipe', 'pipe'], ...(options.cwd ? { cwd: options.cwd } : {}) });
  let output = '';
  const reached = new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(until)) resolve();
    });
  });
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const hung = setTimeout(() => child.kill('SIGKILL'), options.hangAfter ?? 45_000);
  await Promise.race([reached, exited]);
  child.kill('SIGINT');
  const code = await exited;
  clearTimeout(hung);
  return { code, output };
}
