/**
 * The examples in examples/ run against the emulator, through the built package ('sparkbot'): as
 * functions (each behaviour checked), and as the README runs them (`npx tsx examples/<file>`,
 * offline without WEBEX_TOKEN), in a child process.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import type { SparkBot, SparkBotOptions } from 'sparkbot';
import { cardBot } from '../examples/cards.js';
import { commandBot } from '../examples/commands.js';
import { echoBot } from '../examples/echo.js';
import { standupBot } from '../examples/standup.js';
import type { WebexEmulator } from '../src/emulator/index.js';
import { defer, runUntil, startEmulator, tempDir } from './support/helpers.js';
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

test('examples/echo.ts echoes, once', async (t) => {
  const { emulator, me, alice, fromBot } = await run(t, echoBot);
  emulator.postMessage({ from: alice, toPerson: me, text: 'hi' });
  emulator.postMessage({ from: alice, toPerson: me, text: '/anything' });
  await settle(emulator, () => fromBot().length === 2);
  assert.deepEqual(fromBot().map((m) => m.text), ['echo: hi', 'echo: /anything']);
});

test('examples/commands.ts rolls (and answers /roll abc politely), echoes, tells the time, helps, and answers the rest once, mention stripped in a group', async (t) => {
  const { emulator, me, alice, fromBot } = await run(t, (options) => commandBot(options, () => 0.5));
  const group = emulator.createRoom({ title: 'games', members: [alice, me] });
  const lines: Array<{ text: string; group?: boolean }> = [{ text: 'Example Bot /roll 20', group: true }, { text: 'Example Bot /roll abc', group: true }, { text: 'what time is it?' }, { text: 'help' }, { text: 'hello' }];
  for (const [n, line] of lines.entries()) {
    emulator.postMessage({ from: alice, ...(line.group ? { room: group, mentions: [me] } : { toPerson: me }), text: line.text });
    await settle(emulator, () => fromBot().length === n + 1);
  }
  const [roll, bad, time, help, other] = fromBot();
  assert.equal(roll?.text, '🎲 11 (d20)');
  assert.equal(bad?.text, 'Give me a whole number of sides, at least 2: `/roll 20`');
  assert.match(time?.text ?? '', /^It is \d{4}-\d\d-\d\dT/);
  assert.match(help?.markdown ?? '', /\/roll \[sides\]\*\* — rolls a die/);
  assert.doesNotMatch(help?.markdown ?? '', /\\|what time is it\//, 'no regex source in the help');
  assert.equal(other?.text, "Sorry, I don't know that one. Try `/help`.");
});

test('examples/cards.ts sends a card and answers its submit through bot.action', async (t) => {
  const { emulator, me, alice, fromBot } = await run(t, cardBot);
  emulator.postMessage({ from: alice, toPerson: me, text: '/poll' });
  await settle(emulator, () => fromBot().length === 1);
  const card = fromBot()[0];
  assert.equal((card?.attachments?.[0] as { contentType?: string } | undefined)?.contentType, 'application/vnd.microsoft.card.adaptive');
  assert.equal(card?.text, 'Lunch? (your Webex client shows a card)');
  emulator.submitCard({ by: alice, messageId: card?.id ?? '', inputs: { action: 'vote', lunch: 'salad' } });
  await settle(emulator, () => fromBot().length === 2);
  assert.equal(fromBot()[1]?.text, 'Thanks Alice Example, one more vote for salad.');
});

test('examples/standup.ts: access rule, ask, thread, routed card action and a file upload together', async (t) => {
  const { emulator, me, fromBot } = await run(t, standupBot);
  const ann = emulator.createUser({ displayName: 'Ann', email: 'ann@example.com' });
  const eve = emulator.createUser({ displayName: 'Eve', email: 'eve@elsewhere.org' });
  emulator.postMessage({ from: eve, toPerson: me, text: '/standup' });
  await settle(emulator, () => fromBot().length === 1);
  assert.equal(fromBot()[0]?.text, 'Sorry, I can only help people with an @example.com address.');

  const command = emulator.postMessage({ from: ann, toPerson: me, text: '/standup' });
  await settle(emulator, () => fromBot().length === 2);
  assert.equal(fromBot()[1]?.text, 'What did you do yesterday?');
  emulator.postMessage({ from: ann, toPerson: me, text: 'fixed the build' });
  await settle(emulator, () => fromBot().length === 3);
  emulator.postMessage({ from: ann, toPerson: me, text: 'release 1.2' });
  await settle(emulator, () => fromBot().length === 5);
  const [, , , thanks, card] = fromBot();
  assert.equal(thanks?.markdown, 'Thanks! **Yesterday:** fixed the build — **today:** release 1.2');
  assert.equal(thanks?.parentUuid, [...emulator.messages.values()].find((m) => m.id === command.id)?.uuid, 'in a thread under /standup');
  assert.ok(card?.attachments?.length);
  emulator.submitCard({ by: ann, messageId: card?.id ?? '', inputs: { action: 'mood', mood: 'great' } });
  await settle(emulator, () => fromBot().length === 6);
  assert.equal(fromBot()[5]?.text, 'Noted: you feel great.');
  emulator.postMessage({ from: ann, toPerson: me, text: '/report' });
  await settle(emulator, () => fromBot().length === 7);
  const report = fromBot()[6];
  assert.equal(report?.text, '1 standup(s) so far');
  assert.equal(report?.shared?.[0]?.name, 'standup.csv');
  assert.equal(report?.shared?.[0]?.contentType, 'text/csv');
  assert.equal(report?.shared?.[0]?.data.toString(), 'who,yesterday,today\n"ann@example.com","fixed the build","release 1.2"\n');
});

const examplesDir = fileURLToPath(new URL('../examples/', import.meta.url));

test('every example runs as the README says, offline, with no build step to remember, and stops on Ctrl-C', async () => {
  const files = (await readdir(examplesDir)).filter((f) => f.endsWith('.ts') && !['run.ts', 'health.ts'].includes(f)).sort();
  assert.deepEqual(files, ['cards.ts', 'commands.ts', 'echo.ts', 'standup.ts']);
  for (const file of files) {
    // As the README says (`npx tsx examples/<file>`, no WEBEX_TOKEN: offline), until its demo is done; then Ctrl-C.
    const { code, output } = await runUntil(`examples/${file}`, 'offline demo done', { cwd: fileURLToPath(new URL('..', import.meta.url)) });
    assert.equal(code, 0, `${file}:\n${output}`);
    assert.match(output, /offline demo done/, file);
    assert.match(output, /bot: {3}\S/, `${file} answered`);
    assert.match(output, /SIGINT: stopping/, file);
  }
});
