import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SparkBot } from '../../src/index.js';
import { TestClock } from '../support/test-clock.js';
import { defer, harness, startEmulator, waitForState } from '../support/helpers.js';

test('a 401 at registration fails for good: start() rejects UNAUTHORIZED, no retry, no timer', async (t) => {
  const emulator = await startEmulator(t);
  const clock = new TestClock();
  const token = 'this-token-is-unknown-to-the-emulator';
  const bot = new SparkBot({ token, ...emulator.botOptions(), lastConn: false, clock });
  const errors: Error[] = [];
  bot.on('error', (error) => errors.push(error));
  defer(t, () => bot.stop());
  await assert.rejects(bot.start(), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'UNAUTHORIZED');
    assert.match(error.message, /refused the token \(HTTP 401\)/);
    assert.ok(!error.message.includes(token));
    return true;
  });
  assert.equal(bot.state, 'failed');
  assert.equal(clock.pending, 0, 'no timer: nothing will retry');
  assert.equal(emulator.requests.filter((r) => r.path === '/wdm/api/v1/devices').length, 1);
  assert.equal(emulator.connections.length, 0);
  assert.deepEqual(errors, [], 'the rejection of start() is the one report');
});

test('a 403 at registration fails with FORBIDDEN', async (t) => {
  const { bot, emulator } = await harness(t);
  emulator.failNext('POST /wdm/api/v1/devices', { status: 403 });
  await assert.rejects(bot.start(), { code: 'FORBIDDEN', message: /not entitled/ });
  assert.equal(bot.state, 'failed');
});

test('start() from failed tries again', async (t) => {
  const { bot, emulator, states } = await harness(t);
  emulator.failNext('POST /wdm/api/v1/devices', { status: 401 });
  await assert.rejects(bot.start(), { code: 'UNAUTHORIZED' });
  await bot.start();
  assert.deepEqual(states, ['idle', 'fetchingUrl', 'failed', 'fetchingUrl', 'connecting', 'open']);
});

test('a 401 on the socket handshake fails with UNAUTHORIZED', async (t) => {
  const { bot, emulator } = await harness(t);
  emulator.failNext('WS /mercury/*', { status: 401 });
  await assert.rejects(bot.start(), { code: 'UNAUTHORIZED' });
});

for (const [code, reason, expected] of [
  [4000, 'Replaced', 'REPLACED'],
  [4401, 'Unauthorized', 'UNAUTHORIZED'],
  [4403, '', 'FORBIDDEN'],
  [4400, '', 'BAD_REQUEST'],
  [1000, 'Done', 'CLOSED'],
] as const) {
  test(`a fatal close ${code} ${JSON.stringify(reason)} ends in failed with ${expected}, and nothing reconnects`, async (t) => {
    const { bot, emulator, clock, errors } = await harness(t);
    await bot.start();
    emulator.dropConnections({ code, reason });
    await waitForState(bot, 'failed');
    assert.equal(errors.at(-1)?.code, expected, 'reported on the error event');
    if (code === 4401) assert.match(errors.at(-1)?.message ?? '', /refused the token/);
    assert.equal(clock.pending, 0);
    assert.equal(emulator.connections.length, 1);
  });
}

test('an authorization refused by the socket (4401 before ready) makes start() reject UNAUTHORIZED', async (t) => {
  const { bot, emulator } = await harness(t);
  // The device is registered, then the socket refuses the token in the authorization frame.
  emulator.setBufferState('withhold');
  const started = bot.start();
  await emulator.waitFor(() => emulator.connections.length === 1 && emulator.connections[0]?.authorizedAt !== undefined);
  emulator.dropConnections({ code: 4401, reason: 'Unauthorized' });
  await assert.rejects(started, { code: 'UNAUTHORIZED', message: /refused the token/ });
});

test('start() after failed begins again from the first attempt, with no error left over', async (t) => {
  const { bot, emulator, clock } = await harness(t);
  emulator.failNext('POST /wdm/api/v1/devices', { status: 500, times: 2 });
  emulator.failNext('POST /wdm/api/v1/devices', { status: 401 });
  const first = bot.start().catch((error: unknown) => error);
  for (let i = 0; i < 2; i += 1) {
    await waitForState(bot, 'backoff');
    clock.runNext();
  }
  assert.equal(((await first) as { code?: string }).code, 'UNAUTHORIZED');
  assert.equal(bot.health().attempt, 2);
  await bot.start();
  assert.equal(bot.health().attempt, 0, 'the backoff starts again from reconnectSleep');
  assert.equal(bot.health().lastError, null);
});

test('a 403 on the socket handshake fails with FORBIDDEN', async (t) => {
  const { bot, emulator } = await harness(t);
  emulator.failNext('WS /mercury/*', { status: 403 });
  await assert.rejects(bot.start(), { code: 'FORBIDDEN' });
  assert.equal(bot.state, 'failed');
});

test('another HTTP status on the socket handshake backs off at once and keeps the device', async (t) => {
  const { bot, emulator, clock } = await harness(t);
  emulator.failNext('WS /mercury/*', { status: 500 });
  const started = bot.start();
  await waitForState(bot, 'backoff');
  assert.match(bot.health().lastError ?? '', /handshake answered HTTP 500/);
  assert.equal(bot.health().reconnects, 1);
  clock.runNext();
  await started;
  assert.equal(emulator.registrations.length, 1);
});
