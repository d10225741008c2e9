import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { reconnectDelay } from '../../machines/connection.js';
import { harness, waitForState } from '../support/helpers.js';

test('a server drop leads to backoff and a reconnect to the same device, with no second registration', async (t) => {
  const { bot, emulator, clock, states } = await harness(t);
  await bot.start();
  emulator.dropConnections({ code: 1011, reason: 'Internal error' });
  await waitForState(bot, 'backoff');
  assert.deepEqual(bot.health().lastClose, { code: 1011, reason: 'Internal error' });
  assert.equal(emulator.openConnections().length, 0);
  clock.runNext();
  await waitForState(bot, 'open');
  assert.deepEqual(states, ['idle', 'fetchingUrl', 'connecting', 'open', 'backoff', 'fetchingUrl', 'connecting', 'open']);
  assert.equal(emulator.registrations.length, 1);
  assert.equal(emulator.connections.length, 2);
  assert.equal(emulator.connections[1]?.deviceUuid, emulator.connections[0]?.deviceUuid);
  assert.equal(bot.health().reconnects, 1);
});

test('unacked envelopes are redelivered to the same device after a reconnect', async (t) => {
  const { bot, emulator, clock, person } = await harness(t);
  await bot.start();
  emulator.dropConnections({ terminate: true });
  await waitForState(bot, 'backoff');
  await emulator.waitFor(() => emulator.openConnections().length === 0);
  const alice = emulator.createUser({ displayName: 'Alice' });
  emulator.postMessage({ from: alice, toPerson: person, text: 'sent while the bot was away' });
  assert.equal(emulator.deliveries.length, 0, 'no socket to deliver to');
  clock.runNext();
  await waitForState(bot, 'open');
  await emulator.waitFor(() => emulator.deliveries.length === 1 && emulator.devicesOf(person)[0]?.pending.size === 0, { what: 'redelivered and acked' });
  assert.equal(emulator.deliveries[0]?.redelivery, true);
});

test('a handshake 404 (stale device) registers a new device and deletes the old one', async (t) => {
  const { bot, emulator, clock, states, person, lastConn } = await harness(t);
  await bot.start();
  const [oldDevice] = emulator.devicesOf(person);
  assert.ok(oldDevice);
  emulator.markDeviceStale(oldDevice.uuid);
  emulator.dropConnections({ code: 1001 });
  await waitForState(bot, 'backoff');
  clock.runNext();
  await waitForState(bot, 'open');
  assert.deepEqual(states.slice(-6), ['backoff', 'fetchingUrl', 'connecting', 'fetchingUrl', 'connecting', 'open']);
  assert.ok(emulator.requests.some((r) => r.method === 'WS' && r.status === 404), 'the handshake was answered 404');
  assert.equal(emulator.registrations.length, 2);
  await emulator.waitFor(() => emulator.deviceDeletions.length === 1, { what: 'the stale device was deleted' });
  assert.equal(emulator.deviceDeletions[0]?.deviceUuid, oldDevice.uuid);
  emulator.dropConnections({ code: 1011 });
  await waitForState(bot, 'backoff');
  clock.runNext();
  await waitForState(bot, 'open');
  assert.equal(emulator.registrations.length, 2, 'the new device is not stale: the next reconnect reuses it');
  await bot.stop();
  const saved = JSON.parse(await readFile(lastConn, 'utf8')) as { device: { url: string } };
  assert.equal(saved.device.url, emulator.devicesOf(person)[0]?.url, 'the new device is saved');
});

test('no mercury.buffer_state within connectTimeout: the socket is dropped and the bot backs off', async (t) => {
  const { bot, emulator, clock } = await harness(t, { connectTimeout: 30_000 });
  emulator.setBufferState('withhold');
  void bot.start();
  await emulator.waitFor(() => emulator.connections[0]?.authorizedAt !== undefined, { what: 'socket authorized' });
  assert.equal(bot.state, 'connecting');
  clock.advance(29_999);
  assert.equal(bot.state, 'connecting');
  clock.advance(1);
  assert.equal(bot.state, 'backoff');
  assert.match(bot.health().lastError ?? '', /connectTimeout/);
  await emulator.waitFor(() => emulator.openConnections().length === 0, { what: 'the socket closed' });
  emulator.setBufferState('send');
  clock.runNext();
  await bot.start();
  assert.equal(emulator.connections.length, 2);
});

