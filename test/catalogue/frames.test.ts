/**
 * Bad input on the socket: a frame larger than maxPayload. (Non-JSON, binary, array and
 * field-less frames: test/messages.test.ts "unusable frames…"; pongs without an id and other
 * shapes: test/protocol/frames.test.ts; unknown event types and verbs: test/messages.test.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from '../../src/index.js';
import { harness, waitForState } from '../support/helpers.js';

test('a frame larger than maxPayload closes the socket with 1009, warns INVALID_FRAME with the fix, and the bot reconnects to the same device', async (t) => {
  const { bot, emulator, person, clock, warnings, until } = await harness(t, { maxPayload: 1024 });
  const alice = emulator.createUser({ displayName: 'Alice' });
  const received: Message[] = [];
  bot.on('message', (message) => {
    received.push(message);
  });
  await bot.start();

  emulator.sendRaw(JSON.stringify({ id: 'oversized', data: { eventType: 'conversation.activity', padding: 'x'.repeat(2048) } }));
  await waitForState(bot, 'backoff');
  assert.equal(bot.health().lastClose?.code, 1009);
  assert.match(bot.health().lastError ?? '', /socket closed \(1009\): a frame larger than maxPayload \(1024 bytes\) arrived/);
  await until(() => warnings.length === 1, 'the warning');
  assert.equal(warnings[0]?.code, 'INVALID_FRAME');
  assert.match(warnings[0]?.message ?? '', /larger than maxPayload \(1024 bytes\).*closed with 1009 and the bot reconnects.*raise maxPayload/);
  await emulator.waitFor(() => emulator.connections[0]?.closedAt !== undefined, { what: 'the first socket closed' });
  assert.equal(emulator.connections[0]?.closeCode, 1009);

  clock.runNext();
  await waitForState(bot, 'open');
  emulator.postMessage({ from: alice, toPerson: person, text: 'small enough' });
  await until(() => received.length === 1, 'the next message');
  assert.equal(received[0]?.text, 'small enough');
  assert.equal(emulator.registrations.length, 1, 'the device was kept');
  assert.equal(emulator.connections.length, 2);
});
