import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { harness, waitForState } from '../support/helpers.js';

const PING_EVERY = 60_000;
const PING_WAIT = 10_000;
const eventFrame = () => JSON.stringify({ id: randomUUID(), data: { eventType: 'conversation.highlight' } });

test('after pingEvery of silence the bot pings with a fresh id, and a matching pong keeps it open', async (t) => {
  const { bot, emulator, clock, states } = await harness(t, { pingEvery: PING_EVERY, pingWait: PING_WAIT });
  await bot.start();
  clock.advance(PING_EVERY - 1);
  assert.equal(bot.state, 'open', 'no ping before pingEvery');
  clock.advance(1);
  assert.equal(bot.state, 'awaitingPong');
  await waitForState(bot, 'open');
  assert.equal(emulator.pings.length, 1);
  assert.deepEqual(states.slice(-3), ['open', 'awaitingPong', 'open']);
  assert.ok(bot.health().lastPongAt, 'the pong is recorded');

  clock.advance(PING_EVERY);
  await waitForState(bot, 'open');
  assert.equal(emulator.pings.length, 2);
  assert.notEqual(emulator.pings[0]?.id, emulator.pings[1]?.id, 'every ping has a fresh id');
  assert.equal(emulator.connections.length, 1, 'no reconnect');
});

test('any inbound frame in open restarts the idle timer', async (t) => {
  const { bot, emulator, clock } = await harness(t, { pingEvery: PING_EVERY, pingWait: PING_WAIT });
  await bot.start();
  clock.advance(PING_EVERY - 1);
  const acks = emulator.acks.length;
  emulator.sendRaw(eventFrame());
  await emulator.waitFor(() => emulator.acks.length === acks + 1, { what: 'the frame was received (and acked)' });
  clock.advance(PING_EVERY - 1);
  assert.equal(bot.state, 'open', 'the frame postponed the ping');
  clock.advance(1);
  assert.equal(bot.state, 'awaitingPong');
});

test('a pong in open (an unsolicited one) restarts the idle timer too', async (t) => {
  const { bot, emulator, clock } = await harness(t, { pingEvery: PING_EVERY, pingWait: PING_WAIT });
  await bot.start();
  clock.advance(PING_EVERY - 1);
  emulator.sendRaw(JSON.stringify({ id: randomUUID(), type: 'pong' }));
  await emulator.waitFor(() => bot.health().lastPongAt !== null);
  clock.advance(PING_EVERY - 1);
  assert.equal(bot.state, 'open', 'the pong postponed the ping');
  clock.advance(1);
  assert.equal(bot.state, 'awaitingPong');
});

test('no pong within pingWait: the socket is terminated, the bot backs off and reconnects to the same device', async (t) => {
  const { bot, emulator, clock, states } = await harness(t, { pingEvery: PING_EVERY, pingWait: PING_WAIT });
  await bot.start();
  emulator.setPongMode('ignore');
  clock.advance(PING_EVERY);
  await emulator.waitFor(() => emulator.pings.length === 1);
  clock.advance(PING_WAIT - 1);
  assert.equal(bot.state, 'awaitingPong');
  clock.advance(1);
  assert.equal(bot.state, 'backoff');
  await emulator.waitFor(() => emulator.openConnections().length === 0, { what: 'the dead socket closed' });
  assert.equal(emulator.connections[0]?.closeCode, 1006, 'terminated, not closed politely');
  assert.match(bot.health().lastError ?? '', /no pong within pingWait/);

  emulator.setPongMode('normal');
  clock.runNext();
  await waitForState(bot, 'open');
  assert.deepEqual(states.slice(-5), ['awaitingPong', 'backoff', 'fetchingUrl', 'connecting', 'open']);
  assert.equal(emulator.registrations.length, 1, 'the device is reused');
  assert.equal(emulator.connections.length, 2);
  assert.equal(emulator.connections[1]?.deviceUuid, emulator.connections[0]?.deviceUuid);
});

test('a pong with another id means the link is broken: backoff', async (t) => {
  const { bot, emulator, clock } = await harness(t, { pingEvery: PING_EVERY, pingWait: PING_WAIT });
  await bot.start();
  emulator.setPongMode('mismatch');
  clock.advance(PING_EVERY);
  await waitForState(bot, 'backoff');
  assert.match(bot.health().lastError ?? '', /pong id .* does not match ping id/);
  assert.equal(bot.health().reconnects, 1);
});

test('inbound traffic while awaiting the pong proves the link alive: back to open, and the event is delivered', async (t) => {
  const { bot, emulator, clock, states, person, until } = await harness(t, { pingEvery: PING_EVERY, pingWait: PING_WAIT });
  const texts: string[] = [];
  bot.on('message', (message) => {
    texts.push(message.text ?? '');
  });
  await bot.start();
  emulator.setPongMode('ignore');
  clock.advance(PING_EVERY);
  await emulator.waitFor(() => emulator.pings.length === 1);
  emulator.postMessage({ from: emulator.createUser({ displayName: 'Alice' }), toPerson: person, text: 'while pinging' });
  await waitForState(bot, 'open');
  await until(() => texts.length === 1);
  assert.deepEqual(texts, ['while pinging']);
  clock.advance(PING_WAIT);
  assert.equal(bot.state, 'open', 'the pong timer was cancelled');
  assert.ok(!states.includes('backoff'));
  assert.equal(emulator.connections.length, 1);
});
