/**
 * Proxies from the environment: HTTPS_PROXY / HTTP_PROXY / NO_PROXY (or their lower-case forms)
 * are honoured by default, read when the bot is constructed, for WDM, REST, U2C and the socket;
 * `dispatcher` replaces them for the HTTP requests, `agent` for the socket, and `proxy: false`
 * turns them off. A forward proxy on loopback (test/fixtures/proxy.ts) records every CONNECT
 * tunnel and every absolute-form request; the emulator is http://127.0.0.1:<port>, so its HTTP
 * requests reach the proxy in absolute form and its socket (ws:) through a CONNECT tunnel.
 * The explicit `agent` and `dispatcher` themselves: security/proxy.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Agent, type ClientRequestArgs } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { WebSocketServer } from 'ws';
import type { Message, SparkBotError } from '../../src/index.js';
import { proxyFromEnvironment } from '../../src/proxy.js';
import { defer, harness, nextEvent, startEmulator, type Harness } from '../support/helpers.js';
import { closedPort, TLS, undiciAgentClass } from '../fixtures/servers.js';
import { startProxy, type TestProxy } from '../fixtures/proxy.js';

const VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'] as const;

/** Sets the proxy variables of process.env for one test (any others from the outer environment are removed), restored after it. */
function setEnvironment(t: TestContext, values: Partial<Record<(typeof VARIABLES)[number], string>>): void {
  const saved = VARIABLES.map((name) => [name, process.env[name]] as const);
  const restore = () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  for (const name of VARIABLES) delete process.env[name];
  Object.assign(process.env, values);
  defer(t, restore);
}

/** The bot connects, a user posts, the bot receives the message (fetched over REST). */
async function exchange(h: Harness): Promise<void> {
  const alice = h.emulator.createUser({ displayName: 'Alice' });
  const received: Message[] = [];
  h.bot.on('message', (message) => {
    received.push(message);
  });
  await h.bot.start();
  assert.equal(h.bot.state, 'open');
  const posted = h.emulator.postMessage({ from: alice, toPerson: h.person, text: 'through the proxy?' });
  await h.until(() => received.length === 1, 'the message, fetched over REST');
  assert.equal(received[0]?.id, posted.id);
  assert.equal(h.bot.state, 'open');
  assert.deepEqual(h.errors, []);
}

/** The emulator's HTTP requests as absolute URLs without their query (`POST http://127.0.0.1:<port>/wdm/api/v1/devices`). */
function httpRequestsOf(h: Harness): string[] {
  const origin = new URL(h.emulator.wdmUrl).origin;
  return h.emulator.requests.filter((r) => r.method !== 'WS').map((r) => `${r.method} ${origin}${r.path}`);
}

/** The socket upgrades the emulator saw, as request lines without their query (`GET /mercury/…`). */
function upgradesOf(h: Harness): string[] {
  return h.emulator.requests.filter((r) => r.method === 'WS').map((r) => `GET ${r.path}`);
}

function proxiedRequests(proxy: TestProxy): string[] {
  return proxy.requests.map((r) => `${r.method} ${r.url.split('?')[0] ?? ''}`);
}

function tunnelledRequests(proxy: TestProxy): string[] {
  return proxy.tunnels.flatMap((tunnel) => tunnel.requests.map((line) => line.split('?')[0] ?? ''));
}

class CountingAgent extends Agent {
  connections = 0;

  override createConnection(options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    this.connections += 1;
    return super.createConnection(options, callback);
  }
}

async function countingDispatcher(t: TestContext) {
  const UndiciAgent = await undiciAgentClass();
  class CountingDispatcher extends UndiciAgent {
    dispatched = 0;

    override dispatch(options: unknown, handler: unknown): boolean {
      this.dispatched += 1;
      return super.dispatch(options, handler);
    }
  }
  const dispatcher = new CountingDispatcher();
  defer(t, () => dispatcher.close());
  return dispatcher;
}

