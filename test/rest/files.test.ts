/**
 * Files (webex-protocol.md §11): uploads with messages.create({ files }) as multipart/form-data,
 * downloads of message.files with contents.download() and contents.stream(), through Webex's
 * malware scan (423 Locked with Retry-After, 410 Gone, 428 Precondition Required). Against the
 * emulator on loopback; the waits of a scan run on the test clock.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { inspect } from 'node:util';
import { ApiError, SparkBotError, type Message } from '../../src/index.js';
import { filenameOf, guessContentType, MAX_UPLOAD_SIZE } from '../../src/rest/files.js';
import { recorder } from '../fixtures/servers.js';
import { defer, harness, secretPieces, tempDir, type Harness } from '../support/helpers.js';

/** A bot (not started: REST only), Alice, and a group room of the two. */
async function setup(t: TestContext, options: Parameters<typeof harness>[1] = {}) {
  const h = await harness(t, options);
  const alice = h.emulator.createUser({ displayName: 'Alice' });
  const room = h.emulator.createRoom({ title: 'files', members: [alice, h.person] });
  return { ...h, alice, room };
}

/** The error a promise rejects with (the test fails when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<SparkBotError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SparkBotError, `a SparkBotError, got ${inspect(error)}`);
    return error;
  }
  assert.fail('it resolved');
}

const posts = (h: Harness) => h.emulator.requests.filter((r) => r.method === 'POST' && r.path === '/v1/messages');
const contentGets = (h: Harness) => h.emulator.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/contents/'));

/** The share activities Alice's devices were sent (what Webex sends a client for a file). */
function sharesSeenBy(h: Harness, personUuid: string) {
  return h.emulator.events
    .filter((e) => e.personUuid === personUuid)
    .map((e) => e.data.activity as { verb?: string; object?: { files?: { items?: Array<Record<string, unknown>> } } } | undefined)
    .filter((a) => a?.verb === 'share');
}

async function readStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------- uploads

test('upload from a local path: multipart with the bytes, the file name and the type of its extension; the share carries it and download() gives it back', async (t) => {
  const h = await setup(t);
  const bytes = randomBytes(50_000);
  const path = join(await tempDir(t), 'report.pdf');
  await writeFile(path, bytes);
  const message = await h.bot.api.messages.create({ roomId: h.room.id, text: 'the report', markdown: '**the report**', files: [path] });

  assert.equal(h.emulator.uploads.length, 1);
  const upload = h.emulator.uploads[0];
  assert.equal(upload?.filename, 'report.pdf', 'the name, without the directory');
  assert.equal(upload?.contentType, 'application/pdf');
  assert.ok(upload?.data.equals(bytes), 'the bytes of the file');
  assert.deepEqual(upload?.fields, { roomId: h.room.id, text: 'the report', markdown: '**the report**' });
  assert.equal(message.id, upload?.messageId);
  assert.deepEqual(message.files, [upload?.contentUrl]);

  const shares = sharesSeenBy(h, h.alice.uuid);
  assert.equal(shares.length, 1, 'Alice is sent a share, as for a file shared from a client');
  assert.deepEqual(
    shares[0]?.object?.files?.items?.map((f) => [f.displayName, f.malwareQuarantineState]),
    [['report.pdf', 'safe']],
  );

  const file = await h.bot.api.contents.download(message.files?.[0] ?? '');
  assert.ok(file.data.equals(bytes));
  assert.equal(file.filename, 'report.pdf');
  assert.equal(file.contentType, 'application/pdf');
  assert.equal(file.size, bytes.length);
});

test('upload of a Buffer (toPersonEmail): sent as "file", application/octet-stream', async (t) => {
  const h = await setup(t);
  const bytes = randomBytes(1234);
  const message = await h.bot.api.messages.create({ toPersonEmail: h.alice.email, files: [bytes] });
  const upload = h.emulator.uploads[0];
  assert.equal(upload?.filename, 'file');
  assert.equal(upload?.contentType, 'application/octet-stream');
  assert.ok(upload?.data.equals(bytes));
  assert.deepEqual(upload?.fields, { toPersonEmail: h.alice.email });
  assert.equal(message.roomType, 'direct');
  const file = await h.bot.api.contents.download(message.files?.[0] ?? '');
  assert.ok(file.data.equals(bytes));
  assert.equal(file.filename, 'file');
});

