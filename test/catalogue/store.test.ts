/**
 * Bad input: a last-connection path that cannot be written. (Corrupt, empty and wrongly shaped
 * files: test/connection/store.test.ts.) The parent of the file is a regular file, which stops
 * writes for root too (a chmod 0500 directory would not).
 */
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Message } from '../../src/index.js';
import { harness, tempDir, waitForState } from '../support/helpers.js';

test('an unwritable last-connection path warns once (STORE_ERROR, with the fix) and the bot runs on with its device in memory', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'not-a-directory'), 'a regular file');
  const lastConn = join(dir, 'not-a-directory', 'last-connection.json');
  const { bot, emulator, person, clock, warnings, until } = await harness(t, { lastConn });
  const alice = emulator.createUser({ displayName: 'Alice' });
  const received: Message[] = [];
  bot.on('message', (message) => {
    received.push(message);
  });

  await bot.start();
  await until(() => warnings.length === 1, 'the warning about the device');
  const [warning] = warnings;
  assert.equal(warning?.code, 'STORE_ERROR');
  assert.match(warning?.message ?? '', /could not save the device to the last-connection file/);
  assert.match(warning?.message ?? '', /a part of the path is a file, not a directory \((ENOTDIR|EEXIST)\)/);
  assert.match(warning?.message ?? '', /set lastConn to a writable path, or to false/);
  assert.ok(warning?.message.includes(lastConn), 'the message names the file');

  // Handled activities are saved too: each write fails again, and is logged, not warned again.
  emulator.postMessage({ from: alice, toPerson: person, text: 'one' });
  await until(() => received.length === 1, 'the first message');
  emulator.dropConnections({ code: 1011 });
  await waitForState(bot, 'backoff');
  clock.runNext();
  await waitForState(bot, 'open');
  emulator.postMessage({ from: alice, toPerson: person, text: 'two' });
  await until(() => received.length === 2, 'the second message');
  await bot.stop(); // writes the handled ids once more

  assert.deepEqual(received.map((m) => m.text), ['one', 'two']);
  assert.equal(warnings.length, 1, `one warning: ${warnings.map((w) => w.message).join(' | ')}`);
  assert.equal(emulator.registrations.length, 1, 'the reconnect reused the device kept in memory');
  assert.deepEqual(await readdir(dir), ['not-a-directory'], 'nothing was created or moved aside');
});
