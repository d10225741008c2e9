/**
 * Library bugs the chaos runs found, each reduced to a minimal reproduction on the emulator. Both
 * are fixed; these tests keep them fixed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FaultReply } from '../../src/emulator/index.js';
import { SparkBot } from '../../src/index.js';
import { defer, harness, startEmulator } from '../support/helpers.js';

test('a device registration under way when stop() is called finishes, its device is saved, and the next start reuses it and gets what was sent to it', async (t) => {
  const first = await harness(t);
  const { emulator, person, lastConn } = first;
  // The registration request reaches the server, which answers only once stop() has begun.
  const held = emulator.hold('POST /wdm/api/v1/devices');
  void first.bot.start().catch(() => undefined);
  await emulator.waitFor(() => emulator.heldRequests === 1, { what: 'the registration request held' });
  const stopping = first.bot.stop();
  held.release();
  await stopping;
  assert.equal(emulator.registrations.length, 1, 'the server registered the device');
  assert.equal(first.bot.state, 'idle');

  const alice = emulator.createUser({ displayName: 'Alice' });
  emulator.postMessage({ from: alice, toPerson: person, text: 'sent while the bot was stopped' });

  const second = await harness(t, { emulator, person, lastConn });
  const texts: string[] = [];
  second.bot.on('message', (message) => {
    texts.push(message.text ?? '');
  });
  await second.bot.start();
  assert.equal(emulator.registrations.length, 1, 'the device the server registered is reused, not a second one');
  await second.until(() => texts.length === 1, 'the message sent while the bot was stopped');
  assert.deepEqual(texts, ['sent while the bot was stopped']);
});

test('stop({ unregister: true }) during a registration deletes the device it brought', async (t) => {
  const { emulator, bot } = await harness(t);
  const held = emulator.hold('POST /wdm/api/v1/devices');
  void bot.start().catch(() => undefined);
  await emulator.waitFor(() => emulator.heldRequests === 1, { what: 'the registration request held' });
  const stopping = bot.stop({ unregister: true });
  held.release();
  await stopping;
  assert.equal(emulator.registrations.length, 1);
  assert.equal(emulator.devices.size, 0, 'no device left on the server');
});

for (const [what, reply] of [
  ['answered 503 once', { status: 503 }],
  ['answered 500 twice', { status: 500, times: 2 }],
  ['cut without an answer', { status: 0, reset: true }],
] as const satisfies ReadonlyArray<readonly [string, FaultReply]>) {
  test(`a message whose fetch is ${what} still reaches 'message', fetched again`, async (t) => {
    const emulator = await startEmulator(t);
    const person = emulator.createBot({ displayName: 'Echo' });
    const bot = new SparkBot({ token: person.token, ...emulator.botOptions(), lastConn: false });
    defer(t, () => bot.stop());
    const texts: string[] = [];
    const errors: string[] = [];
    const outcome = new Promise<void>((resolve) => {
      bot.on('message', (message) => {
        texts.push(message.text ?? '');
        resolve();
      });
      bot.on('error', (error) => {
        errors.push(`${error.code}: ${error.message}`);
        resolve();
      });
    });
    await bot.start();
    emulator.failNext('GET /v1/messages/*', reply);
    const alice = emulator.createUser({ displayName: 'Alice' });
    emulator.postMessage({ from: alice, toPerson: person, text: 'hello' });
    await outcome;
    assert.deepEqual(errors, []);
    assert.deepEqual(texts, ['hello']);
    const fetches = emulator.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/messages/'));
    assert.equal(fetches.length, (reply.times ?? 1) + 1, 'the failed fetches, then the one that worked');
  });
}
