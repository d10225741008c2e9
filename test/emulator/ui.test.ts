/**
 * The emulator's chat page over real HTTP (no browser: the Playwright tests drive the page itself):
 * the page and its assets, the JSON API a person acts through, the event stream, the fault buttons'
 * endpoints, the guards, and that no token ever reaches the page.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { test, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import type { WebexEmulator } from '../../src/emulator/index.js';
import type { ReceivedCardAction, ReceivedMessage } from '../../src/index.js';
import { defer, harness, secretPieces, startEmulator, waitForState } from '../support/helpers.js';

const UI = { 'x-sparkbot-ui': '1' };

/** Every answer of the page's server this test read, to look for tokens in. */
const seen: string[] = [];

async function get(emulator: WebexEmulator, path: string): Promise<{ status: number; type: string; text: string; json: any }> {
  const response = await fetch(`${emulator.url}${path}`);
  const text = await response.text();
  seen.push(text);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, type: response.headers.get('content-type') ?? '', text, json };
}

async function post(emulator: WebexEmulator, path: string, body: unknown, headers: Record<string, string> = UI): Promise<{ status: number; json: any }> {
  const response = await fetch(`${emulator.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await response.text();
  seen.push(text);
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}

interface UiEvent {
  readonly event: string;
  readonly data: any;
}

/** The page's event stream, read as the browser's EventSource reads it. */
async function events(t: TestContext, emulator: WebexEmulator) {
  const controller = new AbortController();
  const response = await fetch(`${emulator.url}/ui/events`, { signal: controller.signal });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const received: UiEvent[] = [];
  let raw = '';
  const waiting = new Set<() => void>();
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        const text = decoder.decode(chunk, { stream: true });
        raw += text;
        buffer += text;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) received.push({ event, data: JSON.parse(data) });
          for (const poke of [...waiting]) poke();
        }
      }
    } catch {
      // aborted at the end of the test
    }
  })();
  defer(t, () => controller.abort());
  const next = (predicate: (e: UiEvent) => boolean, what: string, timeout = 5_000): Promise<UiEvent> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = received.find(predicate);
        if (!found) return;
        done();
        resolve(found);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${what} on the event stream (got: ${received.map((e) => e.event).join(', ')})`));
      }, timeout);
      const done = () => {
        clearTimeout(timer);
        waiting.delete(check);
      };
      waiting.add(check);
      check();
    });
  await next((e) => e.event === 'hello', 'hello');
  return { received, next, raw: () => raw };
}

