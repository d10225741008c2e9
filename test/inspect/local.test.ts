/**
 * sparkbot/inspect's localInspector: a real bot on the real emulator, its page and its event
 * stream read over real HTTP. The page shows each bot's machines drawn from their definitions, the
 * current state lit live, the transitions in order, the context and the health — and never the
 * token. Two bots on one inspector stay apart; close() frees the port and ends the streams; a port
 * in use is a clear error; nothing the inspector is given makes it throw into XState.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { get } from 'node:http';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { createActor, createMachine, type Actor, type InspectionEvent } from 'xstate';
import { connectionMachine } from '../../machines/connection.js';
import { outboxMachine } from '../../machines/outbox.js';
import { machineTransitions, stateNodesOf } from '../../scripts/machine-graph.js';
import type { InspectedBot } from '../../src/index.js';
import { localInspector, type LocalInspector } from '../../src/inspect/index.js';
import { defer, harness, secretPieces, startEmulator, waitForState } from '../support/helpers.js';

interface SseEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

interface Sse {
  readonly events: SseEvent[];
  /** Everything received, as received. */
  raw(): string;
  /** Resolves once `predicate` holds for the events received (checked at each chunk). */
  until(predicate: (events: readonly SseEvent[]) => boolean, what: string, timeout?: number): Promise<void>;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

/** A reader of the inspector's `/events`, over real HTTP. */
function openSse(url: string): Promise<Sse> {
  return new Promise((resolve, reject) => {
    const req = get(new URL('events', url), (res) => {
      if (res.statusCode !== 200) return reject(new Error(`/events answered ${res.statusCode}`));
      assert.match(String(res.headers['content-type']), /^text\/event-stream/);
      res.setEncoding('utf8');
      const events: SseEvent[] = [];
      const waiters = new Set<() => void>();
      let raw = '';
      let buffer = '';
      res.on('data', (chunk: string) => {
        raw += chunk;
        buffer += chunk;
        for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) events.push({ event, data: JSON.parse(data.join('\n')) as Record<string, unknown> });
        }
        for (const poke of [...waiters]) poke();
      });
      const ended = new Promise<void>((done) => res.on('close', () => done()));
      resolve({
        events,
        raw: () => raw,
        ended,
        close: () => req.destroy(),
        until: (predicate, what, timeout = 10_000) =>
          new Promise<void>((done, fail) => {
            const check = () => {
              if (!predicate(events)) return;
              clearTimeout(timer);
              waiters.delete(check);
              done();
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`timed out waiting for ${what}; received: ${events.map((e) => e.event).join(', ')}`));
            }, timeout);
            waiters.add(check);
            check();
          }),
      });
    });
    req.on('error', reject);
  });
}

async function fetchPage(url: string): Promise<string> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/, 'the page may load nothing from elsewhere');
  return res.text();
}

/** The HTML of the section of the bot named `name` (the sections are not nested). */
function sectionOf(html: string, name: string): string {
  const sections = html.split('<section ').slice(1);
  const found = sections.filter((s) => s.includes(`data-bot-name="${name}"`));
  assert.equal(found.length, 1, `one section for ${name}`);
  return found[0]!;
}

/** The text of the element with `data-testid="<id>"` in `html` (the first, innermost text). */
function textOf(html: string, id: string): string {
  const match = new RegExp(`data-testid="${id}"[^>]*>([^<]*)<`).exec(html);
  assert.ok(match, `an element ${id}`);
  return match[1]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&');
}

/** The transition log of a bot's section. */
function logOf(section: string): string {
  const start = section.indexOf('data-testid="transition-log"');
  assert.ok(start >= 0, 'a transition-log');
  return section.slice(start, section.indexOf('</ol>', start));
}

/** The opening tags of the elements with data-testid="state" in the diagram of `machine`. */
function stateTags(section: string, machine: 'connection' | 'outbox'): string[] {
  const start = section.indexOf(`data-testid="diagram-${machine}"`);
  assert.ok(start >= 0, `diagram-${machine}`);
  const figure = section.slice(start, section.indexOf('</figure>', start));
  return figure.match(/<g [^>]*data-testid="state"[^>]*>/g) ?? [];
}

