/**
 * The bot's tests, on sparkbot's Webex emulator: a Webex that runs inside the test, on 127.0.0.1,
 * with no token and no network. `npm test` runs them (node --test).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SparkBot } from 'sparkbot';
import { WebexEmulator } from 'sparkbot/emulator';
import setup from './bot.js';

/**
 * A fresh emulator, the bot's account on it (`me`), a user (`alice`), and the bot, set up by
 * bot.js and started; all stopped when the test ends.
 *
 * @param {import('node:test').TestContext} t
 */
async function start(t) {
  const emulator = await WebexEmulator.start();
  const me = emulator.createBot({ displayName: 'My Bot' });
  const alice = emulator.createUser({ displayName: 'Alice' });
  const bot = new SparkBot({ token: me.token, ...emulator.botOptions(), lastConn: false });
  setup(bot);
  t.after(async () => {
    await bot.stop(); // the bot first, then its Webex
    await emulator.close();
  });
  await bot.start(); // resolves once the bot is connected
  return { emulator, me, alice, bot };
}

test('answers /hello', async (t) => {
  const { me, alice } = await start(t);
  const reply = await alice.says(me, '/hello'); // the bot's next message in their direct room
  assert.equal(reply.text, 'Hello! 👋 Send /card for a card.');
});

test('sends a card on /card, and greets whoever fills it in', async (t) => {
  const { me, alice } = await start(t);
  const card = await alice.says(me, '/card');
  assert.match(JSON.stringify(card.attachments), /application\/vnd\.microsoft\.card\.adaptive/); // a card
  const answer = await alice.submits(card, { name: 'Alice' }); // fills in the card and presses Send
  assert.equal(answer.text, 'Nice to meet you, Alice!');
  assert.equal(answer.action.inputs.action, 'greet');
});

test('asks again when the name is left empty', async (t) => {
  const { me, alice } = await start(t);
  const card = await alice.says(me, '/card');
  assert.equal((await alice.submits(card)).text, 'You left the name empty: try /card again.');
});
