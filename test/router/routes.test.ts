/**
 * Routing: exclusive routes, `otherwise`, shell-like arguments, `/help`, middleware (and the
 * ready access rule), card actions routed by id, `ask`, per-room storage — against the emulator.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile, stat } from 'node:fs/promises';
import { test } from 'node:test';
import { fileStorage, restrictTo, SparkBotError, type ReceivedMessage } from '../../src/index.js';
import { harness, tempDir, type Harness } from '../support/helpers.js';

/** A bot with Alice in a direct room; `posts()` are the bot's messages in order. */
async function setup(t: Parameters<typeof harness>[0], options: Parameters<typeof harness>[1] = {}) {
  const h = await harness(t, options);
  const alice = h.emulator.createUser({ displayName: 'Alice', email: 'alice@example.com' });
  const room = h.emulator.directRoom(alice, h.person);
  const posts = () => [...h.emulator.messages.values()].filter((m) => m.personUuid === h.person.uuid).map((m) => m.text ?? m.markdown ?? '');
  const say = (text: string, extra: { parentId?: string } = {}) => h.emulator.postMessage({ from: alice, room, text, ...extra });
  return { ...h, alice, room, posts, say };
}

test('routes are exclusive (the first match answers, once), otherwise takes the rest, and the message event still fires for every message first', async (t) => {
  const h = await setup(t);
  const order: string[] = [];
  h.bot.on('message', (message) => {
    order.push(`message:${message.text ?? ''}`);
  });
  h.bot.command('roll', ({ args, reply }) => {
    order.push('roll');
    const sides = Number(args[0] ?? 6);
    return Number.isInteger(sides) && sides >= 2 ? reply(`🎲 ${sides}`) : reply('Give me a whole number of sides, at least 2: `/roll 20`');
  });
  h.bot.hears(/roll/i, () => {
    order.push('hears roll');
  });
  h.bot.otherwise(({ text, reply }) => {
    order.push('otherwise');
    return reply(`you said: ${text}`);
  });
  await h.bot.start();
  for (const text of ['/roll 20', '/roll abc', 'what a roll', 'hello']) {
    h.say(text);
    await h.until(() => order.includes(`message:${text}`) && h.posts().length === order.filter((o) => !o.startsWith('message')).length - order.filter((o) => o === 'hears roll').length);
  }
  await h.until(() => h.posts().length === 3 && order.includes('hears roll'));
  assert.deepEqual(order, ['message:/roll 20', 'roll', 'message:/roll abc', 'roll', 'message:what a roll', 'hears roll', 'message:hello', 'otherwise']);
  assert.deepEqual(h.posts(), ['🎲 20', 'Give me a whole number of sides, at least 2: `/roll 20`', 'you said: hello']);
});

test('command arguments are split as a shell would: quotes group, typographic quotes too; a lone apostrophe falls back to words', async (t) => {
  const h = await setup(t);
  const seen: Array<readonly string[]> = [];
  h.bot.command('remind', ({ args }) => {
    seen.push(args);
    h.changed();
  });
  await h.bot.start();
  for (const text of ['/remind "stand up" 9:30', '/remind “coffee break” 10:15', "/remind don't forget", '/remind']) h.say(text);
  await h.until(() => seen.length === 4);
  assert.deepEqual(seen, [['stand up', '9:30'], ['coffee break', '10:15'], ["don't", 'forget'], []]);
});

test('/help lists the routes that have help text, with their usage, never a RegExp source; hears refuses the g and y flags', async (t) => {
  const h = await setup(t);
  h.bot.command('remind', () => undefined, { help: 'reminds you', usage: '/remind <what> <when>' });
  h.bot.command('secret', () => undefined);
  h.bot.hears(/^weather in (\w+)$/i, () => undefined, { help: 'the weather somewhere' });
  h.bot.hears('hi', () => undefined, { help: 'says hi', usage: 'hi' });
  assert.throws(() => h.bot.hears(/x/g, () => undefined), /the g flag makes a RegExp remember where it last matched \(lastIndex\), so it would miss every other message; drop it/);
  assert.throws(() => h.bot.hears(/x/y, () => undefined), /the y flag/);
  await h.bot.start();
  h.say('/help');
  await h.until(() => h.posts().length === 1);
  assert.equal(h.posts()[0], 'I understand:\n- **/remind <what> <when>** — reminds you\n- the weather somewhere\n- **hi** — says hi\n- **/help** — this list');
});