test('upload of a Readable (toPersonId, a reply in a thread): its chunks, in order', async (t) => {
  const h = await setup(t);
  const parent = h.emulator.postMessage({ from: h.alice, room: h.room, text: 'send me the log' });
  const chunks = [randomBytes(1000), Buffer.from('then some text\n'), randomBytes(70_000)];
  const message = await h.bot.api.messages.create({ roomId: h.room.id, parentId: parent.id as string, files: [Readable.from(chunks)] });
  const upload = h.emulator.uploads[0];
  assert.equal(upload?.filename, 'file');
  assert.equal(upload?.contentType, 'application/octet-stream');
  assert.ok(upload?.data.equals(Buffer.concat(chunks)));
  assert.equal(upload?.fields.parentId, parent.id);
  assert.equal(message.parentId, parent.id);
  const direct = await h.bot.api.messages.create({ toPersonId: h.alice.id, files: [Readable.from([Buffer.from('x')])] });
  assert.equal(direct.roomType, 'direct');
  assert.deepEqual(h.emulator.uploads[1]?.fields, { toPersonId: h.alice.id });
});

test('upload of { data, filename, contentType }: the given type; without one, the type of the extension; a directory in the name is dropped', async (t) => {
  const h = await setup(t);
  const chart = randomBytes(3000);
  await h.bot.api.messages.create({ roomId: h.room.id, files: [{ data: chart, filename: 'chart.bin', contentType: 'image/x-custom' }] });
  await h.bot.api.messages.create({ roomId: h.room.id, files: [{ data: chart, filename: '../../etc/chart.PNG' }] });
  await h.bot.api.messages.create({ roomId: h.room.id, files: [{ data: Readable.from([Buffer.from('a,b\n1,2\n')]), filename: 'table.csv' }] });
  assert.deepEqual(
    h.emulator.uploads.map((u) => [u.filename, u.contentType, u.data.length]),
    [
      ['chart.bin', 'image/x-custom', 3000],
      ['chart.PNG', 'image/png', 3000],
      ['table.csv', 'text/csv', 8],
    ],
  );
  const file = await h.bot.api.contents.download(h.emulator.uploads[0]?.contentUrl ?? '');
  assert.equal(file.contentType, 'image/x-custom');
  assert.ok(file.data.equals(chart));
});

test('a file that is a URL goes in the JSON body, as before: Webex fetches it', async (t) => {
  const h = await setup(t);
  const message = await h.bot.api.messages.create({ roomId: h.room.id, text: 'see', files: ['https://example.com/report.pdf'] });
  assert.deepEqual(message.files, ['https://example.com/report.pdf']);
  assert.equal(h.emulator.uploads.length, 0);
});

test('two files → INVALID_CONTENT, nothing sent', async (t) => {
  const h = await setup(t);
  const error = await rejection(h.bot.api.messages.create({ roomId: h.room.id, files: [Buffer.from('a'), 'https://example.com/b.pdf'] }));
  assert.equal(error.code, 'INVALID_CONTENT');
  assert.match(error.message, /^Webex takes one file a message; send the others in messages of their own/);
  assert.equal(posts(h).length, 0);
});

test('a path with no file → INVALID_CONTENT naming the path, nothing sent; a directory too', async (t) => {
  const h = await setup(t);
  const dir = await tempDir(t);
  const missing = join(dir, 'nope.pdf');
  const error = await rejection(h.bot.api.messages.create({ roomId: h.room.id, text: 'x', files: [missing] }));
  assert.equal(error.code, 'INVALID_CONTENT');
  assert.ok(error.message.includes(JSON.stringify(missing)), error.message);
  assert.match(error.message, /there is no such file; nothing was sent/);
  const directory = await rejection(h.bot.api.messages.create({ roomId: h.room.id, files: [dir] }));
  assert.equal(directory.code, 'INVALID_CONTENT');
  assert.match(directory.message, /it is a directory/);
  assert.equal(posts(h).length, 0);
});

