/**
 * Finding WDM through Webex's service catalog (webex-protocol.md §2.1): without `wdmUrl`, the bot
 * asks `GET {u2cUrl}/catalog?format=hostmap` and registers at `serviceLinks.wdm` + `/devices`,
 * saves that URL with the device, and a restart with the saved device goes there without asking
 * again. A catalog that cannot be had, or that names a WDM the token must not go to, leaves the bot
 * on the default WDM (wdm-a) with one CATALOG_ERROR warning; a 401 fails as a bad token; a 429
 * waits. `wdmUrl` set, or `u2cUrl: false`: no discovery at all.
 *
 * These tests have no network: every bot gets a dispatcher that lets loopback requests through and
 * fails any other (noting it), so an attempt at the default WDM shows up as a refused request.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { DEFAULT_WDM_URL } from '../../src/index.js';
import { defer, harness, secretPieces, tempDir, waitForState, type Harness } from '../support/helpers.js';
import { listen, recorder, undiciAgentClass } from '../fixtures/servers.js';

const CATALOG = 'GET /u2c/api/v1/catalog';

/** A dispatcher for the bots: loopback goes through; anything else fails at once, and is noted ("POST https://host/path"). */
async function offline(t: TestContext): Promise<{ dispatcher: object; attempts: string[] }> {
  const Agent = await undiciAgentClass();
  const real = new Agent();
  defer(t, () => real.close());
  const attempts: string[] = [];
  const dispatcher = {
    dispatch(options: { origin?: unknown; path?: unknown; method?: unknown }, handler: { onError(error: Error): void }): boolean {
      const origin = String(options.origin);
      if (/^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(origin)) return real.dispatch(options, handler);
      attempts.push(`${String(options.method)} ${origin}${String(options.path)}`);
      setImmediate(() => handler.onError(new Error('this test has no network')));
      return true;
    },
    close: () => Promise.resolve(),
  };
  return { dispatcher, attempts };
}

/** A bot without wdmUrl (so: discovery), on the emulator, offline. */
async function discovering(t: TestContext, options: Parameters<typeof harness>[1] = {}): Promise<Harness & { attempts: string[] }> {
  const { dispatcher, attempts } = await offline(t);
  const h = await harness(t, { wdmUrl: undefined, dispatcher, ...options });
  return Object.assign(h, { attempts });
}

