import assert from 'node:assert/strict';
import { test } from 'node:test';
import { harness, waitForState } from '../support/helpers.js';

test('a 4404 close ("refresh your registration") leads to a new registration', async (t) => {
  const { bot, emulator, clock } = await harness(t);
  await bot.start();
  emulator.dropConnections({ code: 4404, reason: 'NotFound' });
  await waitForState(bot, 'backoff');
  clock.runNext();
  await waitForState(bot, 'open');
  assert.equal(emulator.registrations.length, 2);
  await emulator.waitFor(() => emulator.deviceDeletions.length === 1, { what: 'the old device deleted' });
});

test('a close without status (1005) before the socket is ready leads to a new registration', async (t) => {
  const { bot, emulator, clock } = await harness(t);
  emulator.setBufferState('withhold');
  const started = bot.start();
  await emulator.waitFor(() => emulator.connections[0]?.authorizedAt !== undefined);
  emulator.dropConnections({ code: null });
  await waitForState(bot, 'backoff');
  assert.deepEqual(bot.health().lastClose, { code: 1005, reason: '' });
  emulator.setBufferState('send');
  clock.runNext();
  await started;
  assert.equal(emulator.registrations.length, 2);
});

test('a close without status after ready reconnects to the same device', async (t) => {
  const { bot, emulator, clock } = await harness(t);
  await bot.start();
  emulator.dropConnections({ code: null });
  await waitForState(bot, 'backoff');
  clock.runNext();
  await waitForState(bot, 'open');
  assert.equal(emulator.registrations.length, 1);
});

test('a device that is stale right after its registration is not re-registered in a tight loop', async (t) => {
  const { bot, emulator, clock, states } = await harness(t);
  emulator.failNext('WS /mercury/*', { status: 404, times: 3 });
  const started = bot.start();
  for (let i = 1; i <= 3; i += 1) {
    await waitForState(bot, 'backoff');
    assert.equal(emulator.registrations.length, i, 'one registration per backoff');
    clock.runNext();
  }
  await started;
  assert.equal(emulator.registrations.length, 4);
  assert.deepEqual(states.slice(0, 4), ['idle', 'fetchingUrl', 'connecting', 'backoff']);
  await emulator.waitFor(() => emulator.deviceDeletions.length === 3, { what: 'each stale device deleted' });
});

test('after repeated failed attempts the device is checked with WDM before it is reused', async (t) => {
  const { bot, emulator, clock } = await harness(t);
  await bot.start();
  const lists = () => emulator.requests.filter((r) => r.method === 'GET' && r.path === '/wdm/api/v1/devices').length;
  // The drop is attempt 1; two refused handshakes make attempts 2 and 3.
  emulator.failNext('WS /mercury/*', { status: 503, times: 2 });
  emulator.dropConnections({ code: 1011 });
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    await waitForState(bot, 'backoff');
    assert.equal(lists(), 0, `attempt ${attempt}: reused without asking`);
    clock.runNext();
  }
  await waitForState(bot, 'open');
  assert.equal(lists(), 1, 'checked once the attempts reached verifyDeviceAfter');
  assert.equal(emulator.registrations.length, 1, 'WDM still knew it: reused');
});

test('a device WDM forgot while its socket kept failing is replaced after the check', async (t) => {
  const { bot, emulator, clock, person } = await harness(t);
  await bot.start();
  const [device] = emulator.devicesOf(person);
  emulator.failNext('WS /mercury/*', { status: 503, times: 2 });
  emulator.dropConnections({ code: 1011 });
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    await waitForState(bot, 'backoff');
    if (attempt === 3) emulator.markDeviceStale(device?.uuid ?? '');
    clock.runNext();
  }
  await waitForState(bot, 'open');
  assert.equal(emulator.registrations.length, 2);
});

test('a handshake 410 (gone) is a stale device too: a new registration', async (t) => {
  const { bot, emulator, clock, states } = await harness(t);
  await bot.start();
  emulator.failNext('WS /mercury/*', { status: 410 });
  emulator.dropConnections({ code: 1011 });
  await waitForState(bot, 'backoff');
  clock.runNext();
  await waitForState(bot, 'open');
  assert.deepEqual(states.slice(-6), ['backoff', 'fetchingUrl', 'connecting', 'fetchingUrl', 'connecting', 'open']);
  assert.equal(emulator.registrations.length, 2);
});