test('a registration failure other than 401/403/429 leads to backoff, then a retry', async (t) => {
  const { bot, emulator, clock } = await harness(t);
  emulator.failNext('POST /wdm/api/v1/devices', { status: 503 });
  const started = bot.start();
  await waitForState(bot, 'backoff');
  assert.match(bot.health().lastError ?? '', /HTTP 503/);
  clock.runNext();
  await started;
  assert.equal(emulator.registrations.length, 1);
});

test('with reconnect: false a lost connection ends in idle, with no timer left', async (t) => {
  const { bot, emulator, clock, states } = await harness(t, { reconnect: false });
  await bot.start();
  emulator.dropConnections({ code: 1011 });
  await waitForState(bot, 'idle');
  // backoff is left at once by its eventless transition, so no snapshot shows it
  assert.deepEqual(states.slice(-2), ['open', 'idle']);
  assert.deepEqual(bot.health().lastClose, { code: 1011, reason: '' });
  assert.equal(clock.pending, 0);
  assert.equal(emulator.connections.length, 1);
});

test('with reconnect: false, start() rejects with DISCONNECTED when the first attempt fails', async (t) => {
  const { bot, emulator } = await harness(t, { reconnect: false });
  emulator.failNext('POST /wdm/api/v1/devices', { status: 500 });
  await assert.rejects(bot.start(), { code: 'DISCONNECTED', message: /reconnect is false.*HTTP 500/ });
  assert.equal(bot.state, 'idle');
});

test('the backoff delay grows exponentially, is capped and fully jittered', () => {
  const ceilings = [1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => reconnectDelay(attempt, 1000, 32_000, 0.999_999));
  assert.deepEqual(ceilings, [999, 1999, 3999, 7999, 15_999, 31_999, 31_999, 31_999]);
  assert.equal(reconnectDelay(3, 1000, 32_000, 0), 0);
  assert.equal(reconnectDelay(3, 1000, 32_000, 0.5), 2000);
});

test('successive backoff delays stay under the growing ceiling and vary', async (t) => {
  const { bot, emulator, clock } = await harness(t, { reconnectSleep: 1000, reconnectSleepMax: 8000 });
  emulator.failNext('POST /wdm/api/v1/devices', { status: 500, times: 12 });
  void bot.start().catch(() => undefined);
  const delays: number[] = [];
  for (let attempt = 1; attempt <= 12; attempt += 1) {
    await waitForState(bot, 'backoff');
    assert.equal(bot.health().attempt, attempt);
    const [delay] = clock.pendingDelays();
    assert.ok(delay !== undefined && delay >= 0 && delay < Math.min(8000, 1000 * 2 ** (attempt - 1)), `attempt ${attempt}: ${delay}`);
    delays.push(delay);
    clock.runNext();
    assert.equal(bot.state, 'fetchingUrl');
  }
  await bot.start();
  assert.ok(new Set(delays.slice(3)).size > 1, `jittered: ${delays.join(', ')}`);
});

test('the attempt counter restarts only after the link stayed open for stableAfter', async (t) => {
  const { bot, emulator, clock } = await harness(t, { stableAfter: 30_000 });
  emulator.failNext('POST /wdm/api/v1/devices', { status: 500, times: 2 });
  const started = bot.start();
  for (let i = 0; i < 2; i += 1) {
    await waitForState(bot, 'backoff');
    clock.runNext();
  }
  await started;
  assert.equal(bot.health().attempt, 2, 'still counting just after opening');
  clock.advance(29_999);
  assert.equal(bot.health().attempt, 2);
  clock.advance(1);
  assert.equal(bot.health().attempt, 0, 'reset after stableAfter');
  emulator.dropConnections({ code: 1011 });
  await waitForState(bot, 'backoff');
  assert.equal(bot.health().attempt, 1);
});

test('an event that arrives before mercury.buffer_state is delivered, not dropped', async (t) => {
  const { bot, emulator, person, until } = await harness(t);
  const texts: string[] = [];
  bot.on('message', (message) => {
    texts.push(message.text ?? '');
  });
  emulator.setBufferState('withhold');
  const started = bot.start();
  await emulator.waitFor(() => emulator.connections[0]?.authorizedAt !== undefined);
  emulator.postMessage({ from: emulator.createUser({ displayName: 'Alice' }), toPerson: person, text: 'early' });
  const early = emulator.events.find((e) => e.personUuid === person.uuid)?.data;
  emulator.sendRaw(JSON.stringify({ id: randomUUID(), data: early }));
  await until(() => texts.length === 1);
  assert.equal(bot.state, 'connecting');
  emulator.sendRaw(JSON.stringify({ id: randomUUID(), data: { eventType: 'mercury.buffer_state' } }));
  await started;
  assert.deepEqual(texts, ['early']);
});