/** `promise`, or a rejection after 10 s: a start() that never ends fails its test instead of the file. */
function within<T>(promise: Promise<T>, what = 'start()'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within 10 s`)), 10_000);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const catalogRequests = (h: Harness) => h.emulator.requests.filter((r) => r.method === 'GET' && r.path === '/u2c/api/v1/catalog');
const wdmRequests = (h: Harness) => h.emulator.requests.filter((r) => r.path.startsWith('/wdm/')).map((r) => `${r.method} ${r.path}`);
const DEFAULT_POST = `POST ${DEFAULT_WDM_URL}`;

test('without wdmUrl the bot registers at the WDM the service catalog names, saves it with the device, and one catalog request also serves the cluster lookup', async (t) => {
  const h = await discovering(t);
  const { bot, emulator, person, lastConn } = h;
  await within(bot.start());
  assert.equal(bot.state, 'open');
  assert.equal(emulator.registrations.length, 1, 'registered on the emulator, the WDM the catalog named');
  assert.equal(bot.health().deviceUrl?.startsWith(`${emulator.wdmUrl}/`), true);
  assert.deepEqual(h.attempts, [], 'nothing went to the default WDM');
  assert.deepEqual(h.warnings, []);
  const order = emulator.requests.map((r) => `${r.method} ${r.path}`);
  assert.ok(order.indexOf(CATALOG) >= 0 && order.indexOf(CATALOG) < order.indexOf('POST /wdm/api/v1/devices'), 'the catalog first, then WDM');

  // The cluster lookup of a conversation id uses the same answer: no second request.
  const alice = emulator.createUser({ displayName: 'Alice' });
  const texts: string[] = [];
  bot.on('message', (message) => void texts.push(message.text ?? ''));
  emulator.postMessage({ from: alice, toPerson: person, text: 'hello' });
  await h.until(() => texts.length === 1, 'the message');
  assert.equal(catalogRequests(h).length, 1, 'one catalog request for both uses');

  await bot.stop();
  const text = await readFile(lastConn, 'utf8');
  const saved = JSON.parse(text) as { device: { url: string; wdmUrl?: string } };
  assert.equal(saved.device.wdmUrl, emulator.wdmUrl, 'the WDM URL is saved with the device');
  assert.deepEqual(secretPieces(text, person.token), [], 'no piece of the token in the file');
});

test('a restart with the saved device checks it at the saved WDM without asking the catalog for it', async (t) => {
  const first = await discovering(t);
  await within(first.bot.start());
  const device = first.bot.health().deviceUrl;
  await first.bot.stop();
  const before = first.emulator.requests.length;

  const second = await discovering(t, { emulator: first.emulator, person: first.person, lastConn: first.lastConn });
  await within(second.bot.start());
  assert.equal(second.bot.health().deviceUrl, device, 'the saved device is reused');
  assert.equal(first.emulator.registrations.length, 1, 'no new registration');
  const requests = first.emulator.requests.slice(before).map((r) => `${r.method} ${r.path}`);
  assert.deepEqual(
    requests.filter((r) => !r.startsWith('GET /v1/')).map((r) => r.replace(/registrations\/[^/]+/, 'registrations/…')),
    ['GET /wdm/api/v1/devices', 'WS /mercury/v1/apps/wx2/registrations/…/messages'],
    'the device checked at the saved WDM, then the socket',
  );
  assert.ok(!requests.includes(CATALOG), `no catalog request: ${requests.join(', ')}`);
  assert.deepEqual(second.attempts, []);
});

test('wdmUrl set, or u2cUrl false: the catalog is not asked, and the device is saved with that WDM URL', async (t) => {
  const given = await harness(t);
  await within(given.bot.start());
  await given.bot.stop();
  assert.deepEqual(catalogRequests(given), [], 'wdmUrl set: no catalog request');
  const saved = JSON.parse(await readFile(given.lastConn, 'utf8')) as { device: { wdmUrl?: string } };
  assert.equal(saved.device.wdmUrl, given.emulator.wdmUrl);

  // u2cUrl false and no wdmUrl: the default WDM, without a warning.
  const h = await discovering(t, { u2cUrl: false, reconnect: false, emulator: given.emulator });
  await assert.rejects(within(h.bot.start()), { code: 'DISCONNECTED' });
  assert.deepEqual(h.attempts, [DEFAULT_POST]);
  assert.deepEqual(catalogRequests(h), []);
  assert.deepEqual(
    h.warnings.map((w) => w.code),
    [],
  );
});

const UNHAD = [
  { name: 'answered 500', reply: { status: 500 }, expected: /^the service catalog could not be had \(the service catalog: GET http:\/\/127\.0\.0\.1:\d+\/u2c\/api\/v1\/catalog answered HTTP 500/ },
  { name: 'answered 403', reply: { status: 403 }, expected: /could not be had \(.*answered HTTP 403/ },
  { name: 'reset without an answer', reply: { status: 0, reset: true }, expected: /could not be had \(GET .*\/u2c\/api\/v1\/catalog.* got no answer/ },
  { name: 'answered with a body that is not JSON', reply: { status: 200, body: '<html>portal</html>', headers: { 'content-type': 'text/html' } }, expected: /with a body that is not a JSON object \(text\/html\); is u2cUrl right/ },
  { name: 'answered without serviceLinks.wdm', reply: { status: 200, body: { hostCatalog: {} } }, expected: /^the service catalog \(GET .*\/catalog\) names no WDM \(serviceLinks\.wdm is missing\)/ },
  { name: 'answered with serviceLinks.wdm null', reply: { status: 200, body: { serviceLinks: { wdm: null } } }, expected: /names no WDM \(serviceLinks\.wdm is a null\)/ },
] as const;

for (const { name, reply, expected } of UNHAD) {
  test(`a catalog ${name}: one CATALOG_ERROR warning, and the bot registers at the default WDM (and keeps to it)`, async (t) => {
    const h = await discovering(t);
    h.emulator.failNext(CATALOG, reply);
    const started = h.bot.start().catch((error: unknown) => error);
    await h.until(() => h.warnings.some((w) => w.code === 'CONNECT_FAILED'), 'the failed registration at the default WDM');
    assert.equal(h.warnings[0]?.code, 'CATALOG_ERROR');
    assert.match(h.warnings[0]?.message ?? '', expected);
    assert.match(h.warnings[0]?.message ?? '', /; the bot registers at the default WDM, https:\/\/wdm-a\.wbx2\.com\/wdm\/api\/v1\/devices, instead \(set wdmUrl to choose one\)$/);
    assert.deepEqual(h.attempts, [DEFAULT_POST], 'the registration went to the default WDM');
    assert.deepEqual(wdmRequests(h), [], 'and not to the emulator');

    // The next attempt keeps to the default WDM: no second catalog request, no second warning.
    h.clock.runNext();
    await h.until(() => h.attempts.length === 2, 'the second attempt');
    assert.deepEqual(h.attempts, [DEFAULT_POST, DEFAULT_POST]);
    assert.equal(catalogRequests(h).length, 1);
    assert.equal(h.warnings.filter((w) => w.code === 'CATALOG_ERROR').length, 1);
    await h.bot.stop();
    assert.equal(((await started) as { code?: string }).code, 'STOPPED');
  });
}

test('a catalog slower than requestTimeout: one CATALOG_ERROR warning, and the bot registers at the default WDM', async (t) => {
  const server = createServer(() => undefined); // never answers
  const { port } = await listen(t, server);
  const h = await discovering(t, { u2cUrl: `http://127.0.0.1:${port}/u2c/api/v1`, requestTimeout: 300 });
  const started = h.bot.start().catch((error: unknown) => error);
  await h.until(() => h.attempts.length === 1, 'the registration at the default WDM');
  assert.equal(h.warnings[0]?.code, 'CATALOG_ERROR');
  assert.match(h.warnings[0]?.message ?? '', /^the service catalog could not be had \(GET http:\/\/127\.0\.0\.1:\d+\/u2c\/api\/v1\/catalog got no answer: no answer within requestTimeout \(300 ms\)\); the bot registers at the default WDM/);
  await h.bot.stop();
  assert.equal(((await started) as { code?: string }).code, 'STOPPED');
});

