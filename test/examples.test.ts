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

test('examples/echo.ts echoes, once', async (t) => {
  const { me, alice, fromBot } = await run(t, echoBot);
  assert.equal((await alice.says(me, 'hi')).text, 'echo: hi');
  assert.equal((await alice.says(me, '/anything')).text, 'echo: /anything');
  assert.deepEqual(fromBot().map((m) => m.text), ['echo: hi', 'echo: /anything']);
});

test('examples/commands.ts rolls (and answers /roll abc politely), echoes, tells the time, helps, and answers the rest once, mention stripped in a group', async (t) => {
  const { emulator, me, alice, fromBot } = await run(t, (options) => commandBot(options, () => 0.5));
  const group = emulator.createRoom({ title: 'games', members: [alice, me] });
  // Each says() resolves with the bot's next message in that room: a second answer to a line would be taken for the next line's.
  const roll = await alice.says(group, '@Example Bot /roll 20');
  assert.deepEqual(roll.said.mentionedPeople, [me.id]);
  assert.equal(roll.text, '🎲 11 (d20)');
  assert.equal((await alice.says(group, '@Example Bot /roll abc')).text, 'Give me a whole number of sides, at least 2: `/roll 20`');
  assert.match((await alice.says(me, 'what time is it?')).text ?? '', /^It is \d{4}-\d\d-\d\dT/);
  assert.equal((await alice.says(me, '/echo two  words')).text, 'two  words');
  const help = await alice.says(me, 'help');
  assert.match(help.markdown ?? '', /\/roll \[sides\]\*\* — rolls a die/);
  assert.doesNotMatch(help.markdown ?? '', /\\|what time is it\//, 'no regex source in the help');
  assert.equal((await alice.says(me, 'hello')).text, "Sorry, I don't know that one. Try `/help`.");
  assert.equal(fromBot().length, 6, 'one answer a line');
});

test('examples/cards.ts sends a card and answers its submit through bot.action', async (t) => {
  const { me, alice } = await run(t, cardBot);
  const card = await alice.says(me, '/poll');
  assert.equal((card.attachments?.[0] as { contentType?: string } | undefined)?.contentType, 'application/vnd.microsoft.card.adaptive');
  assert.equal(card.text, 'Lunch? (your Webex client shows a card)');
  const answer = await alice.submits(card, { lunch: 'salad' });
  assert.deepEqual(answer.action.inputs, { lunch: 'salad', action: 'vote' });
  assert.equal(answer.text, 'Thanks Alice Example, one more vote for salad.');
});

test('examples/standup.ts: access rule, ask, thread, routed card action and a file upload together', async (t) => {
  const { emulator, me, fromBot } = await run(t, standupBot);
  const ann = emulator.createUser({ displayName: 'Ann', email: 'ann@example.com' });
  const eve = emulator.createUser({ displayName: 'Eve', email: 'eve@elsewhere.org' });
  assert.equal((await eve.says(me, '/standup')).text, 'Sorry, I can only help people with an @example.com address.');

  const question = await ann.says(me, '/standup');
  assert.equal(question.text, 'What did you do yesterday?');
  assert.equal((await ann.says(me, 'fixed the build')).text, 'And what will you do today?');
  const thanks = await ann.says(me, 'release 1.2');
  const card = await emulator.nextMessage(thanks.roomId, { from: me }); // the bot's next message, after the thanks
  assert.equal(thanks.markdown, 'Thanks! **Yesterday:** fixed the build — **today:** release 1.2');
  assert.equal(thanks.parentId, question.said.id, 'in a thread under /standup');
  assert.ok(card.attachments?.length);
  const mood = await ann.submits(card, { mood: 'great' });
  assert.deepEqual(mood.action.inputs, { mood: 'great', action: 'mood' });
  assert.equal(mood.text, 'Noted: you feel great.');
  const report = await ann.says(me, '/report');
  assert.equal(report.text, '1 standup(s) so far');
  assert.equal(report.files?.length, 1);
  const shared = [...emulator.messages.values()].find((m) => m.id === report.id)?.shared?.[0];
  assert.equal(shared?.name, 'standup.csv');
  assert.equal(shared?.contentType, 'text/csv');
  assert.equal(shared?.data.toString(), 'who,yesterday,today\n"ann@example.com","fixed the build","release 1.2"\n');
  assert.deepEqual(
    emulator.uploads.map((u) => [u.messageId, u.filename]),
    [[report.id, 'standup.csv']],
  );
  assert.equal(fromBot().length, 7, 'one answer each, and the card');
});

const examplesDir = fileURLToPath(new URL('../examples/', import.meta.url));

test('every example runs as the README says, offline, with no build step to remember, and stops on Ctrl-C', async () => {
  const files = (await readdir(examplesDir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !['run.ts', 'health.ts'].includes(f)).sort();
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
