/**
 * Bad input: sizes a server chooses. A huge REST body, a body that never ends, activity ids of
 * 100 000 characters, acks that pile up because the server stopped reading, a burst of pings —
 * none of them may make sparkbot hold (or write) more than a bound, or drop its link silently.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ApiError, type Activity } from '../../src/index.js';
import { defer, harness, waitForState } from '../support/helpers.js';

test('a REST body larger than maxResponseSize fails the call (API_ERROR, saying so) without being read; the next call works', async (t) => {
  const { bot, emulator, person } = await harness(t, { maxResponseSize: 64 * 1024 });
  const huge = JSON.stringify({ id: person.id, emails: [], displayName: 'x'.repeat(2 * 1024 * 1024) });
  // Announced by Content-Length: refused before a byte of it is read; and counted while it is read.
  emulator.failNext('GET /v1/people/*', { status: 200, body: huge, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(huge)) } });
  emulator.failNext('GET /v1/people/*', { status: 200, body: huge, headers: { 'content-type': 'application/json' } });
  for (const size of [`of ${Buffer.byteLength(huge)} bytes \\(Content-Length\\), more than`, 'larger than']) {
    await assert.rejects(bot.api.people.get(person.id), (error: unknown) => {
      assert.ok(error instanceof ApiError && error.code === 'API_ERROR');
      assert.match(error.message, new RegExp(`^GET \\S+/v1/people/\\S+ was abandoned: it answered HTTP 200 with a body ${size} maxResponseSize \\(65536 bytes\\); it was not read further — raise maxResponseSize if this answer is right$`));
      return true;
    });
  }
  assert.equal((await bot.api.people.get(person.id)).id, person.id);
});

test('a REST body without a length that never ends is read up to maxResponseSize, and the connection is closed', async (t) => {
  let written = 0;
  let closed!: () => void;
  const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
  const api = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }); // chunked: no Content-Length
    res.write('{"items":["');
    const chunk = 'x'.repeat(16 * 1024);
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) written += chunk.length;
    };
    res.on('drain', pump);
    res.on('close', () => closed());
    pump();
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', () => resolve()));
  defer(t, () => new Promise<void>((resolve) => api.close(() => resolve())));
  const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/v1`;
  const { bot } = await harness(t, { apiUrl, u2cUrl: false, maxResponseSize: 256 * 1024 });
  await assert.rejects(bot.api.rooms.list().all(), /was abandoned: it answered HTTP 200 with a body larger than maxResponseSize \(262144 bytes\)/);
  await connectionClosed; // before: read until memory ran out
  assert.ok(written < 64 * 1024 * 1024, `the server could write ${written} bytes only (socket buffers), not without end`);
});

test('an activity id of 100 000 characters is kept as a digest: a repeat is still dropped, and the last-connection file stays small', async (t) => {
  const h = await harness(t);
  const activities: Activity[] = [];
  h.bot.on('activity', (activity) => {
    activities.push(activity);
  });
  await h.bot.start();
  const id = `${'7'.repeat(100_000)}`;
  const event = { eventType: 'conversation.activity', activity: { id, verb: 'tag', actor: { id: 'a5b6c7d8-0000-4000-8000-000000000001' } } };
  h.emulator.sendEvent(h.person.uuid, event);
  await h.until(() => activities.length === 1, 'the activity');
  h.emulator.sendEvent(h.person.uuid, event); // a repeat (a redelivery)
  h.emulator.sendEvent(h.person.uuid, { ...event, activity: { ...event.activity, id: 'after-the-repeat' } });
  await h.until(() => activities.length === 2, 'the next activity');
  assert.deepEqual(activities.map((a) => a.id.length), [100_000, 'after-the-repeat'.length], 'the repeat was dropped');
  await h.bot.stop();
  const file = await readFile(h.lastConn, 'utf8');
  assert.ok(file.length < 4096, `the file holds digests, not the id: ${file.length} bytes`);
  const saved = JSON.parse(file) as { seen: string[]; seenAt: number[] };
  assert.match(saved.seen[0] ?? '', /^sha256:[\w-]{43}$/);
  assert.equal(saved.seen[1], 'after-the-repeat');
  assert.equal(saved.seenAt.length, 2);
});

test('acks to a server that stopped reading pile up to maxPayload at most: the bot closes the socket, says why, and reconnects', async (t) => {
  const h = await harness(t, { maxPayload: 128 * 1024 });
  await h.bot.start();
  h.emulator.freeze(); // the server reads nothing more; every frame below is acked with its 100 kB id
  const bigId = 'i'.repeat(100 * 1024);
  for (let n = 0; n < 400 && h.bot.state === 'open'; n++) {
    h.emulator.sendRaw(JSON.stringify({ id: `${bigId}${n}`, data: { eventType: 'noise' } }));
    if (n % 20 === 19) await new Promise((resolve) => setImmediate(resolve));
  }
  await waitForState(h.bot, 'backoff');
  const warning = h.warnings.find((w) => /stopped reading/.test(w.message));
  assert.match(warning?.message ?? '', /^the server stopped reading: \d+ bytes were waiting to be sent \(acks, pongs\), more than maxPayload \(131072 bytes\): the socket was closed and the bot reconnects$/);
  assert.match(h.bot.health().lastError ?? '', /socket closed \(1006\): the server stopped reading/);
  h.clock.runNext();
  await waitForState(h.bot, 'open');
  assert.equal(h.emulator.registrations.length, 1, 'the same device');
});

test('a burst of 2000 protocol pings is answered, and the socket stays open', async (t) => {
  const h = await harness(t);
  await h.bot.start();
  const [connection] = h.emulator.openConnections();
  h.emulator.sendPings(2000); // before: ws cut the link after 60 pongs waiting, and the bot said only "closed (1006)"
  await h.emulator.waitFor(() => h.emulator.protocolPongs === 2000, { what: 'every pong' });
  assert.equal(h.bot.state, 'open');
  assert.deepEqual(h.emulator.openConnections().map((c) => c.id), [connection?.id]);
  assert.deepEqual(h.states, ['idle', 'fetchingUrl', 'connecting', 'open']);
});
