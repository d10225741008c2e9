/**
 * The transport under ky (src/transport.ts): undici's request() over a keep-alive pool. Requests
 * reuse their connection; a JSON body, a query and a multipart body arrive as fetch sent them
 * (a Content-Length, no chunking); a Response of the transport still reads as a fetch Response;
 * and the pool does not keep the process alive.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { Http } from '../../src/http.js';
import { Redactor } from '../../src/log.js';
import { createTransport, takeBody } from '../../src/transport.js';
import { listen } from '../fixtures/servers.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

async function server(t: Parameters<typeof listen>[0], answer: (seen: Seen) => { status?: number; body?: string; headers?: Record<string, string> } = () => ({})) {
  const seen: Seen[] = [];
  let connections = 0;
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('latin1') };
      seen.push(entry);
      const { status = 200, body = '{"ok":true}', headers = { 'content-type': 'application/json' } } = answer(entry);
      res.writeHead(status, headers);
      res.end(status === 204 ? undefined : body);
    });
  });
  srv.on('connection', () => {
    connections += 1;
  });
  const { port } = await listen(t, srv);
  return { url: `http://127.0.0.1:${port}`, seen, connections: () => connections };
}

function http(origin: string): Http {
  const redactor = new Redactor();
  redactor.add('secret-token-of-the-bot');
  return new Http({ token: 'secret-token-of-the-bot', allowedOrigins: new Set([origin]), redactor, log: () => undefined, timeout: 5000 });
}

test('requests of one Http reuse their connection (keep-alive), in sequence and 8 at a time', async (t) => {
  const { url, connections } = await server(t);
  const client = http(url);
  for (let i = 0; i < 20; i++) assert.equal((await client.send({ method: 'GET', url: `${url}/v1/messages/${i}` })).status, 200);
  // undici's pool may open a second one when a request starts in the tick the last one ends.
  assert.ok(connections() <= 2, `one connection (two at most) for 20 requests in sequence: ${connections()}`);
  const before = connections();
  await Promise.all(Array.from({ length: 8 }, (_, i) => client.send({ method: 'GET', url: `${url}/v1/rooms/${i}` })));
  assert.ok(connections() - before <= 8, `at most one new connection per request at once (${connections() - before})`);
  const after = connections();
  for (let i = 0; i < 10; i++) await client.send({ method: 'GET', url: `${url}/v1/messages/${i}` });
  assert.equal(connections(), after, 'the pooled connections serve the next requests');
});

test('a JSON body, a query and the headers arrive as fetch sent them: Content-Length, the token, no chunking', async (t) => {
  const { url, seen } = await server(t);
  const client = http(url);
  await client.send({ method: 'POST', url: `${url}/v1/messages?dropped=1`, json: { text: 'héllo' }, searchParams: { max: 10, flag: true } });
  const [post] = seen;
  assert.equal(post?.method, 'POST');
  assert.equal(post?.url, '/v1/messages?max=10&flag=true', 'searchParams replace the query, as ky does');
  assert.equal(post?.body, Buffer.from(JSON.stringify({ text: 'héllo' })).toString('latin1'));
  assert.equal(post?.headers['content-type'], 'application/json');
  assert.equal(post?.headers['content-length'], String(Buffer.byteLength(JSON.stringify({ text: 'héllo' }))));
  assert.equal(post?.headers['transfer-encoding'], undefined);
  assert.equal(post?.headers.authorization, 'Bearer secret-token-of-the-bot');
  assert.equal(post?.headers.accept, 'application/json');
});

test('a multipart body has the bytes and the Content-Length of Node’s own encoding (boundary aside)', async (t) => {
  const { url, seen } = await server(t);
  const client = http(url);
  const form = () => {
    const f = new FormData();
    f.append('roomId', 'room\r\n"1"');
    f.append('files', new Blob([Buffer.from([0, 1, 2, 255])], { type: 'image/png' }), 'a "b".png');
    return f;
  };
  await client.send({ method: 'POST', url: `${url}/v1/messages`, form: form() });
  const sent = seen[0];
  assert.ok(sent !== undefined);
  const boundary = /boundary=(.+)$/.exec(String(sent.headers['content-type']))?.[1] ?? '';
  assert.match(String(sent.headers['content-type']), /^multipart\/form-data; boundary=/);
  assert.equal(sent.headers['content-length'], String(Buffer.byteLength(sent.body, 'latin1')));
  const node = new Response(form());
  const theirs = Buffer.from(await node.arrayBuffer()).toString('latin1');
  const theirBoundary = /boundary=(.+)$/.exec(node.headers.get('content-type') ?? '')?.[1] ?? '';
  assert.equal(sent.body.split(boundary).join('B'), theirs.split(theirBoundary).join('B'));
});

test('a Response of the transport reads as fetch’s: text(), json(), body, 204 without a body; takeBody gives the Node stream once', async (t) => {
  const { url } = await server(t, (seen) => (seen.url === '/empty' ? { status: 204 } : { body: '{"a":[1,2]}', headers: { 'content-type': 'application/json', 'x-many': 'one' } }));
  const transport = createTransport();
  const first = await transport.fetch(`${url}/json`);
  assert.equal(first.status, 200);
  assert.equal(first.ok, true);
  assert.equal(first.url, `${url}/json`);
  assert.equal(first.headers.get('x-many'), 'one');
  assert.deepEqual(await first.json(), { a: [1, 2] });
  assert.equal(first.bodyUsed, true);
  const second = await transport.fetch(new Request(`${url}/stream`));
  const reader = second.body?.getReader();
  const chunks: Uint8Array[] = [];
  for (;;) {
    const read = await reader!.read();
    if (read.done) break;
    chunks.push(read.value);
  }
  assert.equal(Buffer.concat(chunks).toString(), '{"a":[1,2]}');
  assert.equal(takeBody(second), undefined, 'the body was taken as a WHATWG stream already');
  const third = await transport.fetch(`${url}/raw`);
  const raw = takeBody(third);
  assert.ok(raw);
  assert.equal(takeBody(third), null, 'taken once');
  let text = '';
  for await (const chunk of raw) text += String(chunk);
  assert.equal(text, '{"a":[1,2]}');
  const empty = await transport.fetch(`${url}/empty`);
  assert.equal(empty.status, 204);
  assert.equal(empty.body, null);
  assert.equal(await empty.text(), '');
});

test('the keep-alive pool does not keep the process alive', () => {
  const script = `
    import { createServer } from 'node:http';
    import { Http } from './src/http.ts';
    import { Redactor } from './src/log.ts';
    const srv = createServer((req, res) => res.end('{}'));
    srv.listen(0, '127.0.0.1', async () => {
      const url = 'http://127.0.0.1:' + srv.address().port;
      const http = new Http({ token: 'secret-token-of-the-bot', allowedOrigins: new Set([url]), redactor: new Redactor(), log: () => {}, timeout: 5000 });
      for (let i = 0; i < 3; i++) await http.send({ method: 'GET', url: url + '/v1/people/me' });
      srv.close(); // waits for no idle connection of the client: only the client's unref keeps this short
      srv.closeIdleConnections?.();
      console.log('sent');
    });
  `;
  const started = Date.now();
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url), encoding: 'utf8', timeout: 20_000 });
  assert.equal(run.stdout.trim(), 'sent', run.stderr);
  assert.equal(run.status, 0, run.stderr);
  assert.ok(Date.now() - started < 15_000);
});

test('an answer compressed though nothing asked for it (a proxy, a CDN) is decoded, as fetch does: gzip, deflate, br', async (t) => {
  const json = JSON.stringify({ id: 'message-1', text: 'x'.repeat(2000) });
  const encoders = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync } as const;
  const srv = createServer((req, res) => {
    const encoding = (req.url ?? '').slice(1) as keyof typeof encoders;
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': encoding });
    res.end(encoders[encoding](json));
  });
  const { port } = await listen(t, srv);
  const url = `http://127.0.0.1:${port}`;
  const client = http(url);
  for (const encoding of Object.keys(encoders)) {
    const result = await client.send<{ id: string; text: string }>({ method: 'GET', url: `${url}/${encoding}` });
    assert.equal(result.status, 200, encoding);
    assert.deepEqual(result.body, JSON.parse(json), encoding);
    assert.equal(result.headers.get('content-encoding'), null, `${encoding}: the body is no longer encoded`);
  }
});
