/**
 * The emulator's helpers for testing a bot, used the way docs/testing.md shows: a user `says`
 * something and gets the bot's reply, `submits` a card, a bot is added to a room; records carry
 * REST ids beside the uuids.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { harness } from '../support/helpers.js';

async function setup(t: Parameters<typeof harness>[0]) {
  const h = await harness(t);
  h.bot.command('hello', async ({ reply, message }) => reply(`hi ${(await h.bot.api.people.get(message.personId)).displayName}`));
  h.bot.command('thread', ({ reply }) => reply('in the thread', { thread: true }));
  h.bot.command('vote', ({ reply }) =>
    reply({
      fallbackText: 'a vote',
      card: { type: 'AdaptiveCard', version: '1.2', body: [{ type: 'Input.Text', id: 'choice' }], actions: [{ type: 'Action.Submit', title: 'Vote', data: { action: 'vote' } }] },
    }),
  );
  h.bot.action<{ choice: string }>('vote', ({ inputs, reply }) => reply(`counted ${inputs.choice}`));
  h.bot.command('form', ({ reply }) =>
    reply({
      fallbackText: 'a form',
      card: {
        type: 'AdaptiveCard',
        version: '1.2',
        body: [
          { type: 'Input.Text', id: 'source', value: 'typed' },
          { type: 'Input.Number', id: 'count' },
          { type: 'Input.Toggle', id: 'urgent', title: 'Urgent', valueOn: 'yes', valueOff: 'no' },
          { type: 'Input.Toggle', id: 'plain', title: 'Plain' },
        ],
        actions: [
          { type: 'Action.Submit', title: 'Send', data: { action: 'form', source: 'button' } },
          { type: 'Action.Submit', title: 'Cancel', data: { action: 'cancel' } },
        ],
      },
    }),
  );
  h.bot.action('form', ({ inputs, reply }) => reply(`form ${JSON.stringify(inputs)}`));
  h.bot.on('joined', (event) => event.say('hello room'));
  const alice = h.emulator.createUser({ displayName: 'Alice' });
  await h.bot.start();
  return { ...h, alice };
}

test("alice.says resolves with the bot's reply, REST ids; in a group '@Name' mentions the bot; a thread reply names what was said", async (t) => {
  const { alice, person, emulator } = await setup(t);
  const direct = await alice.says(person, '/hello');
  assert.equal(direct.text, 'hi Alice');
  assert.equal(direct.personId, person.id);
  assert.equal(direct.roomId, emulator.directRoom(alice, person).id);
  assert.equal(direct.said.text, '/hello');
  assert.equal(direct.said.personId, alice.id);

  const room = emulator.createRoom({ title: 'Team', members: [alice, person] });
  await emulator.nextMessage(room); // the bot's welcome ('joined'): wait for it, or says() would take it for the reply
  const reply = await alice.says(room, '@Test Bot /thread');
  assert.equal(reply.roomId, room.id);
  assert.equal(reply.said.text, 'Test Bot /thread', 'the @ goes, the name stays, as a Webex client writes it');
  assert.deepEqual(reply.said.mentionedPeople, [person.id]);
  assert.equal(reply.parentId, reply.said.id, 'the bot answered in the thread of what alice said');
  const stored = emulator.findMessage(reply.id);
  assert.deepEqual([stored?.roomId, stored?.personId, stored?.parentId], [room.id, person.id, reply.said.id], 'records carry REST ids beside the uuids');
  assert.equal(JSON.stringify(reply).includes('"said"'), false, 'said is not part of the REST message');
});

test('alice.says rejects after its timeout, and says why when a group message mentions no bot', async (t) => {
  const { alice, person, emulator } = await setup(t);
  const room = emulator.createRoom({ title: 'Quiet', members: [alice, person] });
  await emulator.nextMessage(room); // the welcome
  await assert.rejects(alice.says(room, '/hello', { timeout: 200 }), /no message from a bot in "Quiet" within 200 ms after Alice said "\/hello" \(a bot sees only the group messages that mention it: write "@<its display name>"\)/);
});

test("alice.submits a card the bot sent and resolves with the bot's answer; the action is REST-shaped", async (t) => {
  const { alice, person } = await setup(t);
  const card = await alice.says(person, '/vote');
  assert.equal(card.attachments?.length, 1);
  const answer = await alice.submits(card, { choice: 'pizza' });
  assert.equal(answer.text, 'counted pizza');
  assert.equal(answer.action.messageId, card.id);
  assert.equal(answer.action.personId, alice.id);
  assert.deepEqual(answer.action.inputs, { choice: 'pizza', action: 'vote' }, "the card's inputs and the button's data, as Webex sends them");
  assert.deepEqual((await alice.submits(card)).action.inputs, { choice: '', action: 'vote' }, 'an input left empty');
  await assert.rejects(alice.submits(card, {}, { button: 'Nope' }), /that card has no Submit button titled "Nope" \(it has "Vote"\)/);
  await assert.rejects(alice.submits(card, { choise: 'x' }), /that card has no input "choise" \(its inputs: "choice"\)/, 'a typo fails the test');
});

test('alice.submits builds the inputs as a Webex client does: button data first, then every input as a string (typed, default, toggle off)', async (t) => {
  const { alice, person } = await setup(t);
  const form = await alice.says(person, '/form');
  await assert.rejects(alice.submits(form, {}), /that card has 2 Submit buttons \("Send", "Cancel"\): say which with \{ button: <its title> \}/);
  const sent = await alice.submits(form, { count: 5 }, { button: 'Send' });
  assert.deepEqual(sent.action.inputs, { action: 'form', source: 'typed', count: '5', urgent: 'no', plain: 'false' }, "an input's value wins over the button's data of the same name");
});

test('emulator.addBot adds a started bot (or its person) to a room and resolves once the bot has the add; nextMessage catches its welcome', async (t) => {
  const { alice, bot, emulator, person } = await setup(t);
  const room = emulator.createRoom({ title: 'Launch', members: [alice] });
  const welcome = emulator.nextMessage(room);
  await emulator.addBot(room, bot);
  const add = emulator.events.find((e) => e.personUuid === person.uuid && (e.data.activity as { verb?: string } | undefined)?.verb === 'add');
  const delivery = emulator.deliveries.find((d) => d.activityId === (add?.data.activity as { id: string } | undefined)?.id);
  assert.ok(delivery && emulator.acks.some((a) => a.messageId === delivery.envelopeId), 'the add was delivered and acked when addBot resolved');
  assert.equal((await welcome).text, 'hello room');
  await assert.rejects(emulator.addBot(room, { currentUser: undefined }), /give the bot as its emulated person, or as a SparkBot after start\(\)/);
  const idle = emulator.createBot({ displayName: 'Idle Bot' });
  await assert.rejects(emulator.addBot(room, idle), /addBot: Idle Bot has no socket ready on this emulator \(start the bot first, or use addMember\)/);
  await assert.rejects(emulator.nextMessage('not a room id'), /Room not found/, 'a rejection, not a throw');
});

test("in a group room '@Name' mentions only as a whole word, the longest name first, and the html tags each once", async (t) => {
  const { alice, person, emulator } = await setup(t);
  const test = emulator.createUser({ displayName: 'Test' });
  const al = emulator.createUser({ displayName: 'Al' });
  const room = emulator.createRoom({ title: 'Names', members: [alice, person, test, al] });
  await emulator.nextMessage(room); // the welcome
  const reply = await alice.says(room, '@Test Bot /hello cc @Test, mail bob@Al or @Alpha');
  assert.equal(reply.said.text, 'Test Bot /hello cc Test, mail bob@Al or @Alpha');
  assert.deepEqual(reply.said.mentionedPeople, [person.id, test.id]);
  const tag = (who: { id: string }, name: string) => `<spark-mention data-object-type="person" data-object-id="${who.id}">${name}</spark-mention>`;
  assert.equal(reply.said.html, `<p>${tag(person, 'Test Bot')} /hello cc ${tag(test, 'Test')}, mail bob@Al or @Alpha</p>`);
});

test('nextMessage waiting when the emulator closes rejects at once', async (t) => {
  const { emulator, alice } = await setup(t);
  const room = emulator.createRoom({ title: 'Closing', members: [alice] });
  const waiting = emulator.nextMessage(room, { timeout: 60_000 });
  await emulator.close();
  await assert.rejects(waiting, /the emulator closed before the bot answered/);
});
