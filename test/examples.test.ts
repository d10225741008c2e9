/** The examples in examples/ run against the emulator, through the built package ('sparkbot'). */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { SparkBot, SparkBotOptions } from 'sparkbot';
import { cardBot } from '../examples/cards.js';
import { commandBot } from '../examples/commands.js';
import { echoBot } from '../examples/echo.js';
import type { WebexEmulator } from '../src/emulator/index.js';
import { defer, startEmulator, tempDir } from './support/helpers.js';
import { join } from 'node:path';

async function run(t: TestContext, make: (options: SparkBotOptions<SparkBot>) => SparkBot) {
  const emulator = await startEmulator(t);
  const me = emulator.createBot({ displayName: 'Example Bot' });
  const alice = emulator.createUser({ displayName: 'Alice Example' });
  const bot = make({ token: me.token, ...emulator.botOptions(), lastConn: join(await tempDir(t), 'last.json') });
  defer(t, () => bot.stop());
  await bot.start();
  const fromBot = () => [...emulator.messages.values()].filter((m) => m.personUuid === me.uuid);
  return { emulator, me, alice, bot, fromBot };
}

const settle = (emulator: WebexEmulator, predicate: () => boolean) => emulator.waitFor(predicate, { what: 'the bot to answer' });

test('examples/echo.ts echoes', async (t) => {
  const { emulator, me, alice, fromBot } = await run(t, echoBot);
  emulator.postMessage({ from: alice, toPerson: me, text: 'hi' });
  await settle(emulator, () => fromBot().length === 1);
  assert.equal(fromBot()[0]?.text, 'echo: hi');
});

test('examples/commands.ts rolls, echoes, tells the time and helps, mention stripped in a group', async (t) => {
  const { emulator, me, alice, fromBot } = await run(t, (options) => commandBot(options, () => 0.5));
  const group = emulator.createRoom({ title: 'games', members: [alice, me] });
  emulator.postMessage({ from: alice, room: group, text: 'Example Bot /roll 20', mentions: [me] });
  await settle(emulator, () => fromBot().length === 1);
  emulator.postMessage({ from: alice, room: group, text: 'Example Bot /roll zero', mentions: [me] });
  await settle(emulator, () => fromBot().length === 2);
  emulator.postMessage({ from: alice, toPerson: me, text: 'what time is it?' });
  await settle(emulator, () => fromBot().length === 3);
  emulator.postMessage({ from: alice, toPerson: me, text: 'help' });
  await settle(emulator, () => fromBot().length === 4);
  const [roll, bad, time, help] = fromBot();
  assert.equal(roll?.text, '🎲 11 (d20)');
  assert.match(bad?.text ?? '', /whole number of sides/);
  assert.match(time?.text ?? '', /^It is \d{4}-\d\d-\d\dT/);
  assert.match(help?.markdown ?? '', /\/roll \[sides\]\*\* — rolls a die/);
});

test('examples/cards.ts sends a card and answers its submit', async (t) => {
  const { emulator, me, alice, fromBot } = await run(t, cardBot);
  emulator.postMessage({ from: alice, toPerson: me, text: '/poll' });
  await settle(emulator, () => fromBot().length === 1);
  const card = fromBot()[0];
  assert.equal((card?.attachments?.[0] as { contentType?: string } | undefined)?.contentType, 'application/vnd.microsoft.card.adaptive');
  emulator.submitCard({ by: alice, messageId: card?.id ?? '', inputs: { lunch: 'salad' } });
  await settle(emulator, () => fromBot().length === 2);
  assert.equal(fromBot()[1]?.text, 'Thanks Alice Example, one more vote for salad.');
});
