/**
 * The test redis-server itself: it answers, restarts empty on the same port, comes back after a
 * kill, and stop() ends the process and nothing else. Raw RESP over node:net, no Redis client.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { startRedis } from './redis-server.js';

/** Length in bytes (characters of a latin1 string) of the first complete RESP reply in `text`, or -1 while it is incomplete. */
function replyLength(text: string, at = 0): number {
  const eol = text.indexOf('\r\n', at);
  if (eol < 0) return -1;
  const type = text[at];
  const head = eol + 2;
  if (type === '+' || type === '-' || type === ':') return head - at;
  const count = Number(text.slice(at + 1, eol));
  if (type === '$') {
    if (count < 0) return head - at;
    return text.length >= head + count + 2 ? head + count + 2 - at : -1;
  }
  if (type === '*') {
    let next = head;
    for (let i = 0; i < count; i++) {
      const length = replyLength(text, next);
      if (length < 0) return -1;
      next += length;
    }
    return next - at;
  }
  throw new Error(`unexpected RESP reply: ${JSON.stringify(text)}`);
}

/** Sends one command as a RESP array of bulk strings; resolves with the raw reply (`$-1\r\n` for nil). */
function command(port: number, ...args: string[]): Promise<string> {
  const request = `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to ${args[0]} within 2 s`));
    }, 2_000);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      // latin1: one character a byte, as RESP lengths count bytes; UTF-8 once whole.
      reply += chunk.toString('latin1');
      const length = replyLength(reply);
      if (length < 0) return;
      clearTimeout(timer);
      socket.end();
      resolve(Buffer.from(reply.slice(0, length), 'latin1').toString('utf8'));
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** The code of the error connecting to `port` fails with (undefined when it connects). */
function connectError(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** True when a listener can take `port` on 127.0.0.1 now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.on('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Pids of redis-server processes serving `port` (Linux: redis sets its title to `redis-server 127.0.0.1:PORT`). */
async function redisPids(port: number): Promise<number[]> {
  if (!existsSync('/proc')) return [];
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(join('/proc', entry, 'cmdline'), 'utf8').catch(() => '');
    if (cmdline.includes('redis-server') && (cmdline.includes(`:${port}`) || cmdline.includes(`\0${port}\0`))) pids.push(Number(entry));
  }
  return pids;
}

test('a started redis-server answers PING', async (t) => {
  const redis = await startRedis(t);
  if (!redis) return;
  assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
  assert.equal(await command(redis.port, 'PING'), '+PONG\r\n');
  assert.equal(await command(redis.port, 'ECHO', 'hé'), `$${Buffer.byteLength('hé')}\r\nhé\r\n`);
});

test('restart() comes back on the same port, without the data', async (t) => {
  const redis = await startRedis(t);
  if (!redis) return;
  const { port, url } = redis;
  assert.equal(await command(port, 'SET', 'sparkbot:key', 'value'), '+OK\r\n');
  assert.equal(await command(port, 'GET', 'sparkbot:key'), '$5\r\nvalue\r\n');
  await redis.restart();
  assert.equal(redis.port, port);
  assert.equal(redis.url, url);
  assert.equal(await command(port, 'GET', 'sparkbot:key'), '$-1\r\n');
  assert.equal(await command(port, 'DBSIZE'), ':0\r\n');
});

test('kill() makes connections fail; start() brings it back on the same port', async (t) => {
  const redis = await startRedis(t);
  if (!redis) return;
  const { port } = redis;
  await redis.kill();
  assert.equal(await connectError(port), 'ECONNREFUSED');
  await assert.rejects(command(port, 'PING'));
  await redis.kill(); // not running: nothing to do
  await redis.start();
  assert.equal(redis.port, port);
  assert.equal(await command(port, 'PING'), '+PONG\r\n');
  await redis.start(); // running: nothing to do
  assert.equal(await command(port, 'PING'), '+PONG\r\n');
});

test('stop() ends the process and removes nothing else', async (t) => {
  const redis = await startRedis(t);
  const other = await startRedis(t);
  if (!redis || !other) return;
  assert.notEqual(redis.port, other.port);
  assert.notEqual(redis.dir, other.dir);
  const kept = join(redis.dir, 'kept.txt');
  await writeFile(kept, 'still here');
  if (existsSync('/proc')) assert.equal((await redisPids(redis.port)).length, 1);

  await redis.stop();
  assert.equal(await readFile(kept, 'utf8'), 'still here');
  assert.deepEqual(await readdir(redis.dir), ['kept.txt']);
  assert.equal(await connectError(redis.port), 'ECONNREFUSED');
  assert.equal(await canListen(redis.port), true);
  assert.deepEqual(await redisPids(redis.port), []);
  // The other server is untouched.
  assert.equal(await command(other.port, 'PING'), '+PONG\r\n');
  assert.ok(existsSync(other.dir));
  await redis.stop(); // stopped: nothing to do
});