test('a catalog naming a WDM the token must not go to is refused: nothing is sent there, the bot registers at the default WDM', async (t) => {
  const attacker = await recorder(t);
  const port = new URL(attacker.url).port;
  const cases = [
    { wdm: `http://localhost:${port}/wdm/api/v1`, expected: /names a WDM on localhost:\d+, which is neither a Webex host \(\*\.wbx2\.com, \*\.ciscospark\.com, \*\.webex\.com\) nor the host of u2cUrl \(127\.0\.0\.1:\d+\); the token is not sent there/ },
    { wdm: `${attacker.url}/wdm/api/v1`, expected: /names a WDM on 127\.0\.0\.1:\d+, which is neither a Webex host .* nor the host of u2cUrl/ },
    { wdm: 'https://wdm-a.wbx2.com.attacker.example/wdm/api/v1', expected: /names a WDM on wdm-a\.wbx2\.com\.attacker\.example, which is neither a Webex host/ },
    { wdm: 'ftp://wdm-a.wbx2.com/wdm/api/v1', expected: /names a WDM with scheme ftp: \(https: required\)/ },
    { wdm: 'wdm-a.wbx2.com/wdm/api/v1', expected: /names a WDM that is not a valid URL/ },
    { wdm: 42, expected: /names no WDM \(serviceLinks\.wdm is a number\)/ },
  ];
  for (const { wdm, expected } of cases) {
    const h = await discovering(t);
    h.emulator.failNext(CATALOG, { status: 200, body: { serviceLinks: { wdm }, hostCatalog: {} } });
    const started = h.bot.start().catch((error: unknown) => error);
    await h.until(() => h.attempts.length === 1, `the registration at the default WDM (${String(wdm)})`);
    assert.deepEqual(h.attempts, [DEFAULT_POST], String(wdm));
    assert.equal(h.warnings[0]?.code, 'CATALOG_ERROR', String(wdm));
    assert.match(h.warnings[0]?.message ?? '', expected);
    // The refused origin did not join the token's origins.
    if (typeof wdm === 'string' && wdm.startsWith('http://')) {
      await assert.rejects(h.bot.api.request('GET', `${new URL(wdm).origin}/wdm/api/v1/devices`), /was not sent: the token goes only to/);
    }
    await h.bot.stop();
    assert.equal(((await started) as { code?: string }).code, 'STOPPED');
  }
  assert.equal(attacker.connections(), 0, 'the named host was never contacted');
});

