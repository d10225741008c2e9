import assert from 'node:assert/strict';
import { test } from 'node:test';
import { harness, waitForState } from '../support/helpers.js';

const registrationsRequested = (emulator: { requests: Array<{ method: string; path: string }> }) =>
  emulator.requests.filter((r) => r.method === 'POST' && r.path === '/wdm/api/v1/devices').length;

test('a 429 on registration waits exactly Retry-After seconds in rateLimited, with no request meanwhile', async (t) => {
  const { bot, emulator, clock, states } = await harness(t);
  emulator.failNext('POST /wdm/api/v1/devices', { status: 429, retryAfter: 7 });
  const started = bot.start();
  await waitForState(bot, 'rateLimited');
  assert.deepEqual(clock.pendingDelays(), [7000]);
  clock.advance(6999);
  assert.equal(bot.state, 'rateLimited');
  assert.equal(registrationsRequested(emulator), 1);
  clock.advance(1);
  await started;
  assert.deepEqual(states, ['idle', 'fetchingUrl', 'rateLimited', 'fetchingUrl', 'connecting', 'open']);
  assert.equal(registrationsRequested(emulator), 2);
});

test('Retry-After as an HTTP date is honoured', async (t) => {
  const { bot, emulator, clock } = await harness(t);
  const at = new Date(Date.now() + 120_000).toUTCString();
  emulator.failNext('POST /wdm/api/v1/devices', { status: 429, retryAfter: at });
  void bot.start().catch(() => undefined);
  await waitForState(bot, 'rateLimited');
  const [delay] = clock.pendingDelays();
  assert.ok(delay !== undefined && delay > 110_000 && delay <= 120_000, `delay ${delay}`);
});

test('a 429 without a usable Retry-After waits retryTimeout; a huge one is capped at retryAfterMax', async (t) => {
  const { bot, emulator, clock } = await harness(t, { retryTimeout: 4000, retryAfterMax: 60_000 });
  emulator.failNext('POST /wdm/api/v1/devices', { status: 429, retryAfter: 'soon' });
  const started = bot.start();
  await waitForState(bot, 'rateLimited');
  assert.deepEqual(clock.pendingDelays(), [4000]);
  emulator.failNext('POST /wdm/api/v1/devices', { status: 429, retryAfter: 86_400 });
  clock.advance(4000);
  await waitForState(bot, 'rateLimited');
  assert.deepEqual(clock.pendingDelays(), [60_000]);
  clock.advance(60_000);
  await started;
});

test('a 429 on the socket handshake also waits in rateLimited, then reconnects to the same device', async (t) => {
  const { bot, emulator, clock, states } = await harness(t);
  emulator.failNext('WS /mercury/*', { status: 429, retryAfter: 3 });
  const started = bot.start();
  await waitForState(bot, 'rateLimited');
  assert.deepEqual(clock.pendingDelays(), [3000]);
  clock.advance(3000);
  await started;
  assert.deepEqual(states, ['idle', 'fetchingUrl', 'connecting', 'rateLimited', 'fetchingUrl', 'connecting', 'open']);
  assert.equal(emulator.registrations.length, 1);
});
