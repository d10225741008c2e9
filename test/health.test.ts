import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serveHealth } from '../examples/health.js';
import { defer, harness, waitForState } from './support/helpers.js';

test('health() tells state, since, reconnects, last pong, last close, last error and device id — never the token', async (t) => {
  const { bot, emulator, clock, person } = await harness(t, { pingEvery: 60_000 });
  const idle = bot.health();
  assert.equal(idle.state, 'idle');
  assert.equal(idle.connected, false);
  assert.equal(idle.deviceId, null);
  await bot.start();
  clock.advance(60_000);
  await waitForState(bot, 'open');
  emulator.dropConnections({ code: 1011, reason: 'Internal error' });
  await waitForState(bot, 'backoff');
  const before = Date.now();
  clock.runNext();
  await waitForState(bot, 'open');
  const health = bot.health();
  const [device] = emulator.devicesOf(person);
  assert.equal(health.state, 'open');
  assert.equal(health.connected, true);
  assert.ok(health.since >= before, 'since: when the state was entered');
  assert.equal(health.reconnects, 1);
  assert.ok(health.lastPongAt !== null && health.lastPongAt <= before);
  assert.deepEqual(health.lastClose, { code: 1011, reason: 'Internal error' });
  assert.match(health.lastError ?? '', /1011/);
  assert.equal(health.deviceId, device?.uuid);
  assert.equal(health.deviceUrl, device?.url);
  assert.ok(!JSON.stringify(health).includes(person.token));
});

test('examples/health.ts serves health on HTTP: 200 when connected, 503 otherwise', async (t) => {
  const { bot } = await harness(t);
  const server = await serveHealth(bot, 0);
  defer(t, () => new Promise((resolve) => server.close(resolve)));
  const down = await fetch(server.url);
  assert.equal(down.status, 503);
  assert.equal(((await down.json()) as { state: string }).state, 'idle');
  await bot.start();
  const up = await fetch(server.url);
  assert.equal(up.status, 200);
  assert.equal(((await up.json()) as { connected: boolean }).connected, true);
  assert.equal((await fetch(server.url.replace('/health', '/nope'))).status, 404);
});