/** An HTTPS and WebSocket server with the test certificate: answers `{"id":"me"}`, accepts sockets, records the Authorization headers. */
async function tlsServer(t: TestContext) {
  const requests: Array<[string, string, string | undefined]> = [];
  const upgrades: Array<string | undefined> = [];
  const server = createHttpsServer({ key: TLS.key, cert: TLS.cert }, (req, res) => {
    requests.push([req.method ?? '', req.url ?? '', req.headers.authorization]);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ id: 'me' }));
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    upgrades.push(req.headers.authorization);
    wss.handleUpgrade(req, socket, head, (ws) => ws.close(1000));
  });
  const sockets = new Set<Duplex>();
  server.on('connection', (socket: Duplex) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  defer(t, async () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, upgrades };
}

test('HTTPS_PROXY and HTTP_PROXY: WDM, REST, U2C and the socket all go through the proxy; the bot opens and gets the message', async (t) => {
  const proxy = await startProxy(t);
  setEnvironment(t, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url });
  const h = await harness(t);
  await exchange(h);

  const origin = new URL(h.emulator.wdmUrl).origin;
  const http = httpRequestsOf(h);
  assert.ok(http.includes(`POST ${origin}/wdm/api/v1/devices`), 'the WDM registration went through the proxy');
  assert.ok(http.some((r) => r.startsWith(`GET ${origin}/v1/messages/`)), 'the enrichment of the message (REST)');
  assert.ok(http.includes(`GET ${origin}/u2c/api/v1/catalog`), 'the U2C catalog');
  assert.deepEqual([...proxiedRequests(proxy)].sort(), [...http].sort(), 'every HTTP request the emulator saw came through the proxy, in absolute form');
  assert.ok(
    proxy.requests.every((r) => r.authorization === `Bearer ${h.person.token}`),
    'an http: target through an http:// proxy: the proxy sees the whole request, the Authorization header included (as docs/reliability.md says)',
  );

  const upgrades = upgradesOf(h);
  assert.equal(upgrades.length, 1);
  assert.equal(proxy.tunnels.length, 1, 'one CONNECT tunnel: the socket');
  assert.equal(proxy.tunnels[0]?.target, new URL(origin).host);
  assert.deepEqual(tunnelledRequests(proxy), upgrades, 'the socket upgrade went through the tunnel');
  assert.deepEqual(proxy.refusedUpgrades, []);
});

test('the environment is read when the bot is constructed: changing it afterwards changes nothing', async (t) => {
  const proxy = await startProxy(t);
  setEnvironment(t, { https_proxy: proxy.url, http_proxy: proxy.url });
  const h = await harness(t);
  setEnvironment(t, {});
  await exchange(h);
  assert.deepEqual([...proxiedRequests(proxy)].sort(), [...httpRequestsOf(h)].sort(), 'the lower-case variables, read by the constructor');
  assert.deepEqual(tunnelledRequests(proxy), upgradesOf(h));

  // And a bot constructed without the variables connects directly.
  const direct = await harness(t, { emulator: h.emulator, person: h.emulator.createBot({ displayName: 'Direct Bot' }) });
  const before = { requests: proxy.requests.length, tunnels: proxy.tunnels.length };
  await direct.bot.start();
  assert.equal(direct.bot.state, 'open');
  assert.deepEqual({ requests: proxy.requests.length, tunnels: proxy.tunnels.length }, before);
});

for (const kind of ['host', 'host:port', '*'] as const) {
  test(`NO_PROXY (${kind}) lists the emulator: nothing goes through the proxy`, async (t) => {
    const proxy = await startProxy(t);
    const emulator = await startEmulator(t);
    const host = new URL(emulator.wdmUrl).host;
    const noProxy = { host: `example.com, 127.0.0.1`, 'host:port': `${host},.example.com`, '*': '*' }[kind];
    setEnvironment(t, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: noProxy });
    const h = await harness(t, { emulator });
    await exchange(h);
    assert.equal(proxy.used(), false, JSON.stringify({ requests: proxy.requests, tunnels: proxy.tunnels.map((x) => x.target) }));
  });
}

