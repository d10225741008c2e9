/**
 * Edges of the toolkit found in review: what must not crash, hang or lose a change.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createStorage, fileStorage, memoryStorage, SparkBotError, type ReceivedMessage } from '../../src/index.js';
import { splitArgs } from '../../src/router/args.js';
import { harness, tempDir } from '../support/helpers.js';

test('fileStorage saves again once a failed write is fixed (before: every later write failed with the first error)', async (t) => {
  const dir = await tempDir(t);
  const blocker = join(dir, 'not-a-dir');
  await writeFile(blocker, 'a file where a directory should be');
  const storage = createStorage(fileStorage(join(blocker, 'state.json')));
  await assert.rejects(storage.set('a', 1), /cannot write/);
  await rm(blocker);
  await mkdir(blocker);
  await storage.set('b', 2);
  assert.deepEqual(JSON.parse(await readFile(join(blocker, 'state.json'), 'utf8')), { 'bot/a': '1', 'bot/b': '2' });
});

test('storage.update runs one after the other per key, so two handlers at once lose nothing; keys cannot reach another scope', async () => {
  // An adapter with latency, as a database has: a get-then-set from two callers at once would lose one.
  const values = memoryStorage();
  const slow = {
    get: async (key: string) => {
      await new Promise((resolve) => setImmediate(resolve));
      return values.get(key);
    },
    set: async (key: string, value: string) => {
      await new Promise((resolve) => setImmediate(resolve));
      values.set(key, value);
    },
    delete: (key: string) => values.delete(key),
  };
  const storage = createStorage(slow).room('r');
  await Promise.all(['a', 'b', 'c'].map((who) => storage.update<string[]>('list', (list = []) => [...list, who])));
  assert.deepEqual(await storage.get('list'), ['a', 'b', 'c']);
  await storage.set('person/x/secret', 'mine');
  assert.equal(await storage.person('x').get('secret'), undefined, 'a key with slashes stays in its own scope');
});

test('command arguments: apostrophes inside words and backslashes are kept', () => {
  assert.deepEqual(splitArgs("it's 5 o'clock"), ["it's", '5', "o'clock"]);
  assert.deepEqual(splitArgs('don’t forget Bob’s party'), ['don’t', 'forget', 'Bob’s', 'party']);
  assert.deepEqual(splitArgs('C:\\Users\\bob "two words"'), ['C:\\Users\\bob', 'two words']);
});

test('hears matches whole words followed by punctuation ("Hello!", "hello, bot"), not a longer word', async (t) => {
  const h = await harness(t);
  const alice = h.emulator.createUser({ displayName: 'Alice' });
  const heard: string[] = [];
  h.bot.hears('hello', ({ text }) => {
    heard.push(text);
    h.changed();
  });
  h.bot.otherwise(({ text }) => {
    heard.push(`otherwise: ${text}`);
    h.changed();
  });
  await h.bot.start();
  for (const text of ['Hello!', 'hello, bot', 'helloween']) h.emulator.postMessage({ from: alice, toPerson: h.person, text });
  await h.until(() => heard.length === 3);
  assert.deepEqual(heard, ['Hello!', 'hello, bot', 'otherwise: helloween']);
});

test('a bad reply is a rejected promise, not a throw (a .catch() catches it)', async (t) => {
  const h = await harness(t);
  const alice = h.emulator.createUser({ displayName: 'Alice' });
  const caught: string[] = [];
  h.bot.command('bad', ({ reply, say, message }) => {
    for (const call of [() => reply({}), () => say(''), () => message.reply({ card: {} })]) {
      call().catch((error: SparkBotError) => {
        caught.push(error.code);
        h.changed();
      });
    }
  });
  await h.bot.start();
  h.emulator.postMessage({ from: alice, toPerson: h.person, text: '/bad' });
  await h.until(() => caught.length === 3);
  assert.deepEqual(caught, ['INVALID_CONTENT', 'INVALID_CONTENT', 'INVALID_CONTENT']);
  assert.deepEqual(h.errors, []);
});

test('a question asked in a thread of its own (parentId) gets its answer there', async (t) => {
  const h = await harness(t);
  const alice = h.emulator.createUser({ displayName: 'Alice' });
  const room = h.emulator.directRoom(alice, h.person);
  const answers: string[] = [];
  h.bot.command('quiz', async ({ ask, message }) => {
    const answer: ReceivedMessage = await ask({ text: 'Capital of France?', parentId: message.id });
    answers.push(answer.text ?? '');
    h.changed();
  });
  await h.bot.start();
  const root = h.emulator.postMessage({ from: alice, room, text: '/quiz' });
  await h.until(() => [...h.emulator.messages.values()].some((m) => m.text === 'Capital of France?'));
  h.emulator.postMessage({ from: alice, room, text: 'Paris', parentId: root.id as string });
  await h.until(() => answers.length === 1, 'the answer in the thread (before: it was routed, and the question timed out)');
  assert.deepEqual(answers, ['Paris']);
});

test("a question asked while the bot stops is not posted: ask rejects with STOPPED at once", async (t) => {
  const h = await harness(t);
  const alice = h.emulator.createUser({ displayName: 'Alice' });
  const outcomes: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  h.bot.command('late', async ({ ask }) => {
    await gate; // still running when stop() is called
    await ask('Anyone there?').catch((error: SparkBotError) => outcomes.push(error.code));
  });
  await h.bot.start();
  h.emulator.postMessage({ from: alice, toPerson: h.person, text: '/late' });
  await h.until(() => h.emulator.requests.some((r) => r.path.startsWith('/v1/messages/')));
  const stopping = h.bot.stop();
  release();
  await stopping;
  assert.deepEqual(outcomes, ['STOPPED']);
  assert.ok(![...h.emulator.messages.values()].some((m) => m.text === 'Anyone there?'), 'nothing was asked');
  assert.equal(h.clock.pending, 0, 'no question timer left');
});

test("stop() from an 'error' listener is no handler's own: it waits for the handlers and delivers what was queued", async (t) => {
  const h = await harness(t);
  const alice = h.emulator.createUser({ displayName: 'Alice' });
  const done: string[] = [];
  h.bot.command('fail', () => {
    throw new Error('boom');
  });
  h.bot.command('hello', async ({ reply }) => {
    await reply('hi');
    done.push('hello');
  });
  let stopped: Promise<void> | undefined;
  h.bot.on('error', () => {
    stopped ??= h.bot.stop();
    h.changed();
  });
  await h.bot.start();
  h.emulator.postMessage({ from: alice, toPerson: h.person, text: '/fail' });
  h.emulator.postMessage({ from: alice, toPerson: h.person, text: '/hello' });
  await h.until(() => stopped !== undefined);
  await stopped;
  assert.deepEqual(done, ['hello'], 'the message queued behind was delivered before stop() resolved');
  assert.ok(!h.errors.some((e) => e.code === 'CANCELLED'));
});
