/**
 * Bad input: list answers whose `Link: rel="next"` never ends — a link to the page itself, a cycle
 * of pages, a server inventing new pages for ever. A list reads a bounded number of pages and says
 * why it stopped; an enrichment that meets one does not block its room; stop() ends it.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ApiError, type MembershipEvent, type Message } from '../../src/index.js';
import { defer, harness } from '../support/helpers.js';

/** An API whose /v1/rooms pages link as `next(page)` says (page 0 is the first request's URL); records the pages read. */
async function pagingApi(t: Parameters<typeof harness>[0], next: (page: number) => number | undefined) {
  const pages: number[] = [];
  const api = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const page = Number(url.searchParams.get('page') ?? '0');
    pages.push(page);
    const following = next(page);
    res.writeHead(200, {
      'content-type': 'application/json',
      ...(following === undefined ? {} : { link: `<http://${req.headers.host}/v1/rooms?max=1${following === 0 ? '' : `&page=${following}`}>; rel="next"` }),
    });
    res.end(JSON.stringify({ items: [{ id: `room-${page}`, title: `Room ${page}` }] }));
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', () => resolve()));
  defer(t, () => new Promise<void>((resolve) => api.close(() => resolve())));
  const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/v1`;
  return { apiUrl, pages };
}

test('a next-page link to the page itself stops the list after that page, with an API_ERROR saying the pagination loops', async (t) => {
  const { apiUrl, pages } = await pagingApi(t, (page) => page);
  const { bot } = await harness(t, { apiUrl, u2cUrl: false });
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const room of bot.api.rooms.list({ max: 1 })) seen.push(room.id);
    })(),
    (error: unknown) => {
      assert.ok(error instanceof ApiError && error.code === 'API_ERROR');
      assert.match(error.message, /Webex API list GET rooms stopped: the next-page link names a page already read \(http:\/\/127\.0\.0\.1:\d+\/v1\/rooms\?max=1\): the server's pagination loops; stopped after 1 page$/);
      return true;
    },
  );
  assert.deepEqual(seen, ['room-0']);
  assert.deepEqual(pages, [0]);
});

test('a cycle of next-page links (0 → 1 → 2 → 0) is read once round, then refused', async (t) => {
  const { apiUrl, pages } = await pagingApi(t, (page) => (page + 1) % 3);
  const { bot } = await harness(t, { apiUrl, u2cUrl: false });
  await assert.rejects(bot.api.rooms.list({ max: 1 }).all(), /pagination loops; stopped after 3 pages/);
  assert.deepEqual(pages, [0, 1, 2]);
});

test('a server that invents pages for ever is read up to maxPages (default 1000), then refused', async (t) => {
  const { apiUrl, pages } = await pagingApi(t, (page) => page + 1);
  const { bot } = await harness(t, { apiUrl, u2cUrl: false });
  await assert.rejects(bot.api.rooms.list({ max: 1 }, { maxPages: 25 }).all(), /Webex API list GET rooms stopped: it has more than 25 pages \(maxPages\); the rest was not read/);
  assert.equal(pages.length, 25);
  pages.length = 0;
  await assert.rejects(bot.api.rooms.list({ max: 1 }).all(), /more than 1000 pages/);
  assert.equal(pages.length, 1000);
  assert.throws(() => bot.api.rooms.list({}, { maxPages: 0 }), /maxPages.*at least 1/);
});

test('a list stops when its signal aborts, between pages and during one', async (t) => {
  const { apiUrl, pages } = await pagingApi(t, (page) => page + 1);
  const { bot } = await harness(t, { apiUrl, u2cUrl: false });
  const stop = new AbortController();
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const room of bot.api.rooms.list({ max: 1 }, { signal: stop.signal })) {
        seen.push(room.id);
        if (seen.length === 3) stop.abort(new Error('enough'));
      }
    })(),
    /enough/,
  );
  assert.deepEqual(pages, [0, 1, 2], 'no page after the abort');
});

test('an add activity whose membership list loops is reported, and does not block its room', async (t) => {
  const { bot, emulator, person, errors, until } = await harness(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  const bob = emulator.createUser({ displayName: 'Bob' });
  const group = emulator.createRoom({ title: 'Team', members: [alice, person] });
  const memberships: MembershipEvent[] = [];
  const texts: string[] = [];
  bot.on('membership', (event) => {
    memberships.push(event);
  });
  bot.on('message', (message: Message) => {
    texts.push(message.text ?? '');
  });
  await bot.start();
  const self = `${emulator.apiUrl}/memberships?roomId=${encodeURIComponent(group.id)}&cursor=again`;
  // Every membership list answers with a page that links to itself (before: ~1500 requests a second, for ever).
  emulator.failNext('GET /v1/memberships', { status: 200, body: { items: [] }, headers: { link: `<${self}>; rel="next"` }, times: 1_000_000 });
  emulator.addMember(group, bob, alice);
  await until(() => errors.length === 1, 'the error');
  assert.equal(errors[0]?.code, 'API_ERROR');
  assert.equal(errors[0]?.context?.verb, 'add');
  assert.match(errors[0]?.message ?? '', /could not enrich add .*: Webex API list GET memberships stopped: the next-page link names a page already read/);
  const listed = emulator.faultHits.filter((hit) => hit.route === 'GET /v1/memberships').length;
  assert.ok(listed <= 2, `the loop was read at most twice: ${listed}`);
  emulator.clearFaults();

  emulator.postMessage({ from: alice, room: group, text: 'after the loop', mentions: [person] });
  await until(() => texts.includes('after the loop'), 'the next message of that room');
  assert.deepEqual(memberships, [], 'nothing was made of the looping answer');
});