test('the page and its assets are served at / and /ui/…, with their types; the Adaptive Cards renderer is vendored with its license', async (t) => {
  const emulator = await startEmulator(t);
  assert.equal(emulator.uiUrl, `${emulator.url}/`);
  const page = await get(emulator, '/');
  assert.equal(page.status, 200);
  assert.equal(page.type, 'text/html; charset=utf-8');
  const app = await get(emulator, '/ui/app.js');
  assert.equal(app.status, 200);
  assert.equal(app.type, 'text/javascript; charset=utf-8');
  const css = await get(emulator, '/ui/style.css');
  assert.equal(css.status, 200);
  assert.equal(css.type, 'text/css; charset=utf-8');
  assert.equal((await get(emulator, '/ui/favicon.svg')).type, 'image/svg+xml');
  // The data-testid contract the Playwright tests rely on.
  const markup = page.text + app.text;
  for (const id of [
    'identity-select',
    'new-user-name',
    'room-list',
    'room-item',
    'message-list',
    'message',
    'composer',
    'send',
    'file-input',
    'reply-button',
    'thread',
    'card',
    'fault-drop',
    'fault-freeze',
    'fault-429',
    'fault-restart',
    'activity-log',
    'machine-panel',
  ]) {
    assert.ok(markup.includes(`'data-testid': '${id}'`) || markup.includes(`data-testid="${id}"`), `data-testid ${id}`);
  }
  assert.match(app.text, /'data-message-id'/);
  assert.match(app.text, /'data-author'/);
  assert.match(app.text, /'data-room-id'/);
  // Offline: nothing from another host.
  assert.doesNotMatch(page.text, /(src|href)="(https?:)?\/\//);
  assert.match(page.text, /src="\/ui\/vendor\/adaptivecards\.min\.js"/);

  const renderer = await get(emulator, '/ui/vendor/adaptivecards.min.js');
  assert.equal(renderer.status, 200);
  assert.equal(renderer.type, 'text/javascript; charset=utf-8');
  assert.ok(renderer.text.length > 100_000, `the renderer bundle (${renderer.text.length} bytes)`);
  assert.match(renderer.text, /AdaptiveCards/);
  const license = await get(emulator, '/ui/vendor/adaptivecards.LICENSE');
  assert.equal(license.status, 200);
  assert.match(license.text, /MIT License[\s\S]*Microsoft/);

  assert.equal((await get(emulator, '/ui/nothing.js')).status, 404);
  assert.equal(emulator.requests.length, 0, 'the page is no part of the emulated Webex: not in the records');
  // Paths that climb out of the page's folder: what the URL parser leaves of them is no file of it.
  for (const path of ['/ui/%2e%2e/%2e%2e/package.json', '/ui/..%2f..%2fpackage.json', '/ui/vendor/..%5c..%5capp.js', '/ui/.%2e/ui.ts']) {
    const answer = await get(emulator, path);
    assert.notEqual(answer.status, 200, path);
    assert.doesNotMatch(answer.text, /"name": "sparkbot"|EmulatorUi/, path);
  }
});

test('ui: false answers 404 at / and under /ui/, and the emulated Webex works as before', async (t) => {
  const emulator = await startEmulator(t, { ui: false });
  assert.equal((await get(emulator, '/')).status, 404);
  assert.equal((await get(emulator, '/ui/app.js')).status, 404);
  assert.equal((await get(emulator, '/ui/api/people')).status, 404);
  const { token } = emulator.createBot({ displayName: 'Still Here' });
  assert.equal((await fetch(`${emulator.apiUrl}/people/me`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
});

test('the API lists people, the rooms of a person with their members, and the messages of a room with their thread parents', async (t) => {
  const emulator = await startEmulator(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  const bob = emulator.createUser({ displayName: 'Bob' });
  const bot = emulator.createBot({ displayName: 'Echo Bot' });
  const room = emulator.createRoom({ title: 'Team', members: [alice, bob, bot] });
  const direct = emulator.directRoom(alice, bot);
  const first = emulator.postMessage({ from: bob, room, text: 'hi all' });
  emulator.postMessage({ from: alice, room, text: 'hi Bob', parentId: first.id });

  const people = await get(emulator, '/ui/api/people');
  assert.deepEqual(
    people.json.items.map((p: any) => [p.displayName, p.type, p.id]),
    [
      ['Alice', 'person', alice.id],
      ['Bob', 'person', bob.id],
      ['Echo Bot', 'bot', bot.id],
    ],
  );
  const rooms = await get(emulator, `/ui/api/rooms?as=${encodeURIComponent(alice.id)}`);
  const byId = new Map(rooms.json.items.map((r: any) => [r.id, r]));
  assert.deepEqual([...byId.keys()].sort(), [room.id, direct.id].sort());
  assert.equal((byId.get(direct.id) as any).title, 'Echo Bot', "a direct room is named after the other person");
  assert.equal((byId.get(direct.id) as any).type, 'direct');
  assert.deepEqual((byId.get(room.id) as any).members.map((m: any) => m.displayName), ['Alice', 'Bob', 'Echo Bot']);

  const messages = await get(emulator, `/ui/api/messages?as=${encodeURIComponent(alice.id)}&roomId=${encodeURIComponent(room.id)}`);
  assert.deepEqual(
    messages.json.items.map((m: any) => [m.author, m.text, m.parentId]),
    [
      ['Bob', 'hi all', undefined],
      ['Alice', 'hi Bob', first.id],
    ],
  );

  // A person outside the room sees nothing of it; the page acts as users only.
  const carol = emulator.createUser({ displayName: 'Carol' });
  assert.equal((await get(emulator, `/ui/api/messages?as=${encodeURIComponent(carol.id)}&roomId=${encodeURIComponent(room.id)}`)).status, 404);
  assert.equal((await get(emulator, `/ui/api/rooms?as=${encodeURIComponent(bot.id)}`)).status, 403);
  assert.equal((await get(emulator, '/ui/api/rooms?as=nobody')).status, 404);

  // A new person by display name; a group room and a direct room made from the page.
  const dave = await post(emulator, '/ui/api/people', { displayName: 'Dave' });
  assert.equal(dave.status, 200);
  assert.equal(dave.json.displayName, 'Dave');
  assert.equal(dave.json.token, undefined);
  assert.equal((await post(emulator, '/ui/api/people', { displayName: '  ' })).status, 400);
  const made = await post(emulator, '/ui/api/rooms', { as: dave.json.id, title: 'Dave and the bot', members: [bot.id] });
  assert.deepEqual(made.json.members.map((m: any) => m.displayName), ['Dave', 'Echo Bot']);
  const dm = await post(emulator, '/ui/api/direct', { as: dave.json.id, with: alice.id });
  assert.equal(dm.json.type, 'direct');
  assert.equal(dm.json.title, 'Alice');
  const added = await post(emulator, '/ui/api/members', { as: dave.json.id, roomId: made.json.id, personId: carol.id });
  assert.deepEqual(added.json.members.map((m: any) => m.displayName), ['Dave', 'Echo Bot', 'Carol']);
});

test("a message posted through the API reaches a real SparkBot as a 'message' event; a reply through the API lands in the thread", async (t) => {
  const { emulator, bot, person, until } = await harness(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  const received: ReceivedMessage[] = [];
  bot.on('message', (message) => received.push(message));
  await bot.start();
  const dm = await post(emulator, '/ui/api/direct', { as: alice.id, with: person.id });
  const sent = await post(emulator, '/ui/api/messages', { as: alice.id, roomId: dm.json.id, text: 'hello bot' });
  assert.equal(sent.status, 200);
  assert.equal(sent.json.author, 'Alice');
  await until(() => received.length === 1, "the bot's message event");
  assert.equal(received[0]?.text, 'hello bot');
  assert.equal(received[0]?.personId, alice.id);
  assert.equal(received[0]?.roomId, dm.json.id);

  const reply = await post(emulator, '/ui/api/messages', { as: alice.id, roomId: dm.json.id, markdown: '**again**, in the thread', parentId: sent.json.id });
  assert.equal(reply.json.parentId, sent.json.id);
  await until(() => received.length === 2, 'the thread reply');
  assert.equal(received[1]?.parentId, sent.json.id);
  assert.equal(received[1]?.markdown, '**again**, in the thread');
  assert.equal(received[1]?.text, 'again, in the thread', 'the plain text beside the markdown, as a Webex client sends');
  assert.equal((await post(emulator, '/ui/api/messages', { as: alice.id, roomId: dm.json.id, text: ' ' })).status, 400);
});

test('in a group room, typing "@Display Name" makes a real mention that reaches the bot; a message without one does not', async (t) => {
  const { emulator, bot, person, until } = await harness(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  const received: ReceivedMessage[] = [];
  bot.on('message', (message) => received.push(message));
  await bot.start();
  const room = emulator.createRoom({ title: 'Team', members: [alice, person] });
  await post(emulator, '/ui/api/messages', { as: alice.id, roomId: room.id, text: 'nobody mentioned' });
  const sent = await post(emulator, '/ui/api/messages', { as: alice.id, roomId: room.id, text: '@Test Bot /status please' });
  assert.equal(sent.json.text, 'Test Bot /status please', 'the @ goes, the name stays, as a Webex client writes it');
  assert.deepEqual(sent.json.mentions, [{ id: person.id, displayName: 'Test Bot' }]);
  await until(() => received.length >= 1, 'the mention reaching the bot');
  assert.equal(received.length, 1);
  assert.equal(received[0]?.text, 'Test Bot /status please');
  assert.deepEqual(received[0]?.mentionedPeople, [person.id]);
  // Picking a person (mentions: [id]) mentions them too.
  await post(emulator, '/ui/api/messages', { as: alice.id, roomId: room.id, text: 'picked', mentions: [person.id] });
  await until(() => received.length === 2, 'the picked mention reaching the bot');
  assert.equal(received[1]?.text, 'picked');
});

test("a card submitted through the API reaches the bot's 'cardAction'; the event stream pushes the bot's reply", async (t) => {
  const { emulator, bot, person } = await harness(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  bot.command('vote', ({ reply }) =>
    reply({
      fallbackText: 'a vote',
      card: { type: 'AdaptiveCard', version: '1.2', body: [{ type: 'Input.Text', id: 'choice' }], actions: [{ type: 'Action.Submit', title: 'Vote', data: { action: 'vote' } }] },
    }),
  );
  const actions: ReceivedCardAction[] = [];
  bot.on('cardAction', (action) => {
    actions.push(action);
    void action.reply(`counted ${String(action.inputs.choice)}`);
  });
  await bot.start();
  const stream = await events(t, emulator);
  const room = emulator.directRoom(alice, person);
  await post(emulator, '/ui/api/messages', { as: alice.id, roomId: room.id, text: '/vote' });
  const card = await stream.next((e) => e.event === 'message' && e.data.personId === person.id, "the bot's card on the event stream");
  assert.equal(card.data.roomId, room.id);
  assert.equal(card.data.authorType, 'bot');
  assert.equal(card.data.attachments[0].contentType, 'application/vnd.microsoft.card.adaptive');

  // What the renderer hands over on Submit: the button's data and the inputs.
  const submitted = await post(emulator, '/ui/api/submit', { as: alice.id, messageId: card.data.id, inputs: { action: 'vote', choice: 'pizza' } });
  assert.equal(submitted.status, 200);
  assert.equal(submitted.json.messageId, card.data.id);
  const counted = await stream.next((e) => e.event === 'message' && e.data.text === 'counted pizza', "the bot's answer to the submit");
  assert.equal(counted.data.author, 'Test Bot');
  await stream.next((e) => e.event === 'cardAction' && e.data.messageId === card.data.id, 'the card action');
  assert.equal(actions.length, 1);
  assert.equal(actions[0]?.messageId, card.data.id);
  assert.equal(actions[0]?.personId, alice.id);
  assert.deepEqual(actions[0]?.inputs, { action: 'vote', choice: 'pizza' });
  // The log streams the socket's traffic: deliveries and acks of the bot's device.
  await stream.next((e) => e.event === 'log' && e.data.kind === 'ack' && e.data.who === 'Test Bot', 'an ack in the log');
  assert.ok(stream.received.some((e) => e.event === 'log' && e.data.kind === 'delivery' && /activity "cardAction"/.test(e.data.text)));
});

test('a file uploaded through the API is shared (shareFile), reaches the bot, and downloads from the page with its bytes', async (t) => {
  const { emulator, bot, person, until } = await harness(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  const received: ReceivedMessage[] = [];
  bot.on('message', (message) => received.push(message));
  await bot.start();
  const room = emulator.directRoom(alice, person);
  const form = new FormData();
  form.append('as', alice.id);
  form.append('roomId', room.id);
  form.append('text', 'the notes');
  form.append('file', new Blob(['hello file'], { type: 'text/plain' }), 'notes.txt');
  const response = await fetch(`${emulator.url}/ui/api/files`, { method: 'POST', headers: UI, body: form });
  assert.equal(response.status, 200);
  const message = (await response.json()) as any;
  assert.equal(message.files[0].name, 'notes.txt');
  assert.equal(message.files[0].size, 10);
  await until(() => received.length === 1, 'the share reaching the bot');
  assert.equal(received[0]?.text, 'the notes');
  assert.equal(received[0]?.files?.length, 1);

  const download = await fetch(`${emulator.url}/ui/api/contents?as=${encodeURIComponent(alice.id)}&id=${encodeURIComponent(message.files[0].contentId)}`);
  assert.equal(download.status, 200);
  assert.equal(download.headers.get('content-type'), 'text/plain');
  assert.match(download.headers.get('content-disposition') ?? '', /notes\.txt/);
  assert.equal(await download.text(), 'hello file');
  const stranger = emulator.createUser({ displayName: 'Stranger' });
  assert.equal((await fetch(`${emulator.url}/ui/api/contents?as=${encodeURIComponent(stranger.id)}&id=${encodeURIComponent(message.files[0].contentId)}`)).status, 403);
});

test('fault endpoints: drop closes the sockets with 1011 and the bot backs off; restart recycles them with 1000 "Done (forced)" and the bot comes back', async (t) => {
  const h = await harness(t);
  await h.bot.start();
  const stream = await events(t, h.emulator);
  const devices = await get(h.emulator, '/ui/api/devices');
  assert.equal(devices.json.items.length, 1);
  assert.equal(devices.json.items[0].owner, 'Test Bot');
  assert.equal(devices.json.items[0].open, 1);
  const deviceUuid = devices.json.items[0].uuid as string;

  const dropped = await post(h.emulator, '/ui/api/faults/drop', { deviceUuid });
  assert.deepEqual(dropped.json, { dropped: 1 });
  await waitForState(h.bot, 'backoff');
  await h.until(() => h.emulator.connections[0]?.closedAt !== undefined, 'the close recorded');
  assert.equal(h.emulator.connections[0]?.closeCode, 1011);
  assert.equal(h.emulator.connections[0]?.closedBy, 'server');
  await stream.next((e) => e.event === 'log' && e.data.kind === 'close' && e.data.deviceUuid === deviceUuid && /1011/.test(e.data.text), 'the close in the log');

  // The bot comes back after its backoff (the test clock runs it).
  h.clock.runNext();
  await waitForState(h.bot, 'open');
  const before = h.emulator.connections.length;
  const mark = h.states.length;
  const recycled = await post(h.emulator, '/ui/api/faults/restart', {});
  assert.deepEqual(recycled.json, { dropped: 1 });
  await h.until(() => h.emulator.connections[before - 1]?.closedAt !== undefined && h.states.length > mark, 'the recycled socket closed');
  assert.equal(h.emulator.connections[before - 1]?.closeCode, 1000);
  assert.equal(h.emulator.connections[before - 1]?.closeReason, 'Done (forced)');
  if (h.bot.state === 'backoff') h.clock.runNext();
  await waitForState(h.bot, 'open');
  await h.until(() => h.emulator.openConnections().some((c) => c.readyAt !== undefined && c.id > before), 'the bot reconnected after the recycle');
  assert.equal(h.errors.length, 0, h.errors.map((e) => e.message).join('; '));

  assert.equal((await post(h.emulator, '/ui/api/faults/drop', { deviceUuid: 'not-a-device' })).status, 404);
});

test('fault endpoints: freeze leaves pings unanswered until unfrozen; 429 answers the next REST request, whatever its method, with Retry-After 2', async (t) => {
  const emulator = await startEmulator(t);
  const { token } = emulator.createBot({ displayName: 'Raw' });
  const auth = { authorization: `Bearer ${token}` };
  const device = (await (await fetch(emulator.wdmUrl, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' })).json()) as { webSocketUrl: string };
  const ws = new WebSocket(device.webSocketUrl);
  defer(t, () => ws.terminate());
  const frames: any[] = [];
  const arrived = new Set<() => void>();
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)));
    for (const poke of [...arrived]) poke();
  });
  /** Resolves once a frame the client got matches. */
  const frame = (predicate: (f: any) => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no frame: ${what}`)), 5_000);
      const check = () => {
        if (!frames.some(predicate)) return;
        clearTimeout(timer);
        arrived.delete(check);
        resolve();
      };
      arrived.add(check);
      check();
    });
  await new Promise((resolve) => ws.once('open', resolve));
  ws.send(JSON.stringify({ id: '1', type: 'authorization', data: { token: `Bearer ${token}` } }));
  await frame((f) => f.data?.eventType === 'mercury.buffer_state', 'buffer_state');
  const pong = (id: string) => frames.some((f) => f.type === 'pong' && f.id === id);

  const frozen = await post(emulator, '/ui/api/faults/freeze', { on: true });
  assert.equal(frozen.json.frozen, true);
  ws.send(JSON.stringify({ id: 'p1', type: 'ping' }));
  await emulator.waitFor(() => emulator.pings.some((p) => p.id === 'p1'), { what: 'the ping seen' });
  ws.send(JSON.stringify({ id: 'p2', type: 'ping' }));
  await emulator.waitFor(() => emulator.pings.some((p) => p.id === 'p2'), { what: 'the second ping seen' });
  assert.ok(!pong('p1') && !pong('p2'), 'no pong while frozen');
  assert.equal((await get(emulator, '/ui/api/faults')).json.frozen, true);
  await post(emulator, '/ui/api/faults/freeze', { on: false });
  ws.send(JSON.stringify({ id: 'p3', type: 'ping' }));
  await frame((f) => f.type === 'pong' && f.id === 'p3', 'the pong after unfreezing');

  const armed = await post(emulator, '/ui/api/faults/429', {});
  assert.equal(armed.json.rest429, true);
  const first = await fetch(`${emulator.apiUrl}/messages`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ toPersonEmail: 'x@example.com', text: 'x' }) });
  assert.equal(first.status, 429);
  assert.equal(first.headers.get('retry-after'), '2');
  assert.equal((await fetch(`${emulator.apiUrl}/people/me`, { headers: auth })).status, 200, 'only the next request, whatever its method');
  assert.equal(emulator.armedFaults(), 0);
  assert.equal((await get(emulator, '/ui/api/faults')).json.rest429, false);
  // A fault a test arms itself on the same route is left alone.
  emulator.failNext('GET /v1/*', { status: 503 });
  await post(emulator, '/ui/api/faults/429', {});
  assert.equal((await fetch(`${emulator.apiUrl}/people/me`, { headers: auth })).status, 503, 'the fault armed first answers first');
  assert.equal((await fetch(`${emulator.apiUrl}/people/me`, { headers: auth })).status, 429);
  assert.equal(emulator.armedFaults(), 0);
});

test('machine panel: addInspector entries are listed and pushed live as they come and go', async (t) => {
  const emulator = await startEmulator(t);
  const stream = await events(t, emulator);
  const remove = emulator.addInspector({ name: 'Echo Bot', url: 'http://127.0.0.1:9999/inspect' });
  const added = await stream.next((e) => e.event === 'inspectors' && e.data.items.length === 1, 'the entry added');
  assert.deepEqual(added.data.items.map((i: any) => [i.name, i.url]), [['Echo Bot', 'http://127.0.0.1:9999/inspect']]);
  assert.deepEqual((await get(emulator, '/ui/api/inspectors')).json.items.map((i: any) => i.name), ['Echo Bot']);
  assert.deepEqual(emulator.inspectors, [{ name: 'Echo Bot', url: 'http://127.0.0.1:9999/inspect' }]);
  remove();
  remove(); // twice is harmless
  await stream.next((e) => e.event === 'inspectors' && e.data.items.length === 0, 'the entry removed');
  assert.deepEqual(emulator.inspectors, []);
  assert.throws(() => emulator.addInspector({ name: 'x', url: 'javascript:alert(1)' }), /http\(s\) URL/);
  assert.throws(() => emulator.addInspector({ name: '', url: 'http://127.0.0.1:1/' }), /name/);
});

test('the API refuses what does not come from the page: a foreign Host, a cross-site Origin, a POST without its header', async (t) => {
  const emulator = await startEmulator(t);
  const { port } = new URL(emulator.url);
  const raw = (path: string, headers: Record<string, string>, method = 'GET') =>
    new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, method, headers }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
  assert.equal(await raw('/', { host: `evil.example:${port}` }), 421, 'DNS rebinding: another Host');
  assert.equal(await raw('/ui/api/people', { host: `localhost:${port}` }), 200, 'localhost is the same machine');
  assert.equal(await raw('/ui/api/people', { host: `127.0.0.1:${port}`, origin: 'http://evil.example' }), 403);
  assert.equal(await raw('/ui/api/people', { host: `127.0.0.1:${port}`, 'sec-fetch-site': 'cross-site' }), 403);
  assert.equal(await raw('/', { host: `127.0.0.1:${port}`, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' }), 403, 'framed by another site');
  assert.equal(await raw('/', { host: `127.0.0.1:${port}`, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }), 200, 'a link to the page from elsewhere');
  assert.equal((await post(emulator, '/ui/api/people', { displayName: 'Mallory' }, {})).status, 403, 'no x-sparkbot-ui header');
  assert.equal(emulator.people.size, 0);
});

test('no token reaches the page: not in any /ui answer, not in any event', async (t) => {
  seen.length = 0;
  const { emulator, bot, person, clock } = await harness(t);
  bot.on('message', (message) => void message.reply(`echo ${message.text}`));
  const alice = emulator.createUser({ displayName: 'Alice' });
  await bot.start();
  const stream = await events(t, emulator);
  const room = emulator.createRoom({ title: 'Team', members: [alice, person] });
  const dm = await post(emulator, '/ui/api/direct', { as: alice.id, with: person.id });
  await post(emulator, '/ui/api/messages', { as: alice.id, roomId: dm.json.id, text: 'hello' });
  await post(emulator, '/ui/api/messages', { as: alice.id, roomId: room.id, text: '@Test Bot hello' });
  await stream.next((e) => e.event === 'message' && e.data.text === 'echo Test Bot hello', 'the echo in the group room');
  await post(emulator, '/ui/api/faults/drop', {});
  await waitForState(bot, 'backoff');
  clock.runNext();
  await stream.next((e) => e.event === 'log' && e.data.kind === 'frame' && /authorization/.test(e.data.text), 'the authorization frame of the new socket in the log');
  for (const path of ['/ui/api/people', `/ui/api/rooms?as=${encodeURIComponent(alice.id)}`, '/ui/api/devices', '/ui/api/log', '/ui/api/faults', '/ui/api/inspectors', '/']) {
    await get(emulator, path);
  }
  await get(emulator, `/ui/api/messages?as=${encodeURIComponent(alice.id)}&roomId=${encodeURIComponent(room.id)}`);
  await get(emulator, `/ui/api/messages?as=${encodeURIComponent(alice.id)}&roomId=${encodeURIComponent(dm.json.id)}`);
  const everything = `${seen.join('\n')}\n${stream.raw()}`;
  for (const someone of [person, alice]) assert.deepEqual(secretPieces(everything, someone.token), [], `${someone.displayName}'s token`);
  assert.doesNotMatch(everything, /"token"/);
});