test('a catalog WDM with credentials in its URL, even on the u2cUrl host, is refused', async (t) => {
  const h = await discovering(t);
  const host = new URL(h.emulator.url).host;
  h.emulator.failNext(CATALOG, { status: 200, body: { serviceLinks: { wdm: `http://user:secret@${host}/wdm/api/v1` } } });
  const started = h.bot.start().catch((error: unknown) => error);
  await h.until(() => h.attempts.length === 1, 'the registration at the default WDM');
  assert.match(h.warnings[0]?.message ?? '', /names a WDM with credentials in its URL; the token is not sent there/);
  assert.deepEqual(wdmRequests(h), []);
  await h.bot.stop();
  await started;
});

test('a catalog answered 401 fails start() as a bad token (UNAUTHORIZED), and nothing goes to any WDM', async (t) => {
  const h = await discovering(t);
  h.emulator.failNext(CATALOG, { status: 401 });
  await assert.rejects(within(h.bot.start()), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'UNAUTHORIZED');
    assert.match(error.message, /Webex refused the token \(HTTP 401\); check the bot's access token/);
    return true;
  });
  assert.equal(h.bot.state, 'failed');
  assert.deepEqual(h.attempts, []);
  assert.deepEqual(wdmRequests(h), []);
  assert.deepEqual(h.warnings, [], 'no fallback');
});

test('a catalog answered 429 waits in rateLimited (Retry-After), then asks again and registers where it says', async (t) => {
  const h = await discovering(t);
  h.emulator.failNext(CATALOG, { status: 429, retryAfter: 7 });
  const started = h.bot.start();
  await waitForState(h.bot, 'rateLimited');
  await h.clock.waitForTimer(7000);
  assert.deepEqual(h.clock.pendingDelays(), [7000], 'Retry-After: 7 s');
  h.clock.advance(7000);
  await within(started);
  assert.equal(catalogRequests(h).length, 2);
  assert.equal(h.emulator.registrations.length, 1);
  assert.deepEqual(h.attempts, []);
  assert.deepEqual(
    h.warnings.map((w) => w.code),
    ['CONNECT_FAILED'],
  );
});

