/**
 * Tests of the command bot (examples/commands.ts) on the Webex emulator: a template to copy for
 * your own bot — change the import and the expected answers. docs/testing.md explains each step.
 *
 *   node --import tsx --test examples/commands.test.ts
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import type { SparkBotError } from 'sparkbot';
import { WebexEmulator } from 'sparkbot/emulator';
import { commandBot } from './commands.js';

/** A fresh emulator, a bot account, a user and the bot, started; all stopped when the test ends. */
async function start(t: TestContext) {
  const emulator = await WebexEmulator.start();
  const me = emulator.createBot({ displayName: 'Dice Bot' });
  const alice = emulator.createUser({ displayName: 'Alice' });
  // The dice always land on the middle (random() = 0.5), so the answers are known.
  const bot = commandBot({ token: me.token, ...emulator.botOptions(), lastConn: false }, () => 0.5);
  t.after(async () => {
    await bot.stop(); // the bot first, then its Webex
    await emulator.close();
  });
  await bot.start();
  return { emulator, me, alice, bot };
}

test('rolls a die in a direct message', async (t) => {
  const { alice, me } = await start(t);
  const reply = await alice.says(me, '/roll 20'); // the bot's next message in that room
  assert.equal(reply.text, '🎲 11 (d20)');
  assert.equal(reply.personId, me.id);
  assert.equal(reply.roomId, reply.said.roomId, 'in the room where alice asked');
});

test('answers a bad command politely', async (t) => {
  const { alice, me } = await start(t);
  assert.equal((await alice.says(me, '/roll abc')).text, 'Give me a whole number of sides, at least 2: `/roll 20`');
});

test('answers in a group room when mentioned', async (t) => {
  const { emulator, alice, me } = await start(t);
  const room = emulator.createRoom({ title: 'Games', members: [alice, me] });
  // "@Dice Bot" becomes a mention, as when alice picks the bot's name in Webex.
  const reply = await alice.says(room, '@Dice Bot /roll 6');
  assert.equal(reply.text, '🎲 4 (d6)');
  assert.equal(reply.roomId, room.id);
  assert.deepEqual(reply.said.mentionedPeople, [me.id]);
});

test('/help lists the commands with their usage', async (t) => {
  const { alice, me } = await start(t);
  const help = await alice.says(me, '/help');
  assert.match(help.markdown ?? '', /\/roll \[sides\]/);
  assert.match(help.markdown ?? '', /\/echo <text>/);
});

test('answers anything else once', async (t) => {
  const { emulator, alice, me } = await start(t);
  assert.equal((await alice.says(me, 'hello')).text, "Sorry, I don't know that one. Try `/help`.");
  assert.equal((await alice.says(me, '/echo ping')).text, 'ping'); // a second answer to "hello" would have come first
  // The records: every message of the emulator, the bot's included, with REST ids.
  const fromBot = [...emulator.messages.values()].filter((m) => m.personId === me.id);
  assert.deepEqual(
    fromBot.map((m) => m.text),
    ["Sorry, I don't know that one. Try `/help`.", 'ping'],
  );
});

test('keeps going when Webex fails a reply', async (t) => {
  const { emulator, alice, me, bot } = await start(t);
  emulator.failNext('POST /v1/messages', { status: 500 }); // the bot's next post fails
  const failed = once(bot, 'error') as Promise<[SparkBotError]>;
  emulator.postMessage({ from: alice, toPerson: me, text: '/roll' });
  const [error] = await failed;
  assert.equal(error.code, 'HANDLER_ERROR');
  assert.equal((await alice.says(me, '/roll')).text, '🎲 4 (d6)', 'the next message is answered');
});