test('middleware runs before routing, for messages and card submits, Koa-style; one that does not call next() stops the event', async (t) => {
  const h = await setup(t);
  const order: string[] = [];
  h.bot.use(async (ctx, next) => {
    order.push(`1 before ${ctx.kind}`);
    await next();
    order.push(`1 after ${ctx.kind}`);
    h.changed();
  });
  h.bot.use(async (ctx, next) => {
    if (ctx.kind === 'message' && ctx.text === 'blocked') return;
    await next();
  });
  h.bot.command('go', () => {
    order.push('go');
  });
  h.bot.action('vote', () => {
    order.push('vote');
  });
  await h.bot.start();
  h.say('blocked');
  h.say('/go');
  await h.until(() => order.includes('1 after message') && order.filter((o) => o === '1 after message').length === 2);
  const card = await h.bot.say(h.room.id, { card: { type: 'AdaptiveCard', version: '1.3', body: [] }, fallbackText: 'vote' });
  h.emulator.submitCard({ by: h.alice, messageId: card.id, inputs: { action: 'vote' } });
  await h.until(() => order.includes('1 after cardAction'));
  assert.deepEqual(order, ['1 before message', '1 after message', '1 before message', 'go', '1 after message', '1 before cardAction', 'vote', '1 after cardAction']);
});

test('restrictTo lets people of the given domains and addresses in, and answers the others politely — for messages and card submits', async (t) => {
  const h = await setup(t);
  const mallory = h.emulator.createUser({ displayName: 'Mallory', email: 'mallory@elsewhere.org' });
  const friend = h.emulator.createUser({ displayName: 'Friend', email: 'Friend@Partner.org' });
  const used: string[] = [];
  h.bot.use(restrictTo({ domains: ['example.com'], emails: ['friend@partner.org'] }));
  h.bot.command('go', ({ personEmail }) => {
    used.push(personEmail ?? '');
  });
  h.bot.action('vote', ({ personId }) => {
    used.push(personId);
  });
  await h.bot.start();
  h.say('/go');
  h.emulator.postMessage({ from: friend, toPerson: h.person, text: '/go' });
  h.emulator.postMessage({ from: mallory, toPerson: h.person, text: '/go' });
  await h.until(() => used.length === 2 && h.posts().length === 1);
  assert.deepEqual(used.sort(), ['Friend@Partner.org', 'alice@example.com'].sort());
  assert.deepEqual(h.posts(), ['Sorry, I can only help people with an @example.com address.']);
  // A card submit carries no email: it is looked up.
  const card = await h.bot.say({ toPersonId: mallory.id }, { card: { type: 'AdaptiveCard', version: '1.3', body: [] }, fallbackText: 'vote' });
  h.emulator.submitCard({ by: mallory, messageId: card.id, inputs: { action: 'vote' } });
  await h.until(() => h.posts().length === 3);
  assert.equal(h.posts()[2], 'Sorry, I can only help people with an @example.com address.');
  assert.equal(used.length, 2);
  assert.throws(() => restrictTo({}), /give at least one of domains or emails/);
});

