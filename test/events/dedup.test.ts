import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_DEDUP_WINDOW, dedupKey, RecentIds } from '../../src/events/dedup.js';
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

test('an activity redelivered after 1500 newer ones is still dropped (the window holds 10 000 ids and an hour)', async (t) => {
  const { bot, emulator, person, until } = await harness(t);
  const ids: string[] = [];
  bot.on('activity', (activity) => {
    ids.push(activity.id);
  });
  await bot.start();
  const activity = (n: number) => ({ eventType: 'conversation.activity', activity: { id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, verb: 'tag', actor: { id: person.uuid } } });
  for (let n = 0; n <= 1500; n++) emulator.sendEvent(person.uuid, activity(n));
  await until(() => ids.length === 1501, 'the 1501 activities', 30_000);
  emulator.sendEvent(person.uuid, activity(0)); // before: forgotten after 1000 newer ones, and handled again
  emulator.sendEvent(person.uuid, activity(1501));
  await until(() => ids.length === 1502, 'the next activity');
  assert.equal(ids.at(-1), activity(1501).activity.id);
  assert.equal(new Set(ids).size, ids.length, 'no activity twice');
});

test('the dedup window: the newest 10 000 ids whatever their age, every id of the last hour, never more than 50 000; ids over 128 characters kept as digests', () => {
  let now = 0;
  const window = new RecentIds(DEFAULT_DEDUP_WINDOW, () => undefined, () => now);
  for (let n = 0; n < 12_000; n++) assert.ok(window.add(`id-${n}`));
  assert.equal(window.size, 12_000, 'all within the hour: all kept');
  now = 3_600_001;
  assert.ok(window.add('later'));
  assert.equal(window.size, 10_000, 'older than an hour: only the newest 10 000 stay');
  assert.ok(!window.has('id-2000') && window.has('id-2001') && window.has('later'));
  assert.equal(window.add('id-5000'), false, 'a repeat of a kept id is refused');

  now = 10_000_000;
  for (let n = 0; n < 60_000; n++) window.add(`burst-${n}`);
  assert.equal(window.size, 50_000, 'a burst within an hour is capped');
  assert.ok(window.has('burst-59999') && window.has('burst-10000') && !window.has('burst-9999'));

  const long = 'x'.repeat(129);
  assert.equal(dedupKey('y'.repeat(128)), 'y'.repeat(128));
  assert.match(dedupKey(long), /^sha256:[\w-]{43}$/);
  assert.ok(window.add(long) && !window.add(long) && window.has(long));
  assert.ok(window.entries().every(([key]) => key.length <= 128));
});

test('the window survives a restart with the times it was handled at; files of sparkbot 0.1 (ids alone) still load', async (t) => {
  const lastConn = join(await tempDir(t), 'last-connection.json');
  const first = await harness(t, { lastConn });
  const ids: string[] = [];
  first.bot.on('activity', (activity) => {
    ids.push(activity.id);
  });
  await first.bot.start();
  first.emulator.sendEvent(first.person.uuid, { eventType: 'conversation.activity', activity: { id: 'handled-before', verb: 'tag', actor: { id: first.person.uuid } } });
  await first.until(() => ids.length === 1);
  const before = Date.now();
  await first.bot.stop();
  const saved = JSON.parse(await readFile(lastConn, 'utf8')) as { seen: string[]; seenAt: number[] };
  assert.deepEqual(saved.seen, ['handled-before']);
  assert.ok(saved.seenAt.length === 1 && (saved.seenAt[0] ?? 0) <= before && (saved.seenAt[0] ?? 0) > before - 60_000);

  await writeFile(lastConn, JSON.stringify({ version: 1, device: null, seen: ['old-format'] }));
  const second = await harness(t, { lastConn, emulator: first.emulator, person: first.person });
  const again: string[] = [];
  second.bot.on('activity', (activity) => {
    again.push(activity.id);
  });
  await second.bot.start();
  for (const id of ['old-format', 'new']) second.emulator.sendEvent(first.person.uuid, { eventType: 'conversation.activity', activity: { id, verb: 'tag', actor: { id: first.person.uuid } } });
  await second.until(() => again.length === 1);
  assert.deepEqual(again, ['new']);
  assert.equal(second.warnings.length, 0);
});
