import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConnectionStateName } from '../../src/index.js';
import { harness, waitForState, type Harness } from '../support/helpers.js';

/**
 * How to bring a fresh bot into each state; some return what the server does once stop() began
 * (a registration already sent is answered: stop() lets it finish and keeps its device).
 */
const INTO: Record<ConnectionStateName, (h: Harness) => Promise<void | (() => void)>> = {
  idle: async () => undefined,
  fetchingUrl: async ({ bot, emulator }) => {
    const held = emulator.hold('POST /wdm/api/v1/devices');
    void bot.start().catch(() => undefined);
    await emulator.waitFor(() => emulator.heldRequests === 1);
    return () => held.release();
  },
  connecting: async ({ bot, emulator }) => {
    emulator.setBufferState('withhold');
    void bot.start().catch(() => undefined);
    await emulator.waitFor(() => emulator.connections[0]?.authorizedAt !== undefined);
  },
  open: async ({ bot }) => bot.start(),
  awaitingPong: async ({ bot, emulator, clock }) => {
    await bot.start();
    emulator.setPongMode('ignore');
    clock.advance(60_000);
    await emulator.waitFor(() => emulator.pings.length === 1);
  },
  backoff: async ({ bot, emulator }) => {
    await bot.start();
    emulator.dropConnections({ code: 1011 });
    await waitForState(bot, 'backoff');
  },
  rateLimited: async ({ bot, emulator }) => {
    emulator.failNext('POST /wdm/api/v1/devices', { status: 429, retryAfter: 60 });
    void bot.start().catch(() => undefined);
    await waitForState(bot, 'rateLimited');
  },
  failed: async ({ bot, emulator }) => {
    emulator.failNext('POST /wdm/api/v1/devices', { status: 401 });
    await bot.start().catch(() => undefined);
  },
};

for (const [state, into] of Object.entries(INTO) as Array<[ConnectionStateName, (h: Harness) => Promise<void | (() => void)>]>) {
  test(`stop() from ${state} ends in idle with no socket, no timer and no further request`, async (t) => {
    const h = await harness(t, { pingEvery: 60_000 });
    const whileStopping = await into(h);
    assert.equal(h.bot.state, state);
    const hadSocket = h.emulator.openConnections().length === 1;
    const stopping = h.bot.stop();
    assert.equal(h.bot.state, 'idle', 'idle at once');
    whileStopping?.();
    await stopping;
    assert.equal(h.bot.state, 'idle');
    assert.equal(h.clock.pending, 0, 'every timer cancelled');
    await h.emulator.waitFor(() => h.emulator.openConnections().length === 0, { what: 'socket closed' });
    if (hadSocket) {
      assert.equal(h.emulator.connections.at(-1)?.closeCode, 1000);
      assert.equal(h.emulator.connections.at(-1)?.closedBy, 'client');
    }
    h.clock.advance(3_600_000);
    assert.equal(h.bot.state, 'idle', 'nothing wakes the machine up');
    assert.equal(h.clock.pending, 0);
  });
}

test('stop() while start() is pending rejects start() with STOPPED', async (t) => {
  const h = await harness(t);
  const release = await INTO.fetchingUrl(h);
  const started = h.bot.start();
  const stopping = h.bot.stop();
  release?.();
  await stopping;
  await assert.rejects(started, { code: 'STOPPED' });
});

test('stop() waits for a registration that is never answered until stopTimeout, then abandons it', async (t) => {
  const h = await harness(t, { stopTimeout: 5_000 });
  await INTO.fetchingUrl(h);
  let stopped = false;
  const stopping = h.bot.stop().then(() => {
    stopped = true;
  });
  assert.equal(h.bot.state, 'idle');
  await h.clock.waitForTimer(5_000);
  h.clock.advance(4_999);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(stopped, false, 'still waiting for the registration');
  h.clock.advance(1);
  await stopping;
  assert.equal(h.clock.pending, 0, 'no timer left');
  assert.equal(h.bot.state, 'idle');
  await h.emulator.waitFor(() => h.emulator.abandonedRequests.some((r) => r.method === 'POST' && r.path === '/wdm/api/v1/devices'), {
    what: 'the registration request aborted by the bot',
  });
});

test('stop() is idempotent', async (t) => {
  const { bot } = await harness(t);
  await bot.start();
  await Promise.all([bot.stop(), bot.stop()]);
  await bot.stop();
  assert.equal(bot.state, 'idle');
});

test('stop() cuts the link after closeTimeout when the peer never answers the close', async (t) => {
  const { bot, emulator, clock } = await harness(t, { closeTimeout: 2000 });
  await bot.start();
  emulator.freeze();
  let stopped = false;
  const stopping = bot.stop().then(() => {
    stopped = true;
  });
  assert.equal(bot.state, 'idle', 'the machine is idle at once');
  await clock.waitForTimer(2000);
  clock.advance(1999);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(stopped, false, 'still waiting for the close handshake');
  clock.advance(1);
  await stopping;
  assert.equal(bot.state, 'idle');
  assert.equal(clock.pending, 0, 'the close timer is gone');
});

test('the bot can start again after stop()', async (t) => {
  const { bot, emulator } = await harness(t);
  await bot.start();
  await bot.stop();
  await bot.start();
  assert.equal(bot.state, 'open');
  assert.equal(emulator.registrations.length, 1, 'the device is reused');
  assert.equal(emulator.connections.length, 2);
});
