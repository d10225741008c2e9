import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConnectionStateName, Message } from '../../src/index.js';
import { harness, waitForState } from '../support/helpers.js';

/** A seeded pseudo-random generator (mulberry32), so that a failing run can be repeated. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

test('with concurrency 8 and random REST latency, each room still sees its messages in order', async (t) => {
  const seed = 20261124;
  const { bot, emulator, person, until } = await harness(t, { concurrency: 8 });
  const rnd = random(seed);
  emulator.setLatency('GET /v1/messages/*', () => Math.floor(rnd() * 25));
  const alice = emulator.createUser({ displayName: 'Alice' });
  const rooms = [0, 1, 2].map((i) => emulator.createRoom({ title: `room ${i}`, members: [alice, person] }));
  const seen = new Map<string, string[]>();
  bot.on('message', async (message) => {
    const list = seen.get(message.roomId) ?? [];
    list.push(message.text ?? '');
    seen.set(message.roomId, list);
  });
  await bot.start();
  const sent = new Map<string, string[]>();
  for (let i = 0; i < 12; i += 1) {
    for (const room of rooms) {
      const text = `${room.title} #${i}`;
      emulator.postMessage({ from: alice, room, text, mentions: [person] });
      sent.set(room.id, [...(sent.get(room.id) ?? []), text]);
    }
  }
  await until(() => [...seen.values()].reduce((n, l) => n + l.length, 0) === 36, 'all 36 messages', 20_000);
  for (const room of rooms) assert.deepEqual(seen.get(room.id), sent.get(room.id), `order in ${room.title} (seed ${seed})`);
  const gets = emulator.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/messages/'));
  const overlapping = Math.max(...gets.map((g) => gets.filter((o) => o.startedAt <= g.startedAt && o.at > g.startedAt).length));
  assert.ok(overlapping > 1, `enrichment ran concurrently (at most ${overlapping} at once)`);
  assert.ok(overlapping <= 8, `never more than concurrency (8) at once, saw ${overlapping}`);
});

test('a handler that takes 2 × pingWait never delays the pings nor causes a reconnect', async (t) => {
  const PING_EVERY = 60_000;
  const PING_WAIT = 10_000;
  const { bot, emulator, clock, person, states, until, changed } = await harness(t, { pingEvery: PING_EVERY, pingWait: PING_WAIT });
  const alice = emulator.createUser({ displayName: 'Alice' });
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let entered = false;
  const handled: string[] = [];
  bot.on('message', async (message) => {
    if (message.text === 'slow') {
      entered = true;
      await released;
    }
    handled.push(message.text ?? '');
    changed();
  });
  await bot.start();
  emulator.postMessage({ from: alice, toPerson: person, text: 'slow' });
  await until(() => entered, 'the slow handler running');
  // Three ping rounds while the handler waits: 190 s of clock time, far more than 2 × pingWait.
  for (let round = 0; round < 3; round += 1) {
    const pings = emulator.pings.length;
    clock.advance(round === 0 ? PING_EVERY : PING_EVERY - PING_WAIT);
    assert.equal(bot.state, 'awaitingPong');
    await emulator.waitFor(() => emulator.pings.length === pings + 1);
    await waitForState(bot, 'open');
    clock.advance(PING_WAIT); // the pong came: this must not time anything out
    assert.equal(bot.state, 'open');
  }
  release();
  await until(() => handled.length === 1);
  assert.ok(!states.includes('backoff' as ConnectionStateName));
  assert.equal(emulator.connections.length, 1);
});

test('handler errors carry the context of their event', async (t) => {
  const { bot, emulator, person, errors, until } = await harness(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  bot.on('message', async () => {
    throw new Error('handler failed');
  });
  await bot.start();
  const posted = emulator.postMessage({ from: alice, toPerson: person, text: 'x' }) as unknown as Message;
  await until(() => errors.length === 1);
  const [error] = errors;
  assert.equal(error?.code, 'HANDLER_ERROR');
  assert.equal(error?.context?.verb, 'post');
  assert.equal(error?.context?.roomId, posted.roomId);
  assert.ok(error?.context?.activityId);
  assert.equal(bot.state, 'open');
});

test("other bots' messages are ignored unless allowBotToBot is set", async (t) => {
  for (const allowBotToBot of [false, true]) {
    const { bot, emulator, person, until } = await harness(t, { allowBotToBot });
    const otherBot = emulator.createBot({ displayName: 'Other Bot' });
    const alice = emulator.createUser({ displayName: 'Alice' });
    const room = emulator.createRoom({ title: 'bots', members: [alice, person, otherBot] });
    const texts: string[] = [];
    bot.on('message', (message) => {
      texts.push(message.text ?? '');
    });
    await bot.start();
    emulator.postMessage({ from: otherBot, room, text: 'beep', mentions: [person] });
    emulator.postMessage({ from: alice, room, text: 'human', mentions: [person] });
    await until(() => texts.includes('human'));
    assert.deepEqual(texts, allowBotToBot ? ['beep', 'human'] : ['human'], `allowBotToBot: ${allowBotToBot}`);
  }
});

test("the 'activity' event sees every activity once, the bot's own included, before its typed event", async (t) => {
  const { bot, emulator, person, until } = await harness(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  const order: string[] = [];
  bot.on('activity', (activity) => {
    order.push(`activity:${activity.verb}:${activity.actor.id === person.uuid ? 'own' : 'other'}`);
  });
  bot.on('message', (message) => {
    order.push(`message:${message.text ?? ''}`);
  });
  await bot.start();
  emulator.postMessage({ from: alice, toPerson: person, text: 'hi' });
  await until(() => order.includes('message:hi'));
  await bot.api.messages.create({ toPersonEmail: alice.email, text: 'my own' });
  await until(() => order.includes('activity:post:own'));
  assert.deepEqual(order, ['activity:post:other', 'message:hi', 'activity:post:own']);
});
