import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { test } from 'node:test';
import { harness } from '../support/helpers.js';

test('START registers a device, authorizes the socket and opens on mercury.buffer_state', async (t) => {
  const { bot, emulator, states, person } = await harness(t);
  await bot.start();
  assert.equal(bot.state, 'open');
  assert.deepEqual(states, ['idle', 'fetchingUrl', 'connecting', 'open']);
  assert.equal(emulator.registrations.length, 1);
  assert.equal(emulator.registrations[0]?.body.deviceType, 'DESKTOP');
  const [connection] = emulator.connections;
  assert.ok(connection?.authorizedAt, 'the socket sent a valid authorization frame');
  assert.ok(connection.readyAt, 'the server sent mercury.buffer_state');
  const query = new URL(connection.url, emulator.url).searchParams;
  assert.equal(query.get('outboundWireFormat'), 'text');
  assert.equal(query.get('bufferStates'), 'true');
  assert.equal(query.get('aliasHttpStatus'), 'true');
  assert.equal(bot.currentUser?.id, person.id, 'currentUser comes from /people/me');
});

test('the device is persisted to the last-connection file, mode 0600, without the token', async (t) => {
  const { bot, emulator, lastConn, person } = await harness(t);
  await bot.start();
  await bot.stop();
  const saved = JSON.parse(await readFile(lastConn, 'utf8')) as { version: number; device: { url: string } };
  assert.equal(saved.version, 1);
  assert.equal(saved.device.url, emulator.devicesOf(person)[0]?.url);
  assert.equal((await stat(lastConn)).mode & 0o777, 0o600);
  assert.ok(!(await readFile(lastConn, 'utf8')).includes(person.token));
});

test('every inbound frame with an id is acked with its envelope id', async (t) => {
  const { bot, emulator, person } = await harness(t);
  await bot.start();
  const alice = emulator.createUser({ displayName: 'Alice' });
  emulator.postMessage({ from: alice, toPerson: person, text: 'one' });
  emulator.postMessage({ from: alice, toPerson: person, text: 'two' });
  await emulator.waitFor(() => emulator.deliveries.length === 2 && emulator.acks.length === 3, { what: 'buffer_state and two envelopes acked' });
  const acked = new Set(emulator.acks.map((a) => a.messageId));
  for (const delivery of emulator.deliveries) assert.ok(acked.has(delivery.envelopeId), `envelope ${delivery.envelopeId} acked`);
  for (const device of emulator.devicesOf(person)) assert.equal(device.pending.size, 0, 'nothing left for redelivery');
});

test('start() while connecting or open returns the same outcome; a second start() is a no-op when open', async (t) => {
  const { bot, emulator } = await harness(t);
  const first = bot.start();
  const second = bot.start();
  await Promise.all([first, second]);
  await bot.start();
  assert.equal(emulator.registrations.length, 1);
  assert.equal(emulator.connections.length, 1);
});