test('a card and a local file in one message → INVALID_CONTENT, nothing sent (a card with a URL file still goes as JSON)', async (t) => {
  const h = await setup(t);
  const card = { contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard', version: '1.3', body: [] } };
  const error = await rejection(h.bot.api.messages.create({ roomId: h.room.id, text: 'card', attachments: [card], files: [Buffer.from('x')] }));
  assert.equal(error.code, 'INVALID_CONTENT');
  assert.match(error.message, /a card \(attachments\) and a local file cannot go in one message/);
  assert.equal(posts(h).length, 0);
  const message = await h.bot.api.messages.create({ roomId: h.room.id, text: 'card', attachments: [card], files: ['https://example.com/x.png'] });
  assert.equal(message.attachments?.length, 1);
});

test('a file over 100 MiB → INVALID_CONTENT, nothing sent (bytes checked at once, a stream as it is read)', async (t) => {
  const h = await setup(t);
  const big = await rejection(h.bot.api.messages.create({ roomId: h.room.id, files: [Buffer.alloc(MAX_UPLOAD_SIZE + 1)] }));
  assert.equal(big.code, 'INVALID_CONTENT');
  assert.match(big.message, /larger than 104857600 bytes \(100 MiB\), Webex's limit for a file; nothing was sent/);
  const mib = Buffer.alloc(1024 * 1024);
  let pulled = 0;
  const endless = new Readable({
    read() {
      pulled += 1;
      this.push(mib);
    },
  });
  const streamed = await rejection(h.bot.api.messages.create({ roomId: h.room.id, files: [endless] }));
  assert.equal(streamed.code, 'INVALID_CONTENT');
  assert.match(streamed.message, /the stream to upload \(more than 104857600 bytes read\)/);
  assert.ok(endless.destroyed, 'the stream is not read further');
  assert.ok(pulled <= 102, `read ${pulled} MiB`);
  assert.equal(posts(h).length, 0);
});

test('uploads are writes: queued in call order (a slow stream holds the text sent after it), never retried on a 5xx', async (t) => {
  const h = await setup(t);
  const slow = new PassThrough();
  const upload = h.bot.api.messages.create({ roomId: h.room.id, files: [{ data: slow, filename: 'slow.txt' }] });
  const text = h.bot.api.messages.create({ roomId: h.room.id, text: 'after the file' });
  slow.write('part one, ');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(posts(h).length, 0, 'the text waits for the upload before it');
  slow.end('part two');
  const [first, second] = await Promise.all([upload, text]);
  const order = [...h.emulator.messages.values()].filter((m) => m.roomUuid === h.room.uuid).map((m) => m.id);
  assert.deepEqual(order, [first.id, second.id]);
  assert.equal(h.emulator.uploads[0]?.data.toString(), 'part one, part two');

  h.emulator.failNext('POST /v1/messages', { status: 503 });
  const error = await rejection(h.bot.api.messages.create({ roomId: h.room.id, files: [Buffer.from('x')] }));
  assert.ok(error instanceof ApiError);
  assert.equal(error.status, 503);
  assert.equal(posts(h).length, 3, 'the failed upload was sent once');
});

test('a stream that never ends is bounded by the timeout (create\'s { timeout }, else requestTimeout): nothing sent, and the writes behind it go on', async (t) => {
  const h = await setup(t);
  const never = new PassThrough();
  never.write('a start and nothing more');
  const stuck = rejection(h.bot.api.messages.create({ roomId: h.room.id, files: [{ data: never, filename: 'never.txt' }] }, { timeout: 200 }));
  const next = h.bot.api.messages.create({ roomId: h.room.id, text: 'behind it' });
  const error = await stuck;
  assert.ok(error instanceof ApiError);
  assert.match(error.message, /^POST http:\/\/127\.0\.0\.1:\d+\/v1\/messages was not sent: making its body \(reading the file to upload\) took more than the timeout \(200 ms\)$/);
  assert.ok(never.destroyed, 'the stream is let go');
  assert.equal((await next).text, 'behind it');
  assert.equal(posts(h).length, 1, 'only the text was sent');
  await assert.rejects(h.bot.api.messages.create({ roomId: h.room.id, text: 'x' }, { timeout: 0 }), /timeout must be a number of milliseconds, at least 1, got 0/);
});

test('an upload answered 429 is sent again after Retry-After (on the bot clock) with the same bytes: a stream is read once', async (t) => {
  const h = await setup(t);
  h.emulator.failNext('POST /v1/messages', { status: 429, retryAfter: 3 });
  let reads = 0;
  const source = Readable.from(
    (function* () {
      reads += 1;
      yield Buffer.from('only once');
    })(),
  );
  const sent = h.bot.api.messages.create({ roomId: h.room.id, files: [{ data: source, filename: 'once.txt' }] });
  await h.clock.waitForTimer(3000);
  assert.equal(posts(h).length, 1);
  h.clock.advance(3000);
  const message = await sent;
  assert.equal(posts(h).length, 2);
  assert.equal(reads, 1);
  assert.equal(h.emulator.uploads.length, 1);
  assert.equal(h.emulator.uploads[0]?.data.toString(), 'only once');
  assert.equal(h.emulator.uploads[0]?.messageId, message.id);
});

// ---------------------------------------------------------------- downloads

test('a file shared by a user reaches the bot, which downloads it: bytes, name (UTF-8 in Content-Disposition), type, size', async (t) => {
  const h = await setup(t);
  const received: Message[] = [];
  h.bot.on('message', (message) => {
    received.push(message);
  });
  await h.bot.start();
  const bytes = randomBytes(20_000);
  h.emulator.shareFile({ from: h.alice, room: h.room, mentions: [h.person], text: 'my CV', files: [{ filename: 'résumé final.pdf', data: bytes }] });
  await h.until(() => received.length === 1, 'the share');
  const file = await h.bot.api.contents.download(received[0]?.files?.[0] ?? '');
  assert.ok(file.data.equals(bytes));
  assert.equal(file.filename, 'résumé final.pdf');
  assert.equal(file.contentType, 'application/pdf');
  assert.equal(file.size, 20_000);
});

test('423 twice, then 200: each wait is the Retry-After (5 s when it is garbage) on the bot clock', async (t) => {
  const h = await setup(t);
  const shared = h.emulator.shareFile({ from: h.alice, room: h.room, files: [{ filename: 'scan.zip', data: 'zipped' }], scan: 'pending' });
  const url = (shared.files as string[])[0] ?? '';
  h.emulator.setFileScan(url, 'scanning', { retryAfter: 7 });
  h.emulator.failNext('GET /v1/contents/*', { status: 423, retryAfter: 'soon' });
  const download = h.bot.api.contents.download(url);

  await h.clock.waitForTimer(5000);
  assert.deepEqual(h.clock.pendingDelays(), [5000], 'garbage Retry-After: 5 s');
  assert.deepEqual(contentGets(h).map((r) => r.status), [423]);
  h.clock.advance(5000);

  await h.clock.waitForTimer(7000);
  assert.deepEqual(h.clock.pendingDelays(), [7000], "the emulator's Retry-After: 7");
  assert.deepEqual(contentGets(h).map((r) => r.status), [423, 423]);
  h.emulator.finishScan(shared.id as string, 'safe');
  h.clock.advance(6999);
  assert.equal(contentGets(h).length, 2, 'not asked again before Retry-After');
  h.clock.advance(1);

  const file = await download;
  assert.equal(file.data.toString(), 'zipped');
  assert.deepEqual(contentGets(h).map((r) => r.status), [423, 423, 200]);
});

test('still 423 after scanWait → FILE_SCANNING (the last wait is cut to what is left of scanWait)', async (t) => {
  const h = await setup(t);
  const shared = h.emulator.shareFile({ from: h.alice, room: h.room, files: ['big.iso'], scan: 'pending' });
  const download = rejection(h.bot.api.contents.download((shared.files as string[])[0] ?? '', { scanWait: 3000 }));
  await h.clock.waitForTimer(2000);
  h.clock.advance(2000);
  await h.clock.waitForTimer(1000);
  h.clock.advance(1000);
  const error = await download;
  assert.equal(error.code, 'FILE_SCANNING');
  assert.match(error.message, /is still being scanned for malware after 3000 ms \(scanWait\); try again later$/);
  assert.equal((error.cause as ApiError).status, 423);
  assert.deepEqual(contentGets(h).map((r) => r.status), [423, 423, 423]);
  assert.equal(h.clock.pending, 0);

  const at0 = await rejection(h.bot.api.contents.download((shared.files as string[])[0] ?? '', { scanWait: 0 }));
  assert.equal(at0.code, 'FILE_SCANNING', 'scanWait 0: no wait at all');
});

test('a download aborted while it waits for the scan rejects with the reason, and its timer is gone', async (t) => {
  const h = await setup(t);
  const shared = h.emulator.shareFile({ from: h.alice, room: h.room, files: ['wait.bin'], scan: 'pending' });
  const controller = new AbortController();
  const download = h.bot.api.contents.download((shared.files as string[])[0] ?? '', { signal: controller.signal });
  await h.clock.waitForTimer(2000);
  controller.abort(new Error('no longer needed'));
  await assert.rejects(download, /no longer needed/);
  assert.equal(h.clock.pending, 0);
});

test('410 → FILE_INFECTED', async (t) => {
  const h = await setup(t);
  const shared = h.emulator.shareFile({ from: h.alice, room: h.room, files: ['virus.exe'], scan: 'pending' });
  h.emulator.finishScan(shared.id as string, 'infected');
  const error = await rejection(h.bot.api.contents.download((shared.files as string[])[0] ?? ''));
  assert.equal(error.code, 'FILE_INFECTED');
  assert.match(error.message, /Webex found malware in it \(HTTP 410\)/);
  assert.equal((error.cause as ApiError).status, 410);
});

test('428 → FILE_UNSCANNABLE, which says to pass { allowUnscannable: true }; with it, ?allow=unscannable and the bytes', async (t) => {
  const h = await setup(t);
  const shared = h.emulator.shareFile({ from: h.alice, room: h.room, files: [{ filename: 'sealed.zip', data: 'encrypted' }] });
  const url = (shared.files as string[])[0] ?? '';
  h.emulator.setFileScan(url, 'unscannable');
  const error = await rejection(h.bot.api.contents.download(url));
  assert.equal(error.code, 'FILE_UNSCANNABLE');
  assert.match(error.message, /pass \{ allowUnscannable: true \} to download it anyway/);
  const file = await h.bot.api.contents.download(url, { allowUnscannable: true });
  assert.equal(file.data.toString(), 'encrypted');
  assert.deepEqual(contentGets(h).map((r) => [r.status, r.query]), [
    [428, ''],
    [200, '?allow=unscannable'],
  ]);
});

test('only members of the room download its files (403); an unknown content id is 404', async (t) => {
  const h = await setup(t);
  const bob = h.emulator.createUser({ displayName: 'Bob' });
  const theirs = h.emulator.createRoom({ title: 'not the bot', members: [h.alice, bob] });
  const shared = h.emulator.shareFile({ from: h.alice, room: theirs, files: ['private.txt'] });
  const forbidden = await rejection(h.bot.api.contents.download((shared.files as string[])[0] ?? ''));
  assert.ok(forbidden instanceof ApiError);
  assert.equal(forbidden.status, 403);
  const unknown = await rejection(h.bot.api.contents.download(`${h.emulator.apiUrl}/contents/Y2lzY29zcGFyazovL3VzL0NPTlRFTlQvbm9uZS8w`));
  assert.equal((unknown as ApiError).status, 404);
});

test('a file larger than maxSize is not read further (Content-Length or counted); the default bound is maxResponseSize', async (t) => {
  const h = await setup(t, { maxResponseSize: 4096 });
  const big = randomBytes(16 * 1024 * 1024);
  const shared = h.emulator.shareFile({ from: h.alice, room: h.room, files: [{ filename: 'huge.bin', data: big }] });
  const url = (shared.files as string[])[0] ?? '';
  const error = await rejection(h.bot.api.contents.download(url, { maxSize: 1024 }));
  assert.ok(error instanceof ApiError);
  assert.match(error.message, /with a body of 16777216 bytes \(Content-Length\), more than maxSize \(1024 bytes\); it was not read further — pass a larger maxSize to download\(\), or read the file with stream\(\)/);

  const small = h.emulator.shareFile({ from: h.alice, room: h.room, files: [{ filename: 'five.bin', data: randomBytes(5000) }] });
  const smallUrl = (small.files as string[])[0] ?? '';
  const byDefault = await rejection(h.bot.api.contents.download(smallUrl));
  assert.match(byDefault.message, /more than maxSize \(4096 bytes\)/, 'maxResponseSize by default');
  assert.equal((await h.bot.api.contents.download(smallUrl, { maxSize: 5000 })).size, 5000);

  // No Content-Length (a chunked body): counted as it comes.
  h.emulator.failNext('GET /v1/contents/*', { status: 200, body: 'x'.repeat(5000), headers: { 'content-type': 'text/plain' } });
  const counted = await rejection(h.bot.api.contents.download(smallUrl, { maxSize: 1000 }));
  assert.match(counted.message, /with a body larger than maxSize \(1000 bytes\); it was not read further/);
});

test('an endless body is read up to maxSize and no further: the download rejects at once and the connection is let go', async (t) => {
  let written = 0;
  let onClose = () => undefined as void;
  const closed = new Promise<void>((resolve) => {
    onClose = resolve;
  });
  const endless = await fileServer(t, (res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.once('close', () => onClose());
    const chunk = Buffer.alloc(64 * 1024, 1);
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) written += chunk.length;
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  });
  const h = await harness(t, { apiUrl: endless, requestTimeout: 60_000 });
  const error = await rejection(h.bot.api.contents.download(`${endless}/contents/endless`, { maxSize: 100_000 }));
  assert.match(error.message, /with a body larger than maxSize \(100000 bytes\); it was not read further/);
  await closed; // the connection is closed, not drained (an endless body never ends otherwise)
  assert.ok(written < 64 * 1024 * 1024, `the server could write ${written} bytes`);
});

test('stream(): the bytes, the name, the type and the size (Content-Length); maxSize bounds it too', async (t) => {
  const h = await setup(t);
  const bytes = randomBytes(3 * 1024 * 1024);
  const shared = h.emulator.shareFile({ from: h.alice, room: h.room, files: [{ filename: 'video.mp4', data: bytes }] });
  const url = (shared.files as string[])[0] ?? '';
  const file = await h.bot.api.contents.stream(url);
  assert.equal(file.filename, 'video.mp4');
  assert.equal(file.contentType, 'video/mp4');
  assert.equal(file.size, bytes.length);
  assert.ok((await readStream(file.stream)).equals(bytes));

  const refused = await rejection(h.bot.api.contents.stream(url, { maxSize: 1000 }));
  assert.match(refused.message, /more than maxSize \(1000 bytes\); it was not read — pass a larger maxSize to stream\(\)/);
  h.emulator.failNext('GET /v1/contents/*', { status: 200, body: 'y'.repeat(5000) });
  const counted = await h.bot.api.contents.stream(url, { maxSize: 1000 });
  assert.equal(counted.size, undefined, 'no Content-Length, no size');
  await assert.rejects(readStream(counted.stream), (error: unknown) => error instanceof ApiError && /its body is larger than maxSize \(1000 bytes\)/.test(error.message));
});

test('stream(): aborting its signal before the caller listens for errors closes the stream, and crashes nothing', async (t) => {
  const h = await setup(t);
  const shared = h.emulator.shareFile({ from: h.alice, room: h.room, files: [{ filename: 'big.bin', data: randomBytes(1024 * 1024) }] });
  const controller = new AbortController();
  const file = await h.bot.api.contents.stream((shared.files as string[])[0] ?? '', { signal: controller.signal });
  controller.abort(); // before: 'error' with no listener, an uncaught exception
  await new Promise((resolve) => file.stream.once('close', resolve));
  assert.ok(file.stream.destroyed);
  await assert.rejects(readStream(file.stream), /premature close|aborted|destroyed/i);
});

/** A server standing in for apiUrl that answers every GET with `answer`. */
async function fileServer(t: TestContext, answer: (res: ServerResponse) => void): Promise<string> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((_req, res) => answer(res));
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  defer(t, async () => {
    for (const timer of timers) clearTimeout(timer);
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}

test('stream(): its timeout covers the exchange until the headers, then idleTimeout bounds each wait for data; download() is bounded as a whole', async (t) => {
  // A body of 20 chunks, 50 ms apart (1 s or more in all).
  const trickle = await fileServer(t, (res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-disposition': 'attachment; filename="slow.txt"' });
    let sent = 0;
    const next = () => {
      if (res.destroyed) return;
      if (sent === 20) return void res.end();
      sent += 1;
      res.write(`chunk ${sent}\n`);
      setTimeout(next, 50);
    };
    next();
  });
  const slow = await harness(t, { apiUrl: trickle });
  const url = `${trickle}/contents/slow`;
  const streamed = await slow.bot.api.contents.stream(url, { timeout: 500, idleTimeout: 2000 });
  assert.equal(streamed.filename, 'slow.txt');
  const text = (await readStream(streamed.stream)).toString();
  assert.equal(text.split('\n').filter(Boolean).length, 20, 'read to its end, past the timeout');
  const whole = await rejection(slow.bot.api.contents.download(url, { timeout: 500 }));
  assert.match(whole.message, /got no answer: no answer within the timeout \(500 ms\)/);

  // Headers and one chunk, then nothing.
  const stalled = await fileServer(t, (res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.write('first');
  });
  const stuck = await harness(t, { apiUrl: stalled });
  const file = await stuck.bot.api.contents.stream(`${stalled}/contents/stuck`, { idleTimeout: 200 });
  const chunks: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const chunk of file.stream) chunks.push(String(chunk));
    })(),
    (error: unknown) => error instanceof ApiError && /was abandoned: its body brought no data for 200 ms \(idleTimeout\)/.test(error.message),
  );
  assert.deepEqual(chunks, ['first']);
});