test("bot.action routes a card submit by its data's action id, with typed inputs; submits no action takes go to 'cardAction', routed ones do not", async (t) => {
  const h = await setup(t);
  const votes: string[] = [];
  const unrouted: unknown[] = [];
  h.bot.action<{ lunch: string }>('vote', async ({ inputs, personEmail, reply }) => {
    votes.push(inputs.lunch, personEmail ?? 'no email');
    await reply(`one more for ${inputs.lunch}`);
  });
  h.bot.on('cardAction', (action) => {
    unrouted.push(action.inputs);
  });
  assert.throws(() => h.bot.action('vote', () => undefined), /this id has a handler already/);
  await h.bot.start();
  const card = await h.bot.say(h.room.id, { card: { type: 'AdaptiveCard', version: '1.3', body: [] }, fallbackText: 'lunch?' });
  h.emulator.submitCard({ by: h.alice, messageId: card.id, inputs: { action: 'vote', lunch: 'pizza' } });
  h.emulator.submitCard({ by: h.alice, messageId: card.id, inputs: { action: 'other', lunch: 'salad' } });
  h.emulator.submitCard({ by: h.alice, messageId: card.id, inputs: { lunch: 'soup' } });
  await h.until(() => unrouted.length === 2 && h.posts().includes('one more for pizza'));
  assert.deepEqual(votes, ['pizza', 'alice@example.com'], "a card submit's context has the person's email too (looked up)");
  assert.deepEqual(unrouted, [{ action: 'other', lunch: 'salad' }, { lunch: 'soup' }]);
});

test('ctx.ask posts a question and resolves with the same person\'s next message in that room, which goes nowhere else; others are routed as usual', async (t) => {
  const h = await setup(t);
  const bob = h.emulator.createUser({ displayName: 'Bob' });
  const group = h.emulator.createRoom({ title: 'Team', members: [h.alice, bob, h.person] });
  const routed: string[] = [];
  const answers: string[] = [];
  h.bot.command('order', async ({ ask, reply }) => {
    const answer: ReceivedMessage = await ask('Pizza or salad?');
    answers.push(answer.text ?? '');
    await reply(`${answer.text ?? ''} it is`);
  });
  h.bot.otherwise(({ text }) => {
    routed.push(text);
  });
  await h.bot.start();
  h.emulator.postMessage({ from: h.alice, room: group, text: 'Test Bot /order', mentions: [h.person] });
  await h.until(() => h.posts().includes('Pizza or salad?'), 'the question');
  h.emulator.postMessage({ from: bob, room: group, text: 'Test Bot bob here', mentions: [h.person] }); // someone else: routed
  h.emulator.postMessage({ from: h.alice, room: group, text: 'Test Bot pizza', mentions: [h.person] }); // the answer
  await h.until(() => h.posts().includes('pizza it is') && routed.length === 1, 'the answer and the other message');
  assert.deepEqual(answers, ['pizza'], "the answer's text comes without the mention, as routes see it");
  assert.deepEqual(routed, ['bob here'], 'the answer was not routed');
});

test('while a handler waits for an answer, the other events of its room go on (they do not wait for the question to time out)', async (t) => {
  const h = await setup(t);
  const bob = h.emulator.createUser({ displayName: 'Bob' });
  const group = h.emulator.createRoom({ title: 'Team', members: [h.alice, bob, h.person] });
  h.bot.command('order', async ({ ask, reply }) => {
    const size = await ask('Which size?', { timeout: 60_000 });
    await reply(`size ${size.text ?? ''}`);
  });
  h.bot.command('ping', ({ reply }) => reply('pong'));
  await h.bot.start();
  h.emulator.postMessage({ from: h.alice, room: group, text: 'Test Bot /order', mentions: [h.person] });
  await h.until(() => h.posts().includes('Which size?'));
  h.emulator.postMessage({ from: bob, room: group, text: 'Test Bot /ping', mentions: [h.person] });
  await h.until(() => h.posts().includes('pong'), "bob's answer while alice is asked (before: only once the question timed out)");
  assert.equal(h.clock.now(), 0, 'no timeout had to fire');
  h.emulator.postMessage({ from: h.alice, room: group, text: 'Test Bot L', mentions: [h.person] });
  await h.until(() => h.posts().includes('size L'));
  await h.bot.stop();
  assert.deepEqual(h.errors, []);
});

