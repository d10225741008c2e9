/**
 * What real Webex clients need of the emulator (protocol §10–§11), checked over loopback with
 * plain HTTP and WebSocket clients: the official SDK, webex-node-bot-framework and the Perl seed
 * failed on each of these before (interop/ runs those clients themselves).
 */
import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import WebSocket from 'ws';
import type { WebexEmulator } from '../../src/emulator/index.js';
import type { EmulatedPerson } from '../../src/emulator/index.js';
import { startEmulator } from '../support/helpers.js';

const get = async (emulator: WebexEmulator, path: string, token?: string): Promise<{ status: number; body: Record<string, unknown> }> => {
  const res = await fetch(`${emulator.url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

/** Registers a device for `person` and opens its socket, authorized and ready (buffer_state seen). */
async function device(t: TestContext, emulator: WebexEmulator, person: EmulatedPerson): Promise<{ uuid: string; ws: WebSocket; frames: Array<Record<string, unknown>> }> {
  const res = await fetch(emulator.wdmUrl, { method: 'POST', headers: { authorization: `Bearer ${person.token}`, 'content-type': 'application/json' }, body: '{"deviceType":"DESKTOP"}' });
  const json = (await res.json()) as { url: string; webSocketUrl: string };
  const ws = new WebSocket(json.webSocketUrl);
  t.after(() => ws.terminate());
  const frames: Array<Record<string, unknown>> = [];
  ws.on('message', (data) => frames.push(JSON.parse(data.toString()) as Record<string, unknown>));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ id: 'auth-1', type: 'authorization', data: { token: `Bearer ${person.token}` } }));
  const uuid = json.url.split('/').pop() as string;
  await emulator.waitFor(() => emulator.openConnections(uuid).some((c) => c.readyAt !== undefined), { what: 'mercury.buffer_state sent' });
  return { uuid, ws, frames };
}

/** A WebSocket client on a bare TCP socket, to send close codes the `ws` client refuses to send (1005, as the Perl seed does). */
async function rawSocket(t: TestContext, url: string): Promise<{ socket: Socket; close: (code: number) => void; received: () => Buffer }> {
  const { hostname, port, pathname } = new URL(url);
  const socket = tcpConnect(Number(port), hostname);
  t.after(() => socket.destroy());
  let data = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    data = Buffer.concat([data, chunk]);
  });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await new Promise<void>((resolve) => {
    const check = () => (data.includes('\r\n\r\n') ? resolve() : socket.once('data', check));
    check();
  });
  assert.match(data.toString('latin1'), /^HTTP\/1\.1 101/);
  data = data.subarray(data.indexOf('\r\n\r\n') + 4);
  const close = (code: number) => {
    const mask = Buffer.from([1, 2, 3, 4]);
    const payload = Buffer.from([code >> 8, code & 0xff]).map((b, i) => b ^ (mask[i % 4] as number));
    socket.write(Buffer.concat([Buffer.from([0x88, 0x80 | 2]), mask, payload]));
  };
  return { socket, close, received: () => data };
}

test('the U2C host map lists each host under its bare name and under host:port (SDK 3.x looks up one, webex 2.x the other)', async (t) => {
  const emulator = await startEmulator(t);
  const { token } = emulator.createUser({ displayName: 'Alice' });
  const { host, hostname } = new URL(emulator.url);
  for (const path of ['/u2c/api/v1/catalog?format=hostmap', '/u2c/api/v1/limited/catalog?format=hostmap']) {
    const { body } = await get(emulator, path, token);
    const catalog = body.hostCatalog as Record<string, Array<{ host: string; id: string }>>;
    assert.deepEqual(Object.keys(catalog).sort(), [host, hostname].sort(), path);
    for (const key of [host, hostname]) {
      assert.deepEqual(catalog[key]?.map((e) => e.id.split(':').pop()), ['wdm', 'conversation', 'hydra'], `${path} ${key}`);
      assert.ok(catalog[key]?.every((e) => e.host === hostname), 'the entries name the bare host: the clients add the port');
    }
  }
});

test('GET /v1/people?id=<ids> answers those people only, and nobody for an id that names nobody', async (t) => {
  const emulator = await startEmulator(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  const bob = emulator.createUser({ displayName: 'Bob' });
  emulator.createUser({ displayName: 'Carol' });
  const ids = (body: Record<string, unknown>) => (body.items as Array<{ id: string }>).map((p) => p.id);
  assert.deepEqual(ids((await get(emulator, `/v1/people?id=${bob.id}&showAllTypes=false`, alice.token)).body), [bob.id]);
  assert.deepEqual(ids((await get(emulator, `/v1/people?id=${alice.id},${bob.id}`, alice.token)).body).sort(), [alice.id, bob.id].sort());
  assert.deepEqual(ids((await get(emulator, `/v1/people?id=Y2lzY29zcGFyazovL3VzL1BFT1BMRS9ub2JvZHk`, alice.token)).body), []);
  assert.equal(ids((await get(emulator, '/v1/people', alice.token)).body).length, 3, 'no id: everyone, as before');
});

test("activities carry the people's orgId, a top-level url on a host of the catalog, and a create carries the conversation's url and tags", async (t) => {
  const emulator = await startEmulator(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  const bot = emulator.createBot({ displayName: 'Helper' });
  const carol = emulator.createUser({ displayName: 'Carol' });
  const room = emulator.createRoom({ title: 'Launch', members: [alice, bot] });
  emulator.addMember(room, carol, alice);
  const activities = emulator.events.filter((e) => e.personUuid === bot.uuid).map((e) => e.data.activity as Record<string, any>);
  const [create, add] = activities;
  assert.equal(create?.verb, 'create');
  assert.equal(create.object.url, `${emulator.url}/conversation/api/v1/conversations/${room.uuid}`);
  assert.deepEqual(create.object.tags, []);
  assert.equal(create.actor.orgId, alice.orgId);
  assert.ok(create.object.participants.items.every((p: { orgId?: string }) => p.orgId === alice.orgId));
  assert.equal(add?.verb, 'add');
  assert.equal(add.object.orgId, carol.orgId);
  for (const activity of [create, add]) {
    assert.equal(activity.url, `${emulator.url}/conversation/api/v1/activities/${activity.id}`);
    const { body } = await get(emulator, '/u2c/api/v1/catalog?format=hostmap', alice.token);
    assert.ok(new URL(activity.url).host in (body.hostCatalog as object), 'the activity host is one the catalog maps');
  }
});

test('a bot gets the group-room messages and files that @mention it (and its own), every direct message, and nothing else', async (t) => {
  const emulator = await startEmulator(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  const bob = emulator.createUser({ displayName: 'Bob' });
  const bot = emulator.createBot({ displayName: 'Helper' });
  const room = emulator.createRoom({ title: 'Team', members: [alice, bob, bot] });
  const heard = (person: EmulatedPerson) =>
    emulator.events
      .filter((e) => e.personUuid === person.uuid && ['post', 'share'].includes((e.data.activity as { verb: string }).verb))
      .map((e) => (e.data.activity as { object: { displayName: string } }).object.displayName);
  emulator.postMessage({ from: alice, room, text: 'lunch?' });
  emulator.postMessage({ from: alice, room, text: 'Helper what is for lunch?', mentions: [bot] });
  emulator.postMessage({ from: bob, room, text: 'Alice pizza', mentions: [alice] });
  emulator.shareFile({ from: alice, room, text: 'the menu', files: ['menu.pdf'] });
  emulator.shareFile({ from: alice, room, text: 'Helper read this', files: ['menu.pdf'], mentions: [bot] });
  emulator.postMessage({ from: bot, room, text: 'pizza it is' });
  emulator.postMessage({ from: alice, toPerson: bot, text: 'and dessert?' });
  assert.deepEqual(heard(bot), ['Helper what is for lunch?', 'Helper read this', 'pizza it is', 'and dessert?']);
  assert.deepEqual(heard(bob), ['lunch?', 'Helper what is for lunch?', 'Alice pizza', 'the menu', 'Helper read this', 'pizza it is'], 'people get everything in their rooms');
  const updates = (person: EmulatedPerson) => emulator.events.filter((e) => e.personUuid === person.uuid && (e.data.activity as { verb: string }).verb === 'update').length;
  const unseen = emulator.shareFile({ from: alice, room, text: 'scanned later', files: ['a.pdf'], scan: 'pending' });
  emulator.finishScan(String(unseen.id), 'safe');
  assert.equal(updates(bot), 0, "the scan's verdict on a file that did not mention the bot does not reach it either");
  assert.equal(updates(bob), 1);
  const seen = emulator.shareFile({ from: alice, room, text: 'Helper scanned later', files: ['b.pdf'], scan: 'pending', mentions: [bot] });
  emulator.finishScan(String(seen.id), 'safe');
  assert.equal(updates(bot), 1);
  const mention = emulator.events.filter((e) => e.personUuid === bot.uuid).map((e) => e.data.activity as { verb: string; object: { mentions?: { items: Array<{ id: string }> } } })[1];
  assert.deepEqual(mention?.object.mentions?.items.map((m) => m.id), [bot.uuid], 'the activity names who it mentions');
});

test('close records: a client close code the server refuses (1005, as the Perl seed sends) is the client’s; a server close keeps its code whatever the client answers', async (t) => {
  const emulator = await startEmulator(t);
  const person = emulator.createBot({ displayName: 'Seed' });
  const registered = async () => {
    const res = await fetch(emulator.wdmUrl, { method: 'POST', headers: { authorization: `Bearer ${person.token}` }, body: '{}' });
    return ((await res.json()) as { webSocketUrl: string }).webSocketUrl;
  };
  const first = await rawSocket(t, await registered());
  await emulator.waitFor(() => emulator.connections.length === 1);
  first.close(1005);
  await emulator.waitFor(() => emulator.connections[0]?.closedAt !== undefined, { what: 'the close' });
  assert.deepEqual(pick(emulator.connections[0]), { closeCode: 1005, closedBy: 'client', clientCloseCode: 1005 });

  const second = await rawSocket(t, await registered());
  await emulator.waitFor(() => emulator.openConnections().length === 1);
  emulator.dropConnections({ code: 4000, reason: 'replaced' });
  await new Promise<void>((resolve) => {
    const check = () => (second.received().length >= 4 ? resolve() : second.socket.once('data', check));
    check();
  });
  second.close(1005); // the client answers the server's close with a code the server refuses
  await emulator.waitFor(() => emulator.connections[1]?.closedAt !== undefined, { what: 'the close' });
  assert.deepEqual(pick(emulator.connections[1]), { closeCode: 4000, closedBy: 'server', clientCloseCode: 1005 });
  assert.equal(emulator.connections[1]?.closeReason, 'replaced');

  const third = await device(t, emulator, person);
  third.ws.close(1000, 'Done');
  await emulator.waitFor(() => emulator.connections[2]?.closedAt !== undefined, { what: 'the close' });
  assert.deepEqual(pick(emulator.connections[2]), { closeCode: 1000, closedBy: 'client', clientCloseCode: 1000 });
  assert.equal(emulator.connections[2]?.closeReason, 'Done');

  // The client closes (1000) and keeps its TCP link up: a server close now sends nothing and changes no record.
  const fourth = await rawSocket(t, await registered());
  await emulator.waitFor(() => emulator.connections.length === 4);
  fourth.close(1000);
  await new Promise<void>((resolve) => {
    const check = () => (fourth.received().length >= 4 ? resolve() : fourth.socket.once('data', check));
    check();
  });
  assert.equal(emulator.dropConnections({ code: 4000 }), 0, 'nothing to drop: its close is under way');
  fourth.socket.destroy();
  await emulator.waitFor(() => emulator.connections[3]?.closedAt !== undefined, { what: 'the close' });
  assert.deepEqual(pick(emulator.connections[3]), { closeCode: 1000, closedBy: 'client', clientCloseCode: 1000 });
});

const pick = (record: { closeCode?: number; closedBy?: string; clientCloseCode?: number } | undefined) => ({
  closeCode: record?.closeCode,
  closedBy: record?.closedBy,
  clientCloseCode: record?.clientCloseCode,
});

test('client frames other than pings and acks are recorded (the token of an authorization hidden), and so are request headers', async (t) => {
  const emulator = await startEmulator(t);
  const person = emulator.createBot({ displayName: 'Chatty' });
  const { ws } = await device(t, emulator, person);
  ws.send(JSON.stringify({ id: 'x1', type: 'subscribe', data: { topic: 'presence' } }));
  ws.send('not json');
  ws.send(Buffer.from([1, 2, 3]));
  ws.send(JSON.stringify({ id: 'p1', type: 'ping' }));
  await emulator.waitFor(() => emulator.pings.length === 1, { what: 'the ping' });
  assert.deepEqual(
    emulator.clientFrames.map(({ type, json, raw, binary }) => ({ type, json, raw, binary })),
    [
      { type: 'authorization', json: { id: 'auth-1', type: 'authorization', data: { token: 'Bearer [redacted]' } }, raw: undefined, binary: false },
      { type: 'subscribe', json: { id: 'x1', type: 'subscribe', data: { topic: 'presence' } }, raw: undefined, binary: false },
      { type: undefined, json: undefined, raw: 'not json', binary: false },
      { type: undefined, json: undefined, raw: Buffer.from([1, 2, 3]).toString('base64'), binary: true },
    ],
  );
  const registration = emulator.requests.find((r) => r.method === 'POST' && r.path === '/wdm/api/v1/devices');
  assert.equal(registration?.headers['content-type'], 'application/json');
  assert.equal(registration?.headers.authorization, 'Bearer [redacted]');
  assert.equal(registration?.personId, person.id);
  const handshake = emulator.requests.find((r) => r.method === 'WS');
  assert.equal(handshake?.headers.upgrade, 'websocket');
  await fetch(`${emulator.apiUrl}/people/me`, { headers: { authorization: person.token } }); // no scheme
  assert.equal(emulator.requests.at(-1)?.headers.authorization, '[redacted]');
  assert.ok(!JSON.stringify(emulator.requests).includes(person.token) && !JSON.stringify(emulator.clientFrames).includes(person.token));
});

test('pending envelopes expire after envelopeTtl and past maxPendingPerDevice; unused devices after deviceTtl (an open socket keeps its device)', async (t) => {
  let clock = Date.now();
  const emulator = await startEmulator(t, { envelopeTtl: 60_000, deviceTtl: 600_000, maxPendingPerDevice: 3, now: () => clock });
  const alice = emulator.createUser({ displayName: 'Alice' });
  const gone = emulator.createBot({ displayName: 'Gone' });
  const here = emulator.createBot({ displayName: 'Here' });
  await fetch(emulator.wdmUrl, { method: 'POST', headers: { authorization: `Bearer ${gone.token}` }, body: '{}' });
  const [goneDevice] = emulator.devicesOf(gone);
  assert.ok(goneDevice);
  const live = await device(t, emulator, here);
  const expired: unknown[] = [];
  emulator.on('expired', (record) => expired.push(record));

  emulator.postMessage({ from: alice, toPerson: gone, text: 'one' });
  clock += 30_000;
  emulator.postMessage({ from: alice, toPerson: gone, text: 'two' });
  assert.equal(goneDevice.pending.size, 2, 'nobody acked: both pending');
  clock += 30_000; // 'one' is 60 s old
  assert.deepEqual(emulator.expire().envelopes, 1);
  assert.deepEqual([...goneDevice.pending.values()].map((e) => ((e.data as { activity: { object: { displayName: string } } }).activity.object.displayName)), ['two']);

  for (const text of ['three', 'four', 'five']) emulator.postMessage({ from: alice, toPerson: gone, text });
  assert.deepEqual([...goneDevice.pending.values()].map((e) => ((e.data as { activity: { object: { displayName: string } } }).activity.object.displayName)), ['three', 'four', 'five'], 'the oldest go past the bound');

  clock += 600_000;
  const record = emulator.expire();
  assert.deepEqual(record.devices, [goneDevice.uuid], 'the unused device, not the one with a socket open');
  assert.equal(record.envelopes, 3, 'its envelopes with it');
  assert.equal(emulator.devices.has(goneDevice.uuid), false);
  assert.equal(emulator.devices.has(live.uuid), true);
  const refused = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(goneDevice.webSocketUrl);
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => reject(new Error('the socket of a forgotten device opened')));
    ws.once('error', () => undefined);
  });
  assert.equal(refused, 404, 'the forgotten device has no socket any more');
  assert.equal(expired.length, 2, "each expiry that dropped something is announced with an 'expired' event");
  await assert.rejects(startEmulator(t, { envelopeTtl: 0 }), /envelopeTtl must be a positive number, got 0/);
});
