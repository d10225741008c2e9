/**
 * Bad input: HTTP bodies that are not JSON, from REST and from WDM, on success and on error.
 * (A REST error body that is not JSON: test/rest/outbox.test.ts "other statuses reject…".)
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ApiError } from '../../src/index.js';
import { harness, tempDir, waitForState } from '../support/helpers.js';

const PORTAL = '<html><body>Please log in to the guest Wi-Fi</body></html>';

test('REST: a 2xx answer whose body is not JSON rejects with an ApiError saying so; the next call works', async (t) => {
  const { bot, emulator, person } = await harness(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  const room = emulator.directRoom(person, alice);
  emulator.failNext('GET /v1/rooms/*', { status: 200, body: PORTAL });
  await assert.rejects(bot.api.rooms.get(room.id), (error: unknown) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.code, 'API_ERROR');
    assert.equal(error.status, 200);
    assert.match(error.message, /Webex API answered with a body that is not JSON: GET .*\/rooms\/.* answered HTTP 200 \(the body is not JSON\) \[trackingId EMU_/);
    return true;
  });
  assert.equal((await bot.api.rooms.get(room.id)).id, room.id);
});

test('WDM: a registration answered 200 with a body that is not JSON warns CONNECT_FAILED with a hint, backs off, and the next attempt connects', async (t) => {
  const { bot, emulator, clock, warnings, until } = await harness(t);
  emulator.failNext('POST /wdm/api/v1/devices', { status: 200, body: PORTAL });
  const started = bot.start();
  await until(() => warnings.length === 1, 'the warning');
  assert.equal(bot.state, 'backoff');
  assert.equal(warnings[0]?.code, 'CONNECT_FAILED');
  assert.match(warnings[0]?.message ?? '', /answered HTTP 200 with a body that is not a JSON object \(application\/json\); is wdmUrl right, or did a proxy answer\?/);
  clock.runNext();
  await started;
  assert.equal(emulator.registrations.length, 1);
});

test('WDM: an error answer whose body is not JSON says so, and the bot retries', async (t) => {
  const { bot, emulator, clock, warnings, until } = await harness(t);
  emulator.failNext('POST /wdm/api/v1/devices', { status: 502, body: 'Bad gateway' });
  const started = bot.start();
  await until(() => warnings.length === 1, 'the warning');
  assert.match(warnings[0]?.message ?? '', /device registration failed: POST .* answered HTTP 502 \(the body is not JSON\)/);
  clock.runNext();
  await started;
});

test('WDM: a device list answered 200 with a body that is not JSON is retried, not taken for "the saved device is gone"', async (t) => {
  const lastConn = join(await tempDir(t), 'last-connection.json');
  const first = await harness(t, { lastConn });
  await first.bot.start();
  await first.bot.stop();
  const { bot, emulator, clock, warnings, until } = await harness(t, { lastConn, emulator: first.emulator, person: first.person });
  emulator.failNext('GET /wdm/api/v1/devices', { status: 200, body: PORTAL });
  const started = bot.start();
  await until(() => warnings.length === 1, 'the warning');
  assert.equal(bot.state, 'backoff');
  assert.match(warnings[0]?.message ?? '', /listing devices: GET .* answered HTTP 200 with a body that is not JSON/);
  clock.runNext();
  await started;
  await waitForState(bot, 'open');
  assert.equal(emulator.registrations.length, 1, 'the saved device was reused: no new registration');
});
