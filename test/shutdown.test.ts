import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import { SparkBot, SparkBotError } from '../src/index.js';
import { defer, harness, startEmulator, tempDir } from './support/helpers.js';

test('stop() lets a running handler finish, and its reply goes out, before it resolves', async (t) => {
  const { bot, emulator, person, until } = await harness(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let started = false;
  bot.on('message', async (message) => {
    started = true;
    await gate;
    await message.reply('done at last');
  });
  await bot.start();
  emulator.postMessage({ from: alice, toPerson: person, text: 'take your time' });
  await until(() => started);
  let stopped = false;
  const stopping = bot.stop().then(() => {
    stopped = true;
  });
  await emulator.waitFor(() => emulator.openConnections().length === 0, { what: 'the socket closed at once' });
  assert.equal(stopped, false, 'stop() waits for the handler');
  release();
  await stopping;
  assert.ok([...emulator.messages.values()].some((m) => m.text === 'done at last'), 'the reply was sent before stop() resolved');
});

test('stop() gives up on a handler that never ends after stopTimeout, and says so', async (t) => {
  const { bot, emulator, person, until, clock, errors } = await harness(t, { stopTimeout: 5000 });
  const alice = emulator.createUser({ displayName: 'Alice' });
  let started = false;
  let release!: () => void;
  const forever = new Promise<void>((resolve) => (release = resolve));
  bot.on('message', () => {
    started = true;
    return forever; // released only after the test, so that the harness can stop the bot
  });
  await bot.start();
  emulator.postMessage({ from: alice, toPerson: person, text: 'hang' });
  await until(() => started);
  const stopping = bot.stop();
  await clock.waitForTimer(5000);
  clock.advance(5000);
  await stopping;
  assert.match(errors.at(-1)?.message ?? '', /still running after 5000 ms/);
  assert.equal(bot.state, 'idle');
  release();
});

test('stop() sends queued REST calls within the deadline and rejects the rest with CANCELLED', async (t) => {
  const { bot, emulator, person, clock } = await harness(t, { retryCount: 3 });
  const alice = emulator.createUser({ displayName: 'Alice' });
  const room = emulator.directRoom(person, alice);
  emulator.failNext('POST /v1/messages', { status: 429, retryAfter: 60 });
  const first = bot.api.messages.create({ roomId: room.id, text: 'first' }).catch((e: unknown) => e);
  const second = bot.api.messages.create({ roomId: room.id, text: 'second' }).catch((e: unknown) => e);
  await clock.waitForTimer(60_000);
  const stopping = bot.stop({ timeout: 1000 });
  await clock.waitForTimer(1000);
  clock.advance(1000); // the deadline comes before Retry-After
  await stopping;
  for (const outcome of [await first, await second]) {
    assert.ok(outcome instanceof SparkBotError && outcome.code === 'CANCELLED', String(outcome));
    assert.match(outcome.message, /cancelled before it was sent: the bot is stopping/);
  }
  assert.equal([...emulator.messages.values()].length, 0);
});

test('stop({ unregister: true }) deletes the device and forgets it', async (t) => {
  const { bot, emulator, person, lastConn } = await harness(t);
  await bot.start();
  const [device] = emulator.devicesOf(person);
  await bot.stop({ unregister: true });
  assert.equal(emulator.devicesOf(person).length, 0);
  assert.deepEqual(emulator.deviceDeletions.map((d) => d.deviceUuid), [device?.uuid]);
  const saved = JSON.parse(await readFile(lastConn, 'utf8')) as { device: unknown };
  assert.equal(saved.device, null);
  await bot.start();
  assert.equal(emulator.registrations.length, 2, 'the next start registers a new device');
});

test('after stop() the process exits by itself (SIGTERM wiring as in the examples)', async () => {
  const script = fileURLToPath(new URL('./fixtures/exits.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let signalled = false;
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes('ready') && !signalled) {
      signalled = true;
      child.kill('SIGTERM');
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, output);
  assert.match(output, /stopped; nothing keeps the process alive/);
});

test('stop() while an event is still being fetched reports it as received but not delivered (CANCELLED), not as a handler still running, and delivers nothing later', async (t) => {
  const { bot, emulator, person, clock, errors, until } = await harness(t, { stopTimeout: 1000 });
  const alice = emulator.createUser({ displayName: 'Alice' });
  let handled = 0;
  bot.on('message', () => {
    handled += 1;
  });
  await bot.start();
  const fetch = emulator.hold('GET /v1/messages/*');
  emulator.postMessage({ from: alice, toPerson: person, text: 'never fetched in time' });
  await emulator.waitFor(() => emulator.heldRequests === 1, { what: 'the fetch under way' });
  const stopping = bot.stop();
  await clock.waitForTimer(1000);
  clock.advance(1000);
  await stopping;
  await until(() => errors.length === 1, 'the report');
  assert.equal(errors[0]?.code, 'CANCELLED', 'before: HANDLER_ERROR "event handlers were still running" although none had run');
  assert.match(errors[0]?.message ?? '', /^stop\(\): post \S+ was received but not delivered: the bot stopped before it was fetched \(Webex does not send it again\)$/);
  assert.equal(errors[0]?.context?.verb, 'post');
  await emulator.waitFor(() => emulator.abandonedRequests.some((r) => r.path.startsWith('/v1/messages/')), { what: 'the fetch aborted' });
  fetch.release();
  await emulator.waitFor(() => emulator.requests.some((r) => r.path.startsWith('/v1/messages/')), { what: 'the held request answered' });
  await bot.stop(); // the dispatcher is idle: nothing was queued behind
  assert.equal(handled, 0, 'nothing was delivered after stop()');
});

test('stop() aborts a service-catalog request under way (the cluster lookup of an event), rather than leave it to requestTimeout', async (t) => {
  const lines: string[] = [];
  const keep = (message: string, ...rest: unknown[]) => lines.push(format(message, ...rest));
  // Real timers: stop()'s deadline runs out by itself.
  const emulator = await startEmulator(t);
  const person = emulator.createBot({ displayName: 'Test Bot' });
  const bot = new SparkBot({ token: person.token, ...emulator.botOptions(), lastConn: join(await tempDir(t), 'last.json'), stopTimeout: 200, logger: { debug: keep, info: keep, warn: keep, error: keep } });
  defer(t, () => bot.stop());
  const alice = emulator.createUser({ displayName: 'Alice' });
  await bot.start();
  const held = emulator.hold('GET /u2c/api/v1/catalog');
  t.after(() => held.release());
  emulator.postMessage({ from: alice, toPerson: person, text: 'which cluster?' });
  await emulator.waitFor(() => emulator.heldRequests === 1, { what: 'the cluster lookup asking the catalog' });
  await bot.stop();
  await emulator.waitFor(() => emulator.abandonedRequests.some((r) => r.path === '/u2c/api/v1/catalog'), { what: 'the catalog request aborted', timeout: 5_000 });
  assert.ok(lines.some((line) => /service catalog unavailable \(the bot stopped\)/.test(line)) && !lines.some((line) => line.includes('requestTimeout')), `ended by stop(), not by its timeout:\n${lines.join('\n')}`);
});