test('a content URL on another origin is refused before anything is sent; so is a redirect there', async (t) => {
  const h = await setup(t);
  const attacker = await recorder(t);
  const error = await rejection(h.bot.api.contents.download(`${attacker.url}/v1/contents/Y2lz`));
  assert.ok(error instanceof ApiError);
  assert.match(error.message, /was not sent: files are downloaded only from the origin of apiUrl \(http:\/\/127\.0\.0\.1:\d+\), and http:\/\/127\.0\.0\.1:\d+ is not it/);
  const streamed = await rejection(h.bot.api.contents.stream(`${attacker.url}/v1/contents/Y2lz`));
  assert.match(streamed.message, /was not sent/);
  assert.equal(attacker.connections(), 0);

  const shared = h.emulator.shareFile({ from: h.alice, room: h.room, files: ['a.txt'] });
  h.emulator.failNext('GET /v1/contents/*', { status: 302, headers: { location: `${attacker.url}/cdn/a.txt` } });
  const redirected = await rejection(h.bot.api.contents.download((shared.files as string[])[0] ?? ''));
  assert.match(redirected.message, /was refused: it answered HTTP 302 with a redirect to http:\/\/127\.0\.0\.1:\d+, another origin/);
  assert.equal(attacker.connections(), 0);
});

