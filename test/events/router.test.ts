import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CommandContext } from '../../src/index.js';
import { stripMention } from '../../src/router/mention.js';
import { harness, startEmulator } from '../support/helpers.js';

async function commandBot(t: Parameters<typeof harness>[0]) {
  const h = await harness(t);
  const alice = h.emulator.createUser({ displayName: 'Alice' });
  const group = h.emulator.createRoom({ title: 'group', members: [alice, h.person] });
  const direct = h.emulator.directRoom(alice, h.person);
  const heard: Array<{ route: string; text: string; args: readonly string[] }> = [];
  const record = (route: string) => (context: CommandContext) => {
    heard.push({ route, text: context.text, args: context.args });
    h.changed();
  };
  h.bot.command('echo', async (context) => {
    record('echo')(context);
    await context.reply(context.rest);
  }, { help: 'says it back', usage: '/echo <text>' });
  h.bot.hears(/^weather in (\w+)/i, record('weather'), { help: 'the weather somewhere' });
  h.bot.hears('hello', record('hello'));
  await h.bot.start();
  const botReplies = () => [...h.emulator.messages.values()].filter((m) => m.personUuid === h.person.uuid);
  return { ...h, alice, group, direct, heard, botReplies };
}

test('command and hears route messages, the first match wins, and the mention is stripped in group rooms', async (t) => {
  const { emulator, alice, group, direct, heard, until, person, botReplies } = await commandBot(t);
  emulator.postMessage({ from: alice, room: group, text: 'Test Bot /echo hi there', mentions: [person] });
  emulator.postMessage({ from: alice, room: direct, text: 'weather in Paris today' });
  emulator.postMessage({ from: alice, room: direct, text: 'Hello bot' });
  emulator.postMessage({ from: alice, room: direct, text: 'helloween is not hello' });
  emulator.postMessage({ from: alice, room: direct, text: 'ECHO loud' });
  await until(() => heard.length === 4 && botReplies().length === 2, 'four routed messages and two echoes');
  assert.deepEqual(heard, [
    { route: 'echo', text: '/echo hi there', args: ['hi', 'there'] },
    { route: 'weather', text: 'weather in Paris today', args: ['today'] },
    { route: 'hello', text: 'Hello bot', args: ['bot'] },
    { route: 'echo', text: 'ECHO loud', args: ['loud'] },
  ]);
  assert.deepEqual(botReplies().map((m) => m.text).sort(), ['hi there', 'loud']);
});

test('help lists the routes that have a help text', async (t) => {
  const { emulator, alice, direct, until, botReplies } = await commandBot(t);
  emulator.postMessage({ from: alice, room: direct, text: '/help' });
  await until(() => botReplies().length === 1, 'the help reply');
  const help = botReplies()[0]?.markdown ?? '';
  assert.match(help, /\*\*\/echo <text>\*\* — says it back/);
  assert.match(help, /^- the weather somewhere$/m, 'a RegExp route shows its help, never its source');
  assert.doesNotMatch(help, /weather in|\\w/, 'no regex source');
  assert.match(help, /\/help/);
  assert.doesNotMatch(help, /hello/, 'routes without help are not listed');
});

test('message.reply stays in the thread when the original was in one', async (t) => {
  const { bot, emulator, alice, group, until, person } = await commandBot(t);
  const replies: string[] = [];
  bot.on('message', async (message) => {
    if (message.text?.startsWith('thread')) replies.push((await message.reply({ markdown: `re: ${message.text}` })).parentId ?? 'top level');
  });
  const root = emulator.postMessage({ from: alice, room: group, text: 'thread root', mentions: [person] });
  await until(() => replies.length === 1);
  emulator.postMessage({ from: alice, room: group, text: 'thread reply', parentId: root.id as string, mentions: [person] });
  await until(() => replies.length === 2);
  assert.deepEqual(replies, ['top level', root.id]);
});

test('stripMention removes the display name or first name at the start, only in group rooms', () => {
  const me = { id: 'x', emails: [], displayName: 'Test Bot', firstName: 'Test' };
  assert.equal(stripMention({ text: 'Test Bot  /echo a', roomType: 'group' }, me), '/echo a');
  assert.equal(stripMention({ text: 'test: hi', roomType: 'group' }, me), 'hi');
  assert.equal(stripMention({ text: 'Test Bot hi', roomType: 'direct' }, me), 'Test Bot hi');
  assert.equal(stripMention({ text: 'Testing', roomType: 'group' }, me), 'Testing');
});

test('bad routes are refused with a clear error', async (t) => {
  const { bot } = await harness(t);
  assert.throws(() => bot.command('two words', () => undefined), /one word/);
  assert.throws(() => bot.hears('', () => undefined), /must not be empty/);
  assert.throws(() => bot.hears('x', 'not a function' as never), /must be a function/);
});

for (const displayName of ['Bot (beta)', 'Helper.', 'Bot 🤖', 'R&D <Bot>']) {
  test(`commands are routed in group rooms for a bot named ${JSON.stringify(displayName)} (a name that ends in a non-word character)`, async (t) => {
    const emulator = await startEmulator(t);
    const me = emulator.createBot({ displayName });
    const { bot, until, changed } = await harness(t, { emulator, person: me });
    const alice = emulator.createUser({ displayName: 'Alice' });
    const group = emulator.createRoom({ title: 'group', members: [alice, me] });
    const heard: string[] = [];
    bot.command('roll', (context) => {
      heard.push(context.text);
      changed();
    });
    await bot.start();
    // As Webex clients send it: the name at the start of the text, and in the html's <spark-mention>.
    emulator.postMessage({ from: alice, room: group, text: `${displayName} /roll 3`, mentions: [me] });
    await until(() => heard.length === 1, 'the command');
    assert.deepEqual(heard, ['/roll 3']);
  });
}

test('stripMention takes the name from the <spark-mention> of the bot, whatever it ends with, and leaves other mentions', () => {
  const me = { id: 'Y2lzY29zcGFyazovL3VzL1BFT1BMRS8xMjM', emails: [], displayName: 'Bot (beta)' };
  const mention = (id: string, name: string) => `<spark-mention data-object-type="person" data-object-id="${id}">${name}</spark-mention>`;
  assert.equal(stripMention({ text: 'Bot (beta) /help', roomType: 'group', html: `<p>${mention(me.id, 'Bot (beta)')} /help</p>` }, me), '/help');
  // The author's client may show a shorter name: the markup says which.
  assert.equal(stripMention({ text: 'Beta: /help', roomType: 'group', html: `<p>${mention('123', 'Beta')}: /help</p>` }, me), '/help', 'the same uuid, bare');
  assert.equal(stripMention({ text: 'Alice /help', roomType: 'group', html: `<p>${mention('Y2lzY29zcGFyazovL3VzL1BFT1BMRS85OTk', 'Alice')} /help</p>` }, me), 'Alice /help', "someone else's mention stays");
  assert.equal(stripMention({ text: 'R&D <Bot> go', roomType: 'group', html: `<p>${mention(me.id, 'R&amp;D &lt;Bot&gt;')} go</p>` }, me), 'go', 'entities decoded');
  assert.equal(stripMention({ text: 'Bot (beta)go', roomType: 'group' }, me), 'go', 'a name ending in punctuation needs no space after it');
  assert.equal(stripMention({ text: 'x &#99999999; y', roomType: 'group', html: `<p>${mention(me.id, '&#99999999;')}</p>` }, me), 'x &#99999999; y', 'a bad entity is no crash');
});