test('stop() while the catalog request is under way ends it at once: start() rejects STOPPED, the request is aborted', async (t) => {
  // A U2C that never answers.
  const seen: IncomingMessage[] = [];
  let arrived: () => void = () => undefined;
  const arrival = new Promise<void>((resolve) => (arrived = resolve));
  let aborted: () => void = () => undefined;
  const abort = new Promise<void>((resolve) => (aborted = resolve));
  const server = createServer((req) => {
    seen.push(req);
    req.socket.once('close', aborted);
    arrived();
  });
  const { port } = await listen(t, server);
  const h = await discovering(t, { u2cUrl: `http://127.0.0.1:${port}/u2c/api/v1` });
  const started = h.bot.start().catch((error: unknown) => error);
  await within(arrival, 'the catalog request');
  assert.equal(h.bot.state, 'fetchingUrl');
  assert.equal(seen[0]?.url, '/u2c/api/v1/catalog?format=hostmap');
  assert.equal(seen[0]?.headers.authorization, `Bearer ${h.person.token}`, 'the token goes to the u2cUrl the user set');
  const before = Date.now();
  await h.bot.stop();
  assert.ok(Date.now() - before < 2000, 'stop() did not wait for the catalog');
  assert.equal(((await started) as { code?: string }).code, 'STOPPED');
  await within(abort, 'the abort'); // the bot closed the connection: the request was aborted
  assert.deepEqual(h.attempts, []);
  assert.deepEqual(h.warnings, []);
});

test('socketHosts set is used as it is: the discovered WDM host does not join it', async (t) => {
  const h = await discovering(t, { socketHosts: ['*.wbx2.com'] });
  const started = h.bot.start().catch((error: unknown) => error);
  await h.until(() => h.warnings.length === 1, 'the refused socket URL');
  assert.equal(h.emulator.registrations.length, 1, 'registered at the discovered WDM');
  assert.equal(h.warnings[0]?.code, 'CONNECT_FAILED');
  assert.match(h.warnings[0]?.message ?? '', /names a socket on 127\.0\.0\.1, which is not a Webex host \(\*\.wbx2\.com\)/);
  assert.equal(h.emulator.connections.length, 0);
  await h.bot.stop();
  await started;
});

test('a last-connection file naming a WDM the token must not go to is ignored: nothing is sent there, the catalog is asked', async (t) => {
  const attacker = await recorder(t);
  const lastConn = join(await tempDir(t), 'last-connection.json');
  const device = { url: `${attacker.url}/wdm/api/v1/devices/planted`, webSocketUrl: `${attacker.wsUrl}/planted`, wdmUrl: `${attacker.url}/wdm/api/v1/devices` };
  await writeFile(lastConn, JSON.stringify({ version: 1, device: { ...device, savedAt: new Date().toISOString() } }), { mode: 0o600 });
  const h = await discovering(t, { lastConn });
  await within(h.bot.start());
  assert.equal(h.warnings[0]?.code, 'STORE_ERROR');
  assert.match(h.warnings[0]?.message ?? '', /^the last-connection file names a WDM on 127\.0\.0\.1:\d+, which is neither a Webex host .* nor the host of u2cUrl .*; it is ignored and a new device is registered$/);
  assert.equal(h.emulator.registrations.length, 1, 'a new device at the WDM the catalog named');
  assert.equal(catalogRequests(h).length, 1);
  await h.bot.stop();
  assert.equal(attacker.connections(), 0);
});

test('a last-connection file of sparkbot 0.1 (no wdmUrl): its device is taken to live on the default WDM', async (t) => {
  // A device on the emulator, saved without its WDM: not on the default WDM, so not reused.
  const first = await harness(t, { lastConn: false });
  await within(first.bot.start());
  const url = first.bot.health().deviceUrl ?? '';
  await first.bot.stop();
  const lastConn = join(await tempDir(t), 'last-connection.json');
  await writeFile(lastConn, JSON.stringify({ version: 1, device: { url, webSocketUrl: 'ws://127.0.0.1:1/x', savedAt: new Date().toISOString() } }), { mode: 0o600 });
  const h = await discovering(t, { lastConn, emulator: first.emulator, person: first.person });
  await within(h.bot.start());
  assert.match(h.warnings[0]?.message ?? '', /^the last-connection file names a device on another host \(http:\/\/127\.0\.0\.1:\d+\) than its WDM; it is ignored and a new device is registered$/);
  assert.equal(first.emulator.registrations.length, 2);
  assert.deepEqual(h.attempts, [], 'the default WDM was not asked about a device that is not there');
});