test('the token is in no error and no file name of uploads and downloads, even when the server echoes it', async (t) => {
  const h = await setup(t);
  const { token } = h.person;
  const seen: unknown[] = [];
  const keep = async (promise: Promise<unknown>) => {
    try {
      const result = await promise;
      (result as { stream?: Readable }).stream?.destroy();
      seen.push(result);
    } catch (error) {
      seen.push(error);
    }
  };
  const shared = h.emulator.shareFile({ from: h.alice, room: h.room, files: [{ filename: 'f.txt', data: 'f' }], scan: 'pending' });
  const url = (shared.files as string[])[0] ?? '';

  h.emulator.failNext('POST /v1/messages', { status: 400, body: { message: `bad upload for ${token}` }, headers: { trackingid: `T_${token}` } });
  await keep(h.bot.api.messages.create({ roomId: h.room.id, files: [Buffer.from('x')] }));
  h.emulator.failNext('GET /v1/contents/*', { status: 500, body: { message: `oops ${token}` }, headers: { trackingid: token } });
  await keep(h.bot.api.contents.download(url));
  const scanning = keep(h.bot.api.contents.download(url, { scanWait: 2000 }));
  await h.clock.waitForTimer(2000);
  h.clock.advance(2000);
  await scanning;
  h.emulator.finishScan(shared.id as string, 'infected');
  await keep(h.bot.api.contents.download(url));
  await keep(h.bot.api.contents.download(`https://elsewhere.example/${token}`));
  h.emulator.failNext('GET /v1/contents/*', { status: 200, body: 'z', headers: { 'content-disposition': `attachment; filename="${token}.txt"` } });
  await keep(h.bot.api.contents.download(url));
  h.emulator.failNext('GET /v1/contents/*', { status: 200, body: 'z', headers: { 'content-disposition': `attachment; filename*=UTF-8''${token}.txt` } });
  await keep(h.bot.api.contents.stream(url));

  assert.equal(seen.length, 7);
  const codes = seen.map((s) => (s instanceof SparkBotError ? s.code : 'ok'));
  assert.deepEqual(codes, ['API_ERROR', 'API_ERROR', 'FILE_SCANNING', 'FILE_INFECTED', 'API_ERROR', 'ok', 'ok']);
  const text = seen.map((s) => `${inspect(s, { depth: 8, showHidden: true })} ${s instanceof Error ? s.message : JSON.stringify({ ...(s as object), stream: undefined })}`).join('\n');
  assert.deepEqual(secretPieces(text, token), []);
  assert.match(text, /\[REDACTED\]/, 'the echoes were there, redacted');
});

