/**
 * Rooms the bot is in ('joined', 'left') and posting anywhere (`bot.say`, threads), against the
 * emulator.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SparkBotError, type JoinedEvent, type LeftEvent } from '../../src/index.js';
import { harness } from '../support/helpers.js';

test("'joined' fires once whenever the bot comes into a room — added, or in a room created with it — and 'left' when it is removed", async (t) => {
  const h = await harness(t);
  const alice = h.emulator.createUser({ displayName: 'Alice' });
  const joined: JoinedEvent[] = [];
  const left: LeftEvent[] = [];
  h.bot.on('joined', async (event) => {
    joined.push(event);
    await event.say(`hello ${event.room.title}`);
  });
  h.bot.on('left', (event) => {
    left.push(event);
  });
  await h.bot.start();
  const botPosts = () => [...h.emulator.messages.values()].filter((m) => m.personUuid === h.person.uuid).map((m) => m.text);

  // Created with the bot in it (before: only 'room' fired, so a greeting on 'membership' missed it).
  const created = h.emulator.createRoom({ title: 'Created', members: [alice, h.person] });
  // Added to a room someone made first.
  const other = h.emulator.createRoom({ title: 'Added', members: [alice] });
  h.emulator.addMember(other, h.person, alice);
  await h.until(() => botPosts().length === 2, 'two greetings');
  assert.deepEqual(
    joined.map((e) => [e.room.id, e.how, e.actorId]),
    [
      [created.id, 'created', alice.id],
      [other.id, 'added', alice.id],
    ],
  );
  assert.deepEqual(botPosts().sort(), ['hello Added', 'hello Created']);

  // Removed, then added again: 'left', then 'joined' again.
  h.emulator.removeMember(other, h.person, alice);
  await h.until(() => left.length === 1, "'left'");
  assert.deepEqual(left, [{ roomId: other.id, actorId: alice.id }]);
  h.emulator.addMember(other, h.person, alice);
  await h.until(() => joined.length === 3, 'joined again');
  assert.equal(joined[2]?.how, 'added');

  // Someone else joining is no 'joined' of the bot.
  h.emulator.addMember(created, h.emulator.createUser({ displayName: 'Bob' }), alice);
  h.emulator.postMessage({ from: alice, room: created, text: 'after bob', mentions: [h.person] });
  const texts: string[] = [];
  h.bot.on('message', (m) => {
    texts.push(m.text ?? '');
  });
  await h.until(() => texts.length === 1);
  assert.equal(joined.length, 3);
});

test('bot.say posts to a room id, { roomId }, { toPersonId } or { toPersonEmail }; a card goes as an attachment with its fallback text', async (t) => {
  const h = await harness(t);
  const alice = h.emulator.createUser({ displayName: 'Alice', email: 'alice@example.com' });
  const room = h.emulator.createRoom({ title: 'Team', members: [alice, h.person] });
  await h.bot.start();
  const card = { type: 'AdaptiveCard', version: '1.3', body: [{ type: 'TextBlock', text: 'Hi' }] };
  const sent = [
    await h.bot.say(room.id, 'plain'),
    await h.bot.say({ roomId: room.id }, { markdown: '**bold**' }),
    await h.bot.say({ toPersonId: alice.id }, 'direct by id'),
    await h.bot.say({ toPersonEmail: 'alice@example.com' }, { card, fallbackText: 'a card for you' }),
  ];
  assert.deepEqual(sent.map((m) => m.text ?? m.markdown), ['plain', '**bold**', 'direct by id', 'a card for you']);
  const stored = [...h.emulator.messages.values()].find((m) => m.id === sent[3]?.id);
  assert.deepEqual(stored?.attachments, [{ contentType: 'application/vnd.microsoft.card.adaptive', content: card }]);
  assert.equal(sent[2]?.roomId, sent[3]?.roomId, 'both direct messages in the direct room');
});

test('bad targets and contents are INVALID_CONTENT errors that say what to fix, and nothing is sent', async (t) => {
  const h = await harness(t);
  const alice = h.emulator.createUser({ displayName: 'Alice' });
  const room = h.emulator.directRoom(alice, h.person);
  await h.bot.start();
  const before = h.emulator.requests.filter((r) => r.method === 'POST' && r.path === '/v1/messages').length;
  const cases: Array<[unknown, unknown, RegExp]> = [
    [room.id, { card: { type: 'AdaptiveCard' } }, /a card needs fallbackText — the text Webex shows in notifications/],
    [room.id, '', /the message is empty/],
    [room.id, {}, /the message is empty: give text, markdown, files or a card/],
    [room.id, { txt: 'typo' }, /unknown content field txt \(known: text, markdown, files, card, fallbackText, parentId, attachments\)/],
    [room.id, { text: 42 }, /text must be a string, got number/],
    [room.id, { text: 'x', fallbackText: 'y' }, /fallbackText goes with a card/],
    ['', 'hi', /the target is an empty string/],
    [{ roomId: room.id, toPersonId: alice.id }, 'hi', /exactly one of roomId, toPersonId, toPersonEmail/],
    [{ room: room.id }, 'hi', /exactly one of roomId, toPersonId, toPersonEmail \(unknown: room\)/],
    [null, 'hi', /got null/],
  ];
  for (const [target, content, says] of cases) {
    await assert.rejects(h.bot.say(target as never, content as never), (error: unknown) => {
      assert.ok(error instanceof SparkBotError && error.code === 'INVALID_CONTENT', String(error));
      assert.match(error.message, says);
      return true;
    });
  }
  assert.equal(h.emulator.requests.filter((r) => r.method === 'POST' && r.path === '/v1/messages').length, before, 'nothing was sent');
});

test('threads: reply() stays in a thread, reply(…, { thread: true }) starts one under a top-level message, and a card submit can be answered in a thread under its card', async (t) => {
  const h = await harness(t);
  const alice = h.emulator.createUser({ displayName: 'Alice' });
  const room = h.emulator.directRoom(alice, h.person);
  const parents: Array<string | undefined> = [];
  h.bot.on('message', async (message) => {
    const reply = await message.reply(`re: ${message.text ?? ''}`, { thread: message.text === 'start a thread' });
    parents.push(reply.parentId);
  });
  h.bot.on('cardAction', async (action) => {
    parents.push((await action.reply('thanks', { thread: true })).parentId);
  });
  await h.bot.start();
  const top = h.emulator.postMessage({ from: alice, room, text: 'top level' });
  await h.until(() => parents.length === 1);
  const root = h.emulator.postMessage({ from: alice, room, text: 'start a thread' });
  await h.until(() => parents.length === 2);
  const inThread = h.emulator.postMessage({ from: alice, room, text: 'in the thread', parentId: root.id as string });
  await h.until(() => parents.length === 3);
  assert.deepEqual(parents, [undefined, root.id, root.id]);
  assert.ok(top.id && inThread.id);

  const card = await h.bot.say(room.id, { card: { type: 'AdaptiveCard', version: '1.3', body: [] }, fallbackText: 'a card' });
  h.emulator.submitCard({ by: alice, messageId: card.id, inputs: { x: 1 } });
  await h.until(() => parents.length === 4);
  assert.equal(parents[3], card.id);
});
