/**
 * Bad input: Retry-After values that are garbage, negative, zero or huge, on registration, on the
 * socket handshake and on REST calls. (Already covered: garbage "soon" and a huge value on
 * registration, test/connection/rate-limit.test.ts; an HTTP date and garbage "later" on REST,
 * test/rest/outbox.test.ts; the parser, test/protocol/retry-after.test.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { harness, waitForState } from '../support/helpers.js';

test('registration: a negative Retry-After waits retryTimeout, and "0" waits reconnectSleep rather than spinning', async (t) => {
  const { bot, emulator, clock, warnings } = await harness(t, { retryTimeout: 4000, reconnectSleep: 500 });
  emulator.failNext('POST /wdm/api/v1/devices', { status: 429, retryAfter: '-5' });
  const started = bot.start();
  await waitForState(bot, 'rateLimited');
  assert.deepEqual(clock.pendingDelays(), [4000]);
  emulator.failNext('POST /wdm/api/v1/devices', { status: 429, retryAfter: '0' });
  clock.advance(4000);
  await waitForState(bot, 'rateLimited');
  assert.deepEqual(clock.pendingDelays(), [500]);
  clock.advance(500);
  await started;
  assert.deepEqual(
    warnings.map((w) => w.code),
    ['CONNECT_FAILED', 'CONNECT_FAILED'],
  );
  assert.match(warnings[0]?.message ?? '', /HTTP 429.*trying again in 4000 ms/);
});

test('socket handshake: a garbage Retry-After waits retryTimeout, a huge one retryAfterMax', async (t) => {
  const { bot, emulator, clock } = await harness(t, { retryTimeout: 3000, retryAfterMax: 20_000 });
  emulator.failNext('WS /mercury/*', { status: 429, retryAfter: 'in a while' });
  const started = bot.start();
  await waitForState(bot, 'rateLimited');
  assert.deepEqual(clock.pendingDelays(), [3000]);
  emulator.failNext('WS /mercury/*', { status: 429, retryAfter: 999_999_999 });
  clock.advance(3000);
  await waitForState(bot, 'rateLimited');
  assert.deepEqual(clock.pendingDelays(), [20_000]);
  clock.advance(20_000);
  await started;
  assert.equal(emulator.registrations.length, 1);
});

test('REST: a negative Retry-After waits retryTimeout, a huge one retryAfterMax, and the call goes through', async (t) => {
  const { bot, emulator, clock, person } = await harness(t, { retryCount: 2, retryTimeout: 7000, retryAfterMax: 60_000 });
  const alice = emulator.createUser({ displayName: 'Alice' });
  const room = emulator.directRoom(person, alice);
  emulator.failNext('POST /v1/messages', { status: 429, retryAfter: '-30' });
  emulator.failNext('POST /v1/messages', { status: 429, retryAfter: 86_400 * 365 });
  const sent = bot.api.messages.create({ roomId: room.id, text: 'patient' });
  await clock.waitForTimer(7000);
  clock.advance(7000);
  await clock.waitForTimer(60_000);
  clock.advance(60_000);
  assert.equal((await sent).text, 'patient');
  assert.equal(bot.health().rateLimits, 2);
});
