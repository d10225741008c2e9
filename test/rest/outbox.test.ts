import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '../../src/errors.js';
import type { Http, HttpRequest, HttpResult } from '../../src/http.js';
import { RateLimitError, type Message } from '../../src/index.js';
import { Outbox } from '../../src/rest/outbox.js';
import { harness, waitForState } from '../support/helpers.js';
import { TestClock } from '../support/test-clock.js';

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

// The direct path (machines/outbox.ts): a call that meets no rate limit and no retry takes no step of the machine.

function directHarness() {
  const clock = new TestClock();
  const answers: Array<{ url: string; answer: (status: number, headers?: Record<string, string>) => void }> = [];
  const http = {
    send: (req: HttpRequest) =>
      new Promise<HttpResult>((resolve) => {
        answers.push({ url: req.url, answer: (status, headers = {}) => resolve({ status, headers: new Headers(headers), body: {}, text: '{}' }) });
      }),
    errorFor: (req: HttpRequest, result: HttpResult, what: string) => new ApiError({ message: what, method: req.method, url: req.url, status: result.status }),
  } as unknown as Http;
  const events: string[] = [];
  const states: string[] = [];
  const outbox = new Outbox({
    http,
    settings: { concurrency: 2, retryCount: 1 },
    clock,
    log: () => undefined,
    inspect: (event) => {
      if (event.type === '@xstate.event' && event.event.type !== 'xstate.init') events.push(event.event.type);
      if (event.type === '@xstate.snapshot') states.push(String((event.snapshot as { value?: unknown }).value));
    },
    onInternalError: (error) => {
      throw error;
    },
  });
  const flush = () => new Promise((resolve) => setImmediate(resolve));
  return { clock, answers, events, states, outbox, flush };
}

test('a GET or a write that meets no rate limit goes out and settles without a machine step; idle() waits for it', async () => {
  const { answers, events, outbox, flush } = directHarness();
  const read = outbox.send({ method: 'GET', url: 'https://webexapis.com/v1/messages/1' });
  const write = outbox.send({ method: 'POST', url: 'https://webexapis.com/v1/messages' });
  assert.equal(answers.length, 2, 'both went out at once');
  let idle = false;
  void outbox.idle().then(() => (idle = true));
  answers[0]?.answer(200);
  assert.equal((await read).status, 200);
  await flush();
  assert.equal(idle, false, 'idle() waits for the direct write still out');
  answers[1]?.answer(200);
  assert.equal((await write).status, 200);
  await flush();
  assert.equal(idle, true);
  assert.deepEqual(events, [], 'the machine took no event');
  assert.equal(outbox.rateLimits, 0);
});

test('direct calls enter the machine when it is needed: a call beyond concurrency, a second write, a 429', async () => {
  const { clock, answers, events, states, outbox, flush } = directHarness();
  const first = outbox.send({ method: 'GET', url: 'https://webexapis.com/v1/rooms/1' });
  const write = outbox.send({ method: 'POST', url: 'https://webexapis.com/v1/messages' });
  // A third call (concurrency 2) is queued by the machine, which takes the two direct calls over.
  const third = outbox.send({ method: 'GET', url: 'https://webexapis.com/v1/rooms/3' });
  assert.deepEqual(events, ['SEND']);
  assert.equal(answers.length, 2, 'the third call waits');
  // The direct GET is the machine's now: its 429 pauses everything for Retry-After.
  answers[0]?.answer(429, { 'retry-after': '2' });
  await flush();
  assert.deepEqual(events, ['SEND', 'CALL_RESULT']);
  assert.equal(states.at(-1), 'rateLimited', 'the pause is in the machine, visible to the inspector');
  assert.equal(outbox.rateLimits, 1);
  answers[1]?.answer(201);
  assert.equal((await write).status, 201, 'a call in flight finishes during the pause');
  assert.equal(answers.length, 2, 'nothing goes out during the pause');
  clock.advance(2000);
  await flush();
  assert.deepEqual(answers.map((a) => a.url).slice(2), ['https://webexapis.com/v1/rooms/1', 'https://webexapis.com/v1/rooms/3'], 'the 429 call at its place, then the queued one');
  answers[2]?.answer(200);
  answers[3]?.answer(200);
  assert.equal((await first).status, 200);
  assert.equal((await third).status, 200);
  await outbox.idle();
  assert.equal(states.at(-1), 'idle');
  // Idle again: the direct path resumes.
  const events0 = events.length;
  const again = outbox.send({ method: 'GET', url: 'https://webexapis.com/v1/rooms/4' });
  answers[4]?.answer(200);
  assert.equal((await again).status, 200);
  assert.equal(events.length, events0, 'no machine step');
});

test('a direct GET still answered 429 after retryCount retries rejects with a RateLimitError; a direct 404 with retries is parked by the machine', async () => {
  const { clock, answers, events, outbox, flush } = directHarness();
  const limited = outbox.send({ method: 'GET', url: 'https://webexapis.com/v1/rooms/1' });
  answers[0]?.answer(429, { 'retry-after': '1' });
  await flush();
  clock.advance(1000);
  await flush();
  answers[1]?.answer(429, { 'retry-after': '1' });
  await assert.rejects(limited, (error: unknown) => error instanceof RateLimitError && error.attempts === 2);
  await outbox.idle();
  const parked = outbox.send({ method: 'GET', url: 'https://webexapis.com/v1/messages/2' }, { retries: 1 });
  answers[2]?.answer(404);
  await flush();
  assert.equal(events.at(-1), 'CALL_RESULT', 'the 404 entered the machine');
  assert.deepEqual(clock.pendingDelays(), [1000], 'tried again after retryDelay');
  clock.advance(1000);
  await flush();
  answers[3]?.answer(200);
  assert.equal((await parked).status, 200);
});