test('NO_PROXY for another port of the same host does not exempt the emulator', async (t) => {
  const proxy = await startProxy(t);
  const emulator = await startEmulator(t);
  const port = Number(new URL(emulator.wdmUrl).port);
  setEnvironment(t, { HTTP_PROXY: proxy.url, NO_PROXY: `127.0.0.1:${port === 65535 ? 1 : port + 1},localhost` });
  const h = await harness(t, { emulator });
  await exchange(h);
  assert.deepEqual([...proxiedRequests(proxy)].sort(), [...httpRequestsOf(h)].sort());
  assert.deepEqual(tunnelledRequests(proxy), upgradesOf(h));
});

test('only HTTPS_PROXY: http: and ws: targets (the emulator) connect directly', async (t) => {
  const proxy = await startProxy(t);
  setEnvironment(t, { HTTPS_PROXY: proxy.url });
  const h = await harness(t);
  await exchange(h);
  assert.equal(proxy.used(), false);
});

test('explicit `agent` and `dispatcher` are used instead of the environment', async (t) => {
  const proxy = await startProxy(t);
  setEnvironment(t, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url });
  const agent = new CountingAgent();
  defer(t, () => agent.destroy());
  const dispatcher = await countingDispatcher(t);
  const h = await harness(t, { agent, dispatcher });
  await exchange(h);
  assert.equal(proxy.used(), false);
  assert.equal(agent.connections, 1, 'the socket upgrade went through `agent`');
  assert.equal(dispatcher.dispatched, httpRequestsOf(h).length, 'every HTTP request went through `dispatcher`');
});

test('`dispatcher` alone replaces the environment for HTTP only: the socket still goes through the proxy', async (t) => {
  const proxy = await startProxy(t);
  setEnvironment(t, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url });
  const dispatcher = await countingDispatcher(t);
  const h = await harness(t, { dispatcher });
  await exchange(h);
  assert.deepEqual(proxy.requests, []);
  assert.equal(dispatcher.dispatched, httpRequestsOf(h).length);
  assert.deepEqual(tunnelledRequests(proxy), upgradesOf(h));
});

test('`agent` alone replaces the environment for the socket only: HTTP still goes through the proxy', async (t) => {
  const proxy = await startProxy(t);
  setEnvironment(t, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url });
  const agent = new CountingAgent();
  defer(t, () => agent.destroy());
  const h = await harness(t, { agent });
  await exchange(h);
  assert.deepEqual(proxy.tunnels, []);
  assert.equal(agent.connections, 1);
  assert.deepEqual([...proxiedRequests(proxy)].sort(), [...httpRequestsOf(h)].sort());
});

test('`proxy: false` ignores the environment', async (t) => {
  const proxy = await startProxy(t);
  setEnvironment(t, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url });
  const h = await harness(t, { proxy: false });
  await exchange(h);
  assert.equal(proxy.used(), false);
});