test('the emulator takes one files part a message: a second one is a 400, and nothing is posted', async (t) => {
  const h = await setup(t);
  const form = new FormData();
  form.append('roomId', h.room.id);
  form.append('files', new Blob(['a']), 'a.txt');
  form.append('files', new Blob(['b']), 'b.txt');
  const response = await fetch(`${h.emulator.apiUrl}/messages`, { method: 'POST', body: form, headers: { authorization: `Bearer ${h.person.token}` } });
  assert.equal(response.status, 400);
  assert.match(((await response.json()) as { message: string }).message, /Only one file may be attached to a message/);
  assert.equal(h.emulator.uploads.length, 0);
  assert.equal([...h.emulator.messages.values()].filter((m) => m.roomUuid === h.room.uuid).length, 0);
});

// ---------------------------------------------------------------- helpers

test('file names: filename* (UTF-8) before filename, quotes and escapes, never a directory; else the URL; content types by extension', () => {
  const url = 'https://webexapis.com/v1/contents/Y2lz';
  assert.equal(filenameOf(`attachment; filename="plain.txt"; filename*=UTF-8''na%C3%AFve%20r%C3%A9sum%C3%A9.pdf`, url), 'naïve résumé.pdf');
  assert.equal(filenameOf('attachment; filename="say \\"hi\\".txt"', url), 'say "hi".txt');
  assert.equal(filenameOf('attachment; filename=bare.csv', url), 'bare.csv');
  assert.equal(filenameOf('attachment; filename="../../etc/passwd"', url), 'passwd');
  assert.equal(filenameOf("attachment; filename*=UTF-8''..%2F..%2Fx.sh", url), 'x.sh');
  assert.equal(filenameOf('attachment; filename="C:\\\\Windows\\\\evil.dll"', url), 'evil.dll');
  assert.equal(filenameOf('attachment; filename=".."', url), 'Y2lz', 'nothing usable: the URL');
  assert.equal(filenameOf(null, url), 'Y2lz');
  assert.equal(filenameOf(null, 'https://webexapis.com/'), 'file');
  assert.equal(filenameOf('attachment; filename="a\u0007b.txt"', url), 'ab.txt', 'no control characters');
  assert.deepEqual(
    ['a.PNG', 'b.jpeg', 'c.jpg', 'd.gif', 'e.pdf', 'f.txt', 'g.csv', 'h.json', 'i.zip', 'j.docx', 'k.xlsx', 'l.pptx', 'm.mp4', 'n.unknown', 'noext'].map(guessContentType),
    [
      'image/png',
      'image/jpeg',
      'image/jpeg',
      'image/gif',
      'application/pdf',
      'text/plain',
      'text/csv',
      'application/json',
      'application/zip',
      'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      'application/vnd.openxmlformats-officedocument.presentationml.presentation',
      'video/mp4',
      'application/octet-stream',
      'application/octet-stream',
    ],
  );
});