test('ctx.ask rejects with TIMEOUT when no answer comes in time (the bot\'s clock), and with STOPPED when the bot stops', async (t) => {
  const h = await setup(t);
  const outcomes: string[] = [];
  h.bot.command('wait', async ({ ask, reply }) => {
    try {
      await ask('Still there?', { timeout: 5_000 });
    } catch (error) {
      outcomes.push((error as SparkBotError).code);
      if ((error as SparkBotError).code === 'TIMEOUT') await reply('Never mind.');
    }
  });
  await h.bot.start();
  h.say('/wait');
  await h.until(() => h.posts().includes('Still there?'));
  await h.clock.waitForTimer(5_000);
  h.clock.advance(5_000);
  await h.until(() => h.posts().includes('Never mind.'));
  h.say('/wait');
  await h.until(() => h.posts().filter((p) => p === 'Still there?').length === 2);
  await h.bot.stop();
  assert.deepEqual(outcomes, ['TIMEOUT', 'STOPPED']);
});

test('ctx.storage keeps JSON values per room and per person; fileStorage keeps them across a restart, in a 0600 file', async (t) => {
  const path = join(await tempDir(t), 'state.json');
  const counts: number[] = [];
  const first = await setup(t, { storage: fileStorage(path) });
  const count = (h: Harness) =>
    h.bot.command('count', async ({ storage, personId, reply }) => {
      const next = ((await storage.person(personId).get<number>('count')) ?? 0) + 1;
      await storage.person(personId).set('count', next);
      await storage.set('last', { by: personId, count: next });
      counts.push(next);
      await reply(String(next));
    });
  count(first);
  await first.bot.start();
  first.say('/count');
  first.say('/count');
  await first.until(() => counts.length === 2);
  assert.deepEqual(await first.bot.storage.room(first.room.id).get('last'), { by: first.alice.id, count: 2 });
  assert.equal(await first.bot.storage.room('another room').get('last'), undefined, 'per room');
  await first.bot.stop();

  // A new bot on the same file: the counts go on.
  const second = await harness(t, { emulator: first.emulator, person: first.person, lastConn: first.lastConn, storage: fileStorage(path) });
  count(second);
  await second.bot.start();
  first.say('/count');
  await second.until(() => counts.length === 3);
  assert.deepEqual(counts, [1, 2, 3]);
  await second.bot.stop();
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.match(await readFile(path, 'utf8'), /\/person\/[^"]+\/count": "3"/);
  await assert.rejects(second.bot.storage.set('bad', () => 1), /a function is not JSON/);
});

test('await bot.stop() inside a handler resolves at once, not after stopTimeout (it does not wait for the handler that awaits it)', async (t) => {
  const h = await setup(t, { stopTimeout: 10_000 });
  let stopped = false;
  h.bot.command('shutdown', async ({ reply }) => {
    await reply('bye');
    await h.bot.stop();
    stopped = true;
    h.changed();
  });
  await h.bot.start();
  h.say('/shutdown');
  await h.until(() => stopped, 'stop() resolved inside the handler without the clock moving');
  assert.equal(h.clock.now(), 0, 'no timer had to fire');
  assert.equal(h.bot.state, 'idle');
  assert.deepEqual(h.errors, []);
});

test('a lone bot (no coordination) posts an ask() question at once: what the handler says right after comes after it', async (t) => {
  const h = await setup(t);
  h.bot.command('quiz', async ({ ask, say }) => {
    const answer = ask('First question?', { timeout: 60_000 }).catch(() => undefined); // ends when the bot stops
    await say('said after asking');
    await answer;
  });
  await h.bot.start();
  h.emulator.postMessage({ from: h.alice, toPerson: h.person, text: '/quiz' });
  await h.until(() => h.posts().includes('said after asking'), 'both posts');
  const posts = h.posts();
  assert.ok(posts.indexOf('First question?') >= 0 && posts.indexOf('First question?') < posts.indexOf('said after asking'), posts.join(' | '));
});
