import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimitError, type Message } from '../../src/index.js';
import { harness, waitForState } from '../support/helpers.js';

async function roomHarness(t: Parameters<typeof harness>[0], options: Parameters<typeof harness>[1] = {}) {
  const h = await harness(t, options);
  const alice = h.emulator.createUser({ displayName: 'Alice' });
  const room = h.emulator.directRoom(h.person, alice);
  const posts = () => h.emulator.requests.filter((r) => r.method === 'POST' && r.path === '/v1/messages');
  const texts = () => [...h.emulator.messages.values()].filter((m) => m.personUuid === h.person.uuid).map((m) => m.text);
  return { ...h, alice, room, posts, texts };
}

test('a 429 pauses the outbox for Retry-After, then every queued call goes out in order', async (t) => {
  const { bot, emulator, clock, room, posts, texts, until } = await roomHarness(t, { retryCount: 1 });
  emulator.failNext('POST /v1/messages', { status: 429, retryAfter: 5 });
  const sent = ['one', 'two', 'three'].map((text) => bot.api.messages.create({ roomId: room.id, text }));
  await clock.waitForTimer(5000);
  assert.equal(posts().length, 1, 'only the first call went out before the pause');
  await until(() => posts().length === 1);
  clock.advance(4999);
  assert.equal(posts().length, 1, 'nothing before Retry-After');
  clock.advance(1);
  const messages = await Promise.all(sent);
  assert.deepEqual(messages.map((m) => m.text), ['one', 'two', 'three']);
  assert.deepEqual(texts(), ['one', 'two', 'three'], 'created in the order they were sent');
  assert.deepEqual(posts().map((r) => r.status), [429, 200, 200, 200]);
});

test('after retryCount retries a call rejects with a RateLimitError; the calls behind it still go out', async (t) => {
  const { bot, emulator, clock, room, posts } = await roomHarness(t, { retryCount: 2 });
  emulator.failNext('POST /v1/messages', { status: 429, retryAfter: 1, times: 3 });
  const first = bot.api.messages.create({ roomId: room.id, text: 'doomed' });
  const second = bot.api.messages.create({ roomId: room.id, text: 'fine' });
  const outcome = first.then(
    () => 'resolved',
    (error: unknown) => error,
  );
  for (let retry = 0; retry < 2; retry += 1) {
    await clock.waitForTimer(1000);
    clock.advance(1000);
  }
  const error = await outcome;
  assert.ok(error instanceof RateLimitError, String(error));
  assert.equal(error.code, 'RATE_LIMITED');
  assert.equal(error.status, 429);
  assert.equal(error.attempts, 3);
  assert.equal(error.retryAfter, 1000);
  assert.match(error.message, /still rate limited after 3 attempts/);
  assert.equal((await second).text, 'fine');
  assert.deepEqual(posts().map((r) => r.status), [429, 429, 429, 200]);
});

test('Retry-After as an HTTP date, and a garbage one (retryTimeout), are honoured for REST calls', async (t) => {
  const { bot, emulator, clock, room } = await roomHarness(t, { retryCount: 2, retryTimeout: 7000 });
  emulator.failNext('POST /v1/messages', { status: 429, retryAfter: new Date(Date.now() + 60_000).toUTCString() });
  emulator.failNext('POST /v1/messages', { status: 429, retryAfter: 'later' });
  const sent = bot.api.messages.create({ roomId: room.id, text: 'patient' });
  await clock.waitForTimer();
  const [dated] = clock.pendingDelays();
  assert.ok(dated !== undefined && dated > 50_000 && dated <= 60_000, `HTTP date: ${dated}`);
  clock.advance(dated);
  await clock.waitForTimer(7000);
  clock.advance(7000);
  assert.equal((await sent).text, 'patient');
});