test('a proxy that cannot be reached: the bot does not open, and its warning says why', async (t) => {
  const port = await closedPort();
  setEnvironment(t, { HTTP_PROXY: `http://127.0.0.1:${port}` });
  const h = await harness(t);
  const warning = nextEvent(h.bot, 'warning');
  const started = h.bot.start().catch((error: unknown) => error);
  const [first] = (await warning) as [SparkBotError];
  assert.equal(first.code, 'CONNECT_FAILED');
  assert.match(first.message, new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
  assert.notEqual(h.bot.state, 'open');
  assert.deepEqual(h.emulator.requests, [], 'nothing reached the emulator');
  await h.bot.stop();
  await started;
});

test('https: and wss: targets go through a CONNECT tunnel carrying TLS: the request and the token reach the server, the proxy sees neither', async (t) => {
  const proxy = await startProxy(t);
  const server = await tlsServer(t);
  const secret = 'ZW52LXByb3h5LXRlc3QtdG9rZW4tMDEyMzQ1Njc4OQ_P0A1_org';
  // A child process: Node reads NODE_EXTRA_CA_CERTS (here, the test certificate) only when it starts.
  const client = fileURLToPath(new URL('../fixtures/env-proxy-client.ts', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', client, server.url], {
    cwd: fileURLToPath(new URL('../../', import.meta.url)),
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(https?|no|all)_proxy$/i.test(name))),
      HTTPS_PROXY: proxy.url,
      NODE_EXTRA_CA_CERTS: fileURLToPath(new URL('../fixtures/tls/self-signed.crt', import.meta.url)),
      TOKEN: secret,
    },
    timeout: 30_000,
  }).catch((error: Error & { stderr?: string }) => assert.fail(`the client failed: ${error.stderr ?? error.message}`));
  assert.deepEqual(JSON.parse(stdout.trim()), { status: 200, body: '{"id":"me"}', socket: 'open' });
  assert.deepEqual(
    server.requests,
    [['GET', '/v1/people/me', `Bearer ${secret}`]],
    'the request reached the server, with the token',
  );
  assert.deepEqual(server.upgrades, [`Bearer ${secret}`], 'so did the socket upgrade');

  const target = new URL(server.url).host;
  assert.deepEqual(
    proxy.tunnels.map((tunnel) => tunnel.target),
    [target, target],
    'one CONNECT tunnel for the request, one for the socket',
  );
  assert.deepEqual(proxy.requests, [], 'nothing in absolute form');
  for (const tunnel of proxy.tunnels) {
    assert.equal(tunnel.sent.charCodeAt(0), 0x16, 'the tunnel starts with a TLS handshake');
    assert.deepEqual(tunnel.requests, [], 'no request line in clear');
    assert.ok(!tunnel.sent.includes(secret.slice(0, 16)) && !tunnel.sent.includes(secret.slice(-16)), 'the token never crosses the proxy in clear');
  }
});