function currentOf(section: string, machine: 'connection' | 'outbox'): string[] {
  return stateTags(section, machine)
    .filter((tag) => tag.includes('data-current="true"'))
    .map((tag) => {
      assert.match(tag, /class="[^"]*\bcurrent\b/, 'the current state has class current');
      return /data-state="([^"]*)"/.exec(tag)![1]!;
    });
}

/** A token in Webex's shape (`<secret>_<cluster>_<org uuid>`). */
function webexToken(): { token: string; secret: string } {
  const secret = randomBytes(32).toString('hex');
  return { token: `${secret}_P0A1_${randomUUID()}`, secret };
}

function inspectorFor(t: Parameters<typeof defer>[0], options: Parameters<typeof localInspector>[0] = {}): LocalInspector {
  const inspector = localInspector({ print: () => {}, ...options });
  defer(t, () => inspector.close());
  return inspector;
}

test('a bot on the emulator: page and event stream show open → backoff → open live, with context and health, and never the token', async (t) => {
  const emulator = await startEmulator(t);
  const { token, secret } = webexToken();
  // The bot's own name holds a piece of its token: what the inspector shows goes through the bot's redactor.
  const person = emulator.createBot({ displayName: `Echo ${secret.slice(8, 40)}`, token });
  const lines: string[] = [];
  const inspector = inspectorFor(t, { print: (line) => lines.push(line) });
  const { bot, clock } = await harness(t, { emulator, person, inspect: inspector });

  const url = await inspector.url;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.deepEqual(lines, [`inspect: ${url}`], 'printed once');

  const before = await fetchPage(url);
  assert.equal(textOf(before, 'current-state'), 'idle');
  const sse = await openSse(url);
  defer(t, () => sse.close());
  await sse.until((events) => events.some((e) => e.event === 'bot'), 'the bot section');

  await bot.start();
  emulator.dropConnections({ code: 1011 });
  await waitForState(bot, 'backoff');
  clock.runNext();
  await waitForState(bot, 'open');

  const connectionSteps = () => sse.events.filter((e) => e.event === 'state' && e.data.machine === 'connection');
  await sse.until(() => connectionSteps().filter((e) => (e.data.entry as { to: string }).to === 'online.open').length === 2, 'open twice');
  const steps = connectionSteps();
  assert.deepEqual(
    steps.map((e) => (e.data.entry as { to: string }).to),
    ['fetchingUrl', 'online.connecting', 'online.open', 'backoff', 'fetchingUrl', 'online.connecting', 'online.open'],
    'the state changes, in order',
  );
  assert.deepEqual(
    steps.map((e) => e.data.currentState),
    ['fetchingUrl', 'connecting', 'open', 'backoff', 'fetchingUrl', 'connecting', 'open'],
    'current-state with each change',
  );
  for (let i = 1; i < steps.length; i++) assert.equal((steps[i]!.data.entry as { from: string }).from, (steps[i - 1]!.data.entry as { to: string }).to, 'each step starts where the last ended');
  const backoff = steps[3]!.data;
  assert.equal((backoff.entry as { event: string }).event, 'SOCKET_CLOSED');
  assert.deepEqual(backoff.current, ['backoff']);
  assert.ok((backoff.taken as string[]).some((key) => key.startsWith('connection.online|SOCKET_CLOSED|')), 'the transition taken is named');
  const last = steps.at(-1)!.data;
  assert.deepEqual(last.current, ['online.open']);
  assert.deepEqual([...(last.active as string[])].sort(), ['online', 'online.open']);
  assert.match(String(last.health), /"connected": true/);
  assert.match(String(last.health), /"reconnects": 1/);
  assert.match(String(last.context), /"lastClose": \{\s+"code": 1011/);

  // The outbox: a REST call answered 429 enters its machine (a direct call: idle → rateLimited in one step, then sending, idle).
  const alice = emulator.createUser({ displayName: 'Alice' });
  emulator.failNext('POST /v1/messages', { status: 429, retryAfter: 2 });
  const sent = bot.api.messages.create({ toPersonId: alice.id, text: 'hello' });
  const outboxSteps = () => sse.events.filter((e) => e.event === 'state' && e.data.machine === 'outbox').map((e) => (e.data.entry as { to: string }).to);
  await sse.until(() => outboxSteps().includes('rateLimited'), 'the outbox paused');
  await clock.waitForTimer(2000);
  clock.advance(2000);
  await sent;
  await sse.until(() => outboxSteps().at(-1) === 'idle', 'the outbox idle again');
  assert.deepEqual(outboxSteps(), ['rateLimited', 'sending', 'idle']);
  const paused = sse.events.find((e) => e.event === 'state' && e.data.machine === 'outbox' && (e.data.entry as { to: string }).to === 'rateLimited')!.data;
  assert.deepEqual(paused.entry, { ...(paused.entry as object), from: 'idle', to: 'rateLimited', event: 'CALL_RESULT' });
  assert.ok((paused.taken as string[]).includes('outbox.idle|CALL_RESULT|0'), `the direct call's transition is lit: ${String(paused.taken)}`);
  assert.deepEqual(paused.current, ['rateLimited']);
  assert.equal(paused.currentState, 'open', 'current-state is the connection\'s, whichever machine moved');
  assert.match(String(paused.context), /"label": "POST \S+\/v1\/messages"/);
  assert.match(String(paused.context), /"retryAfter": 2000/);

  // The name is known once the bot has asked who it is; the live refresh (~1/s) brings it.
  await sse.until((events) => events.some((e) => String(e.data.name ?? '').startsWith('Echo')), 'the bot name', 5_000);
  const html = await fetchPage(url);
  const section = sectionOf(html, 'Echo [REDACTED]');
  assert.equal(textOf(section, 'current-state'), 'open');
  assert.deepEqual(currentOf(section, 'connection'), ['online.open'], 'one current state in the connection diagram');
  assert.deepEqual(currentOf(section, 'outbox'), ['idle']);
  const log = logOf(section);
  assert.match(log, /data-from="online.open" data-to="backoff" data-event="SOCKET_CLOSED"/);
  assert.match(log, /data-from="online.connecting" data-to="online.open" data-event="READY"/);
  assert.match(textOf(section, 'health'), /"state": "open"/);
  assert.match(textOf(section, 'context'), /"connection": \{/);
  assert.match(textOf(section, 'context'), /"outbox": \{/);

  const everything = `${before}\n${html}\n${sse.raw()}`;
  assert.ok(everything.includes('[REDACTED]'), 'the name was redacted');
  assert.deepEqual(secretPieces(everything, token), [], 'no piece of the token on the page or in the stream');
});

test('two bots on one inspector are shown apart', async (t) => {
  const emulator = await startEmulator(t);
  const inspector = inspectorFor(t);
  const alpha = await harness(t, { emulator, person: emulator.createBot({ displayName: 'Alpha' }), inspect: inspector });
  const beta = await harness(t, { emulator, person: emulator.createBot({ displayName: 'Beta' }), inspect: inspector });
  const url = await inspector.url;
  await Promise.all([alpha.bot.start(), beta.bot.start()]);

  const sse = await openSse(url);
  defer(t, () => sse.close());
  await sse.until((events) => events.filter((e) => e.event === 'bot').length === 2, 'both sections');
  const named = (name: string) => (events: readonly SseEvent[]) => events.some((e) => e.data.name === name || String(e.data.html ?? '').includes(`data-bot-name="${name}"`));
  await sse.until((events) => named('Alpha')(events) && named('Beta')(events), 'both names', 5_000);

  assert.equal(emulator.dropConnections({ code: 1011, deviceUuid: alpha.bot.health().deviceId ?? 'none' }), 1);
  await waitForState(alpha.bot, 'backoff');
  await sse.until((events) => events.some((e) => e.event === 'state' && e.data.currentState === 'backoff'), 'backoff');

  const html = await fetchPage(url);
  assert.equal(html.match(/data-testid="bot"/g)?.length, 2);
  const a = sectionOf(html, 'Alpha');
  const b = sectionOf(html, 'Beta');
  assert.equal(textOf(a, 'current-state'), 'backoff');
  assert.equal(textOf(b, 'current-state'), 'open');
  assert.deepEqual(currentOf(a, 'connection'), ['backoff']);
  assert.deepEqual(currentOf(b, 'connection'), ['online.open']);
  for (const section of [a, b]) {
    for (const id of ['diagram-connection', 'diagram-outbox', 'transition-log', 'context', 'health']) assert.equal(section.split(`data-testid="${id}"`).length, 2, `one ${id} per bot`);
  }
  assert.match(logOf(a), /data-to="backoff"/);
  assert.match(logOf(b), /data-to="online.open"/);
  assert.doesNotMatch(logOf(b), /data-to="backoff"/, "Beta's log has only Beta's transitions");
  assert.match(textOf(a, 'health'), /"connected": false/);
  assert.match(textOf(b, 'health'), /"connected": true/);
  assert.ok(textOf(a, 'health').includes(alpha.bot.health().deviceId!));
  assert.ok(textOf(b, 'health').includes(beta.bot.health().deviceId!));
  const states = sse.events.filter((e) => e.event === 'state' && e.data.machine === 'connection' && (e.data.entry as { to: string }).to === 'backoff');
  assert.deepEqual(
    states.map((e) => e.data.bot),
    [Number(/data-bot-id="(\d+)"/.exec(`<section ${a}`)![1])],
    'the change is reported for Alpha only',
  );

  alpha.clock.runNext();
  await waitForState(alpha.bot, 'open');
  await sse.until((events) => events.filter((e) => e.event === 'state' && e.data.currentState === 'open').length >= 1, 'Alpha open again');
  assert.equal(textOf(sectionOf(await fetchPage(url), 'Alpha'), 'current-state'), 'open');
});

test('each machine is drawn from its definition: every state (online nesting its children) and every transition', async (t) => {
  const inspector = inspectorFor(t);
  // As a bot's constructor does: the outbox, the connection, then attach.
  const outbox = createActor(outboxMachine, { input: {}, inspect: inspector }).start();
  const connection = createActor(connectionMachine, { input: {}, inspect: inspector }).start();
  inspector.attach({ name: () => 'Drawn', health: () => ({ state: 'idle' }) as never, redact: (text) => text });
  defer(t, () => {
    outbox.stop();
    connection.stop();
  });
  const html = await fetchPage(await inspector.url);
  const section = sectionOf(html, 'Drawn');
  for (const [name, machine] of [['connection', connectionMachine], ['outbox', outboxMachine]] as const) {
    const start = section.indexOf(`data-testid="diagram-${name}"`);
    const figure = section.slice(start, section.indexOf('</figure>', start));
    const drawn = stateTags(section, name).map((tag) => /data-state="([^"]*)"/.exec(tag)![1]!);
    assert.deepEqual(drawn.sort(), stateNodesOf(machine).map((node) => node.path.join('.')).sort(), `every state of ${name}`);
    const arrows = figure.match(/data-transition="/g)?.length ?? 0;
    assert.equal(arrows, machineTransitions(machine).reduce((n, tr) => n + Math.max(1, tr.targets.length), 0), `one arrow per transition (and target) of ${name}`);
    for (const transition of machineTransitions(machine)) assert.ok(figure.includes(`data-transition="${transition.key}"`), `${transition.key} drawn`);
  }
  assert.match(section, /data-transition="connection\.idle\|START\|0" data-from="idle" data-to="fetchingUrl"/);
  assert.match(section, />READY \[is current socket\]</);
  assert.match(section, />after reconnectDelay</);
  // `online` is a region around its children's columns.
  const box = (path: string) => {
    const at = section.indexOf(`data-state="${path}"`);
    const rect = /<rect class="box" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"/.exec(section.slice(at))!;
    return { x: Number(rect[1]), y: Number(rect[2]), right: Number(rect[1]) + Number(rect[3]) };
  };
  const online = box('online');
  for (const child of ['online.connecting', 'online.open', 'online.awaitingPong']) {
    const inner = box(child);
    assert.ok(inner.x > online.x && inner.right < online.right && inner.y > online.y, `${child} is drawn inside online`);
  }
  for (const outside of ['idle', 'fetchingUrl', 'backoff', 'rateLimited', 'failed']) {
    const other = box(outside);
    assert.ok(other.right < online.x || other.x > online.right, `${outside} is outside online`);
  }
  assert.deepEqual(currentOf(section, 'connection'), ['idle']);
  assert.equal(textOf(section, 'current-state'), 'idle');
  assert.equal(await fetchPage(await inspector.url), html, 'the same page every time');
});

test('actors are grouped by bot: an attach takes the actors created just before it; a machine restarted after an error stays with its bot', async (t) => {
  const inspector = inspectorFor(t);
  const bug = () => {
    throw new Error('a bug');
  };
  const fragile = createMachine({ id: 'connection', initial: 'idle', states: { idle: { on: { GO: 'busy', BOOM: { actions: bug } } }, busy: {} } });
  const outboxLike = createMachine({ id: 'outbox', initial: 'idle', states: { idle: { on: { SEND: 'sending' } }, sending: {} } });
  const actors: Array<{ stop(): unknown }> = [];
  defer(t, () => actors.forEach((actor) => actor.stop()));
  /** As a SparkBot's constructor does: its outbox, its connection (started again after an error), then attach. */
  const makeBot = (name: string) => {
    const bot = { connection: undefined as unknown as Actor<typeof fragile>, outbox: createActor(outboxLike, { inspect: inspector }).start() };
    actors.push(bot.outbox);
    const start = () => {
      const actor = createActor(fragile, { inspect: inspector });
      actor.subscribe({ error: () => start() });
      bot.connection = actor.start();
      actors.push(actor);
    };
    start();
    inspector.attach({ name: () => name, health: () => ({ name }) as never, redact: (text) => text });
    return bot;
  };
  const a = makeBot('A');
  const b = makeBot('B');
  a.connection.send({ type: 'GO' });
  b.outbox.send({ type: 'SEND' });
  const failed = b.connection;
  b.connection.send({ type: 'BOOM' });
  assert.notEqual(b.connection, failed, 'B started a fresh machine');
  await new Promise((resolve) => setImmediate(resolve));
  b.connection.send({ type: 'GO' });

  const html = await fetchPage(await inspector.url);
  const sa = sectionOf(html, 'A');
  const sb = sectionOf(html, 'B');
  assert.deepEqual(currentOf(sa, 'connection'), ['busy']);
  assert.deepEqual(currentOf(sa, 'outbox'), ['idle']);
  assert.deepEqual(currentOf(sb, 'connection'), ['busy'], "B's fresh machine is B's");
  assert.deepEqual(currentOf(sb, 'outbox'), ['sending']);
  assert.match(logOf(sb), /data-from="idle" data-to="idle" data-event="BOOM \(stopped on an internal error\)"/);
  assert.doesNotMatch(logOf(sa), /BOOM|data-to="sending"/);
  assert.equal(logOf(sa).split('data-to="busy"').length, 2, "A's log has A's step once");
  assert.equal(logOf(sb).split('data-to="busy"').length, 2, "B's log has B's step once");
});

test('close() ends the event streams, frees the port and leaves the emulator', async (t) => {
  const added: Array<{ name: string; url: string }> = [];
  let removed = 0;
  const lines: string[] = [];
  const inspector = localInspector({
    print: (line) => lines.push(line),
    emulator: {
      addInspector(entry) {
        added.push(entry);
        return () => void (removed += 1);
      },
    },
  });
  defer(t, () => inspector.close());
  const url = await inspector.url;
  assert.deepEqual(added, [{ name: 'sparkbot inspect', url }]);
  const port = Number(new URL(url).port);
  const sse = await openSse(url);
  const other = await openSse(url);
  await fetchPage(url);

  await inspector.close();
  await Promise.all([sse.ended, other.ended]);
  assert.ok(sse.raw().includes('event: close'), 'the page is told');
  assert.equal(removed, 1, 'taken off the emulator');
  await inspector.close();
  assert.equal(removed, 1, 'once');
  await assert.rejects(fetch(url), 'nothing listens');
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  await new Promise((resolve) => server.close(resolve));
  assert.deepEqual(lines, [`inspect: ${url}`]);
});

test('a port in use is a clear error, not a crash', async (t) => {
  const busy: Server = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  defer(t, () => new Promise((resolve) => busy.close(resolve)));
  const port = (busy.address() as { port: number }).port;
  const lines: string[] = [];
  const added: string[] = [];
  const inspector = localInspector({ port, print: (line) => lines.push(line), emulator: { addInspector: (e) => (added.push(e.url), () => {}) } });
  defer(t, () => inspector.close());
  await assert.rejects(inspector.url, (error: Error & { code?: string }) => {
    assert.equal(error.message, `cannot serve the inspector on 127.0.0.1:${port}: port ${port} is in use (EADDRINUSE); pass another port, or port: 0 for a free one`);
    assert.equal(error.code, 'EADDRINUSE');
    return true;
  });
  assert.deepEqual(lines, [`inspect: cannot serve the inspector on 127.0.0.1:${port}: port ${port} is in use (EADDRINUSE); pass another port, or port: 0 for a free one`]);
  assert.deepEqual(added, [], 'nothing registered');
  // Still a working observer.
  const actor = createActor(createMachine({ initial: 'a', states: { a: { on: { GO: 'b' } }, b: {} } }), { inspect: inspector }).start();
  actor.send({ type: 'GO' });
  assert.equal(actor.getSnapshot().value, 'b');
  await inspector.close();
});

test('the observer never throws into XState: malformed events, and a bot whose methods throw, are ignored', async (t) => {
  const inspector = inspectorFor(t);
  const hostile = new Proxy(
    {},
    {
      get() {
        throw new Error('boom');
      },
    },
  );
  const junk: unknown[] = [
    undefined,
    null,
    42,
    'x',
    {},
    hostile,
    { type: '@xstate.actor' },
    { type: '@xstate.actor', rootId: 'x:1', actorRef: hostile },
    { type: '@xstate.actor', rootId: 'x:2', actorRef: { sessionId: 'x:2', logic: { id: 'connection', root: { states: hostile } } } },
    { type: '@xstate.snapshot', rootId: 'x:2', actorRef: { sessionId: 'x:2' }, snapshot: hostile, event: hostile },
    { type: '@xstate.microstep', rootId: 'x:2', actorRef: { sessionId: 'x:2' }, _transitions: [hostile, null, 1] },
    { type: '@xstate.snapshot', rootId: 'x:3', actorRef: { sessionId: 'x:3' }, snapshot: null },
  ];
  for (const event of junk) assert.doesNotThrow(() => inspector.next(event as InspectionEvent));
  assert.doesNotThrow(() => inspector.error(new Error('x')));
  assert.doesNotThrow(() => inspector.complete());
  assert.doesNotThrow(() => inspector.attach(null as unknown as InspectedBot));

  // A machine that runs with it runs as without it.
  const machine = createMachine({ id: 'connection', initial: 'idle', states: { idle: { on: { START: 'online' } }, online: { initial: 'open', states: { open: {} } } } });
  const actor = createActor(machine, { inspect: inspector }).start();
  // A bot whose every method throws: shown without its name, health or anything its redactor would have cleaned.
  inspector.attach({
    name: () => {
      throw new Error('no name');
    },
    health: () => {
      throw new Error('no health');
    },
    redact: () => {
      throw new Error('no redactor');
    },
  });
  actor.send({ type: 'START' });
  actor.send({ type: 'NOT_AN_EVENT_OF_IT' });
  assert.deepEqual(actor.getSnapshot().value, { online: 'open' });
  assert.equal(actor.getSnapshot().status, 'active');

  const url = await inspector.url;
  const html = await fetchPage(url);
  const section = sectionOf(html, 'bot 1');
  assert.match(section, /\[unavailable: the redactor failed\]/, 'a bot whose redactor fails shows nothing of its own');
  assert.doesNotMatch(section, /data-testid="(diagram-connection|context|health)"/);
  const sse = await openSse(url);
  defer(t, () => sse.close());
  await sse.until((events) => events.some((e) => e.event === 'bot'), 'the section');
  actor.stop();
});
