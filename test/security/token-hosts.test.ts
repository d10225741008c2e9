/**
 * The token goes only to the configured origins (wdmUrl, apiUrl, u2cUrl) and to the socket host
 * that WDM named (and socketHosts allows). A recorder server stands in for an attacker: it notes
 * every connection, Authorization header and socket frame it gets, and must get nothing.
 * (A socket host WDM names outside socketHosts: test/catalogue/wdm.test.ts.)
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { ApiError } from '../../src/index.js';
import { defer, harness, tempDir, waitForState } from '../support/helpers.js';
import { recorder } from '../fixtures/servers.js';

async function lastConnFile(t: Parameters<typeof tempDir>[0], device: { url: string; webSocketUrl: string }): Promise<string> {
  const lastConn = join(await tempDir(t), 'last-connection.json');
  await writeFile(lastConn, JSON.stringify({ version: 1, device: { ...device, savedAt: new Date().toISOString() } }), { mode: 0o600 });
  return lastConn;
}

test('a last-connection file naming a device on another host: nothing is sent there, a new device is registered', async (t) => {
  const attacker = await recorder(t);
  const lastConn = await lastConnFile(t, {
    url: `${attacker.url}/wdm/api/v1/devices/planted`,
    webSocketUrl: `${attacker.wsUrl}/v1/apps/wx2/registrations/planted/messages`,
  });
  const { bot, emulator, warnings } = await harness(t, { lastConn });
  await bot.start();
  assert.equal(bot.state, 'open');
  assert.equal(emulator.registrations.length, 1, 'a new registration on the configured WDM');
  assert.equal(warnings[0]?.code, 'STORE_ERROR');
  assert.match(warnings[0]?.message ?? '', /the last-connection file names a device on another host \(http:\/\/127\.0\.0\.1:\d+\); it is ignored and a new device is registered/);
  await bot.stop({ unregister: true });
  assert.equal(attacker.connections(), 0, 'the planted host was never contacted');
});

test('a last-connection file whose saved webSocketUrl points elsewhere: the socket URL comes from WDM, never from the file', async (t) => {
  const attacker = await recorder(t);
  const first = await harness(t, { lastConn: false });
  await first.bot.start();
  const device = first.bot.health().deviceUrl ?? '';
  await first.bot.stop();
  const lastConn = await lastConnFile(t, { url: device, webSocketUrl: `${attacker.wsUrl}/v1/apps/wx2/registrations/planted/messages` });
  const { bot, emulator, clock } = await harness(t, { lastConn, emulator: first.emulator, person: first.person });
  await bot.start();
  assert.equal(bot.health().deviceUrl, device, 'the saved device is reused');
  assert.equal(emulator.registrations.length, 1, 'no new registration');
  assert.equal(emulator.connections.length, 2, 'the socket opened on the host WDM names');
  assert.ok(emulator.connections[1]?.authorizedAt !== undefined);
  emulator.dropConnections({ code: 1011 }); // a reconnect reuses the device WDM confirmed, still not the file's URL
  await waitForState(bot, 'backoff');
  clock.runNext();
  await waitForState(bot, 'open');
  assert.equal(emulator.connections.length, 3);
  await bot.stop();
  assert.equal(attacker.connections(), 0);
  assert.deepEqual(attacker.frames, []);
});

test('REST: an absolute URL on another origin is refused before anything is sent', async (t) => {
  const attacker = await recorder(t);
  const { bot } = await harness(t);
  await assert.rejects(bot.api.request('GET', `${attacker.url}/v1/people/me`), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'API_ERROR');
    assert.match(error.message, /GET http:\/\/127\.0\.0\.1:\d+\/v1\/people\/me was not sent: the token goes only to the origins of wdmUrl, apiUrl and u2cUrl, and http:\/\/127\.0\.0\.1:\d+ is none of them/);
    return true;
  });
  assert.equal(attacker.connections(), 0);
});

test('REST: a next-page link to another origin is refused, and so is a redirect to another origin: the other server is never contacted', async (t) => {
  const attacker = await recorder(t);
  // apiUrl: a server that pages into the attacker's host, and redirects there.
  const api = createServer((req, res) => {
    if (req.url?.startsWith('/v1/rooms')) {
      res.writeHead(200, { 'content-type': 'application/json', link: `<${attacker.url}/v1/rooms?cursor=2>; rel="next"` });
      res.end(JSON.stringify({ items: [{ id: 'first-page' }] }));
    } else {
      res.writeHead(307, { location: `${attacker.url}/v1/stolen` });
      res.end();
    }
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', () => resolve()));
  defer(t, () => new Promise<void>((resolve) => api.close(() => resolve())));
  const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/v1`;
  const { bot, person } = await harness(t, { apiUrl, u2cUrl: false });

  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const room of bot.api.rooms.list()) seen.push(room.id);
    })(),
    /GET http:\/\/127\.0\.0\.1:\d+\/v1\/rooms\?cursor=2 was not sent: the token goes only to/,
  );
  assert.deepEqual(seen, ['first-page']);
  assert.equal(attacker.connections(), 0, 'the next link was not followed');

  // Before: fetch followed the redirect (without the token) and its answer was used as Webex's.
  await assert.rejects(bot.api.request('GET', 'people/me'), (error: unknown) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.code, 'API_ERROR');
    assert.match(error.message, new RegExp(`GET .*/v1/people/me was refused: it answered HTTP 307 with a redirect to ${attacker.url.replace(/\./g, '\\.')}, another origin; the answer of another server is not used, nor is the token sent there`));
    return true;
  });
  assert.equal(attacker.connections(), 0, 'the redirect was not followed');
  assert.ok(!JSON.stringify(attacker.requests).includes(person.token));
});

test('REST: a redirect within the API origin is followed (the method kept on 307), at most 5 times', async (t) => {
  const seen: Array<[string, string, string | undefined]> = [];
  const api = createServer((req, res) => {
    seen.push([req.method ?? '', req.url ?? '', req.headers.authorization]);
    if (req.url === '/v1/messages') {
      res.writeHead(307, { location: '/v1/messages-moved' });
      res.end();
    } else if (req.url === '/v1/messages-moved') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'moved', roomId: 'room' }));
    } else {
      res.writeHead(302, { location: '/v1/loop' });
      res.end();
    }
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', () => resolve()));
  defer(t, () => new Promise<void>((resolve) => api.close(() => resolve())));
  const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/v1`;
  const { bot, person } = await harness(t, { apiUrl, u2cUrl: false });
  const message = await bot.api.messages.create({ roomId: 'room', text: 'hi' });
  assert.equal(message.id, 'moved');
  assert.deepEqual(seen.map(([method, url]) => [method, url]), [['POST', '/v1/messages'], ['POST', '/v1/messages-moved']]);
  assert.ok(seen.every(([, , authorization]) => authorization === `Bearer ${person.token}`), 'the same origin gets the token');
  seen.length = 0;
  await assert.rejects(bot.api.request('GET', 'loop'), /GET .*\/v1\/loop was refused: it redirected more than 5 times/);
  assert.equal(seen.length, 6);
});