test('proxyFromEnvironment: which variable, which target, NO_PROXY entries', () => {
  const proxyFor = (env: NodeJS.ProcessEnv, url: string) => proxyFromEnvironment(env)?.proxyFor(url);
  const both = { HTTPS_PROXY: 'http://secure-proxy:3128', HTTP_PROXY: 'http://plain-proxy:3128' };

  assert.equal(proxyFromEnvironment({}), undefined, 'no proxy variable: nothing to do');
  assert.equal(proxyFromEnvironment({ NO_PROXY: '*' }), undefined);
  assert.equal(proxyFromEnvironment({ HTTPS_PROXY: '  ' }), undefined, 'blank is unset');

  assert.equal(proxyFor(both, 'https://wdm-a.wbx2.com/wdm/api/v1/devices'), 'http://secure-proxy:3128');
  assert.equal(proxyFor(both, 'wss://mercury-connection-a.wbx2.com/v1/apps/wx2/registrations'), 'http://secure-proxy:3128');
  assert.equal(proxyFor(both, 'http://127.0.0.1:8080/v1'), 'http://plain-proxy:3128', 'loopback is proxied unless listed');
  assert.equal(proxyFor(both, 'ws://127.0.0.1:8080/mercury'), 'http://plain-proxy:3128');
  assert.equal(proxyFor({ HTTPS_PROXY: 'http://p:1' }, 'http://example.com/'), undefined, 'HTTPS_PROXY is for https: and wss: only');
  assert.equal(proxyFor({ HTTP_PROXY: 'http://p:1' }, 'https://example.com/'), undefined, 'HTTP_PROXY is for http: and ws: only');

  assert.equal(proxyFor({ https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:1' }, 'https://x.com/'), 'http://lower:1', 'the lower-case name wins');
  assert.equal(proxyFor({ https_proxy: '', HTTPS_PROXY: 'http://upper:1' }, 'https://x.com/'), 'http://upper:1', 'a blank lower-case one is unset');
  assert.equal(proxyFor({ HTTPS_PROXY: 'proxy.corp:8080' }, 'https://x.com/'), 'http://proxy.corp:8080', 'no scheme: http://');
  assert.equal(proxyFor({ HTTPS_PROXY: 'https://proxy.corp' }, 'https://x.com/'), 'https://proxy.corp', 'a TLS proxy');

  const credentials = proxyFromEnvironment({ HTTPS_PROXY: 'http://user:s3cr3t-pw@proxy.corp:3128' });
  assert.equal(credentials?.proxyFor('https://x.com/'), 'http://proxy.corp:3128', 'never the credentials');
  assert.doesNotMatch(credentials?.summary ?? '', /s3cr3t|user/);
  assert.equal(credentials?.summary, 'https: http://proxy.corp:3128, http: direct, NO_PROXY: 0 entries');

  const direct = (noProxy: string, url: string) => proxyFor({ ...both, NO_PROXY: noProxy }, url) === undefined;
  assert.ok(direct('*', 'https://webex.com/'));
  assert.ok(direct('example.com', 'https://example.com/'));
  assert.ok(direct('example.com', 'https://api.example.com/'), 'a name covers its subdomains');
  assert.ok(!direct('example.com', 'https://badexample.com/'));
  assert.ok(direct('.example.com', 'https://example.com/'));
  assert.ok(direct('.example.com', 'https://a.b.example.com/'));
  assert.ok(direct('*.example.com', 'https://a.example.com/'));
  assert.ok(direct('EXAMPLE.com', 'https://Api.Example.COM/'), 'case does not matter');
  assert.ok(direct('example.com.', 'https://example.com/'), 'a trailing dot does not matter');
  assert.ok(direct('other.org, example.com', 'https://example.com/'), 'comma-separated');
  assert.ok(direct('other.org example.com', 'https://example.com/'), 'space-separated');
  assert.ok(direct('example.com:443', 'https://example.com/'), 'the default port of https:');
  assert.ok(direct('example.com:443', 'wss://example.com/'), 'the default port of wss:');
  assert.ok(!direct('example.com:8443', 'https://example.com/'), 'another port');
  assert.ok(direct('127.0.0.1', 'http://127.0.0.1:9999/'));
  assert.ok(direct('127.0.0.1:9999', 'ws://127.0.0.1:9999/'));
  assert.ok(!direct('127.0.0.1:9998', 'http://127.0.0.1:9999/'));
  assert.ok(!direct('localhost', 'http://127.0.0.1/'), 'names are not resolved');
  assert.ok(!direct('127.0.0.1', 'http://localhost/'));
  assert.ok(!direct('0.0.1', 'http://127.0.0.1/'), 'an address is matched whole, not as a suffix');
  assert.ok(direct('10.0.0.0/8', 'https://10.20.30.40/'), 'CIDR');
  assert.ok(!direct('10.0.0.0/8', 'https://11.0.0.1/'));
  assert.ok(direct('::1', 'http://[::1]:8080/'), 'IPv6');
  assert.ok(direct('[::1]', 'http://[::1]:8080/'));
  assert.ok(direct('[0:0:0:0:0:0:0:1]:8080', 'http://[::1]:8080/'), 'IPv6 with a port, in any spelling');
  assert.ok(!direct('[::1]:8081', 'http://[::1]:8080/'));
  assert.ok(direct('fd00::/8', 'https://[fd12::1]/'));
  assert.ok(!direct('', 'https://example.com/'), 'an empty NO_PROXY');
  assert.ok(direct('x.org', 'https://x.org/') && proxyFor({ ...both, no_proxy: 'x.org', NO_PROXY: 'y.org' }, 'https://y.org/') !== undefined, 'no_proxy wins over NO_PROXY');
});

test('proxyFromEnvironment: a proxy variable that is not a usable proxy URL fails the constructor, without showing its value', () => {
  const cases: Array<[NodeJS.ProcessEnv, RegExp]> = [
    [{ HTTPS_PROXY: 'http://user:hunter2@[not-an-address' }, /the HTTPS_PROXY environment variable is not a valid proxy URL/],
    [{ http_proxy: 'socks5://user:hunter2@proxy:1080' }, /the http_proxy environment variable names a socks5:\/\/ proxy: sparkbot supports http:\/\/ and https:\/\/ proxies only/],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => proxyFromEnvironment(env),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'INVALID_OPTION');
        assert.match(error.message, message);
        assert.doesNotMatch(error.message, /hunter2/);
        return true;
      },
    );
  }
});