test('a message fetched right after it was posted is retried on 404', async (t) => {
  const { bot, emulator, clock, person, alice, until } = await roomHarness(t);
  const received: Message[] = [];
  bot.on('message', (message) => {
    received.push(message);
  });
  await bot.start();
  emulator.failNext('GET /v1/messages/*', { status: 404, times: 2 });
  emulator.postMessage({ from: alice, toPerson: person, text: 'not yet indexed' });
  for (let retry = 0; retry < 2; retry += 1) {
    await clock.waitForTimer(1000);
    clock.advance(1000);
  }
  await until(() => received.length === 1);
  assert.equal(received[0]?.text, 'not yet indexed');
  assert.deepEqual(emulator.requests.filter((r) => r.path.startsWith('/v1/messages/')).map((r) => r.status), [404, 404, 200]);
});

test('other statuses reject at once with an ApiError carrying status, tracking id and the message of the body', async (t) => {
  const { bot, emulator, room } = await roomHarness(t);
  emulator.failNext('POST /v1/messages', { status: 400, body: { message: 'The text is too long.' } });
  await assert.rejects(bot.api.messages.create({ roomId: room.id, text: 'x' }), (error: Error & { status?: number; trackingId?: string; code?: string }) => {
    assert.equal(error.code, 'API_ERROR');
    assert.equal(error.status, 400);
    assert.match(error.trackingId ?? '', /^EMU_/);
    assert.match(error.message, /HTTP 400 \(The text is too long\.\)/);
    return true;
  });
  emulator.failNext('GET /v1/rooms/*', { status: 502, body: 'Bad gateway, not JSON' });
  await assert.rejects(bot.api.rooms.get(room.id), /HTTP 502 \(the body is not JSON\)/);
  await assert.rejects(bot.api.rooms.get(''), /roomId is required/);
});

test('the outbox is unaffected by socket reconnects', async (t) => {
  const { bot, emulator, clock, room, posts } = await roomHarness(t);
  await bot.start();
  emulator.failNext('POST /v1/messages', { status: 429, retryAfter: 30 });
  const sent = bot.api.messages.create({ roomId: room.id, text: 'survivor' });
  await clock.waitForTimer(30_000);
  emulator.dropConnections({ code: 1011 });
  await waitForState(bot, 'backoff');
  clock.runNext(); // the reconnect delay (shorter than the rate limit)
  await waitForState(bot, 'open');
  assert.equal(posts().length, 1);
  clock.advance(30_000);
  assert.equal((await sent).text, 'survivor');
});

test('reads given { retries } are tried again a second apart on 5xx and on a cut connection; writes never are; a bad retries value is refused', async (t) => {
  const { bot, emulator, clock, room, posts, until } = await roomHarness(t);
  const gets = () => emulator.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/rooms/'));

  emulator.failNext('GET /v1/rooms/*', { status: 502 });
  emulator.failNext('GET /v1/rooms/*', { status: 0, reset: true });
  const read = bot.api.rooms.get(room.id, { retries: 2 });
  for (let retry = 1; retry <= 2; retry += 1) {
    await clock.waitForTimer(1_000);
    assert.equal(gets().length, retry, `attempt ${retry} failed, the next waits a second`);
    clock.advance(1_000);
  }
  assert.equal((await read).id, room.id);
  await until(() => gets().length === 3);

  emulator.failNext('GET /v1/rooms/*', { status: 503 });
  await assert.rejects(bot.api.rooms.get(room.id), { code: 'API_ERROR', status: 503 }, 'no retries by default');

  emulator.failNext('POST /v1/messages', { status: 503 });
  await assert.rejects(bot.api.request('POST', 'messages', { json: { roomId: room.id, text: 'once' }, retries: 3 }), { status: 503 });
  assert.equal(posts().length, 1, 'a write is sent once');
  assert.equal(clock.pending, 0, 'and nothing waits to send it again');

  for (const retries of [-1, 1.5, 11, Number.NaN]) {
    await assert.rejects(bot.api.rooms.get(room.id, { retries }), { code: 'INVALID_OPTION', message: /retries/ });
  }
});
