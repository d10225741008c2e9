import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { harness, tempDir, waitForState } from '../support/helpers.js';

test('an activity redelivered after a reconnect (its ack was lost) is handled once', async (t) => {
  const { bot, emulator, clock, person, until } = await harness(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  const texts: string[] = [];
  bot.on('message', (message) => {
    texts.push(message.text ?? '');
  });
  await bot.start();
  emulator.setAckMode('ignore'); // acks get lost: the server will deliver the envelope again
  emulator.postMessage({ from: alice, toPerson: person, text: 'once' });
  await until(() => texts.length === 1);
  emulator.dropConnections({ code: 1011 });
  await waitForState(bot, 'backoff');
  clock.runNext();
  await waitForState(bot, 'open');
  await emulator.waitFor(() => emulator.deliveries.some((d) => d.redelivery), { what: 'the redelivery' });
  emulator.setAckMode('normal');
  emulator.postMessage({ from: alice, toPerson: person, text: 'after' });
  await until(() => texts.includes('after'));
  assert.deepEqual(texts, ['once', 'after']);
});

test('an activity repeated after a restart on the same last-connection file is handled once', async (t) => {
  const lastConn = join(await tempDir(t), 'last-connection.json');
  const first = await harness(t, { lastConn });
  const alice = first.emulator.createUser({ displayName: 'Alice' });
  const seenByFirst: string[] = [];
  first.bot.on('message', (message) => {
    seenByFirst.push(message.text ?? '');
  });
  await first.bot.start();
  first.emulator.setAckMode('ignore');
  first.emulator.postMessage({ from: alice, toPerson: first.person, text: 'before the restart' });
  await first.until(() => seenByFirst.length === 1);
  await first.bot.stop();
  const saved = JSON.parse(await readFile(lastConn, 'utf8')) as { seen: string[] };
  assert.equal(saved.seen.length, 1, 'the handled activity id is persisted');

  const second = await harness(t, { lastConn, emulator: first.emulator, person: first.person });
  const seenBySecond: string[] = [];
  second.bot.on('message', (message) => {
    seenBySecond.push(message.text ?? '');
  });
  await second.bot.start(); // same device: the unacked envelope is delivered again
  await first.emulator.waitFor(() => first.emulator.deliveries.some((d) => d.redelivery), { what: 'the redelivery' });
  first.emulator.setAckMode('normal');
  first.emulator.postMessage({ from: alice, toPerson: first.person, text: 'after the restart' });
  await second.until(() => seenBySecond.length >= 1);
  assert.deepEqual(seenBySecond, ['after the restart']);
});

test('the same activity sent twice in two envelopes is handled once', async (t) => {
  const { bot, emulator, person, until } = await harness(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  const texts: string[] = [];
  bot.on('message', (message) => {
    texts.push(message.text ?? '');
  });
  await bot.start();
  emulator.postMessage({ from: alice, toPerson: person, text: 'twice' });
  await until(() => texts.length === 1);
  const original = emulator.events.find((e) => e.personUuid === person.uuid && (e.data.activity as { verb?: string } | undefined)?.verb === 'post');
  assert.ok(original);
  emulator.sendEvent(person.uuid, original.data);
  emulator.postMessage({ from: alice, toPerson: person, text: 'next' });
  await until(() => texts.includes('next'));
  assert.deepEqual(texts, ['twice', 'next']);
});
