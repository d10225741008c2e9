/**
 * `sparkbot/inspect`: a local, offline inspector for sparkbot bots. Pass it as a bot's `inspect`
 * option and open the URL it prints: a page, served by the inspector itself on its own port, that
 * draws each bot's connection machine and REST outbox from their definitions, lights the current
 * states as they change, lists the transitions, and shows the machines' context and `bot.health()`,
 * redacted through the bot's own redactor. Nothing is loaded from the network.
 *
 * ```ts
 * import { SparkBot } from 'sparkbot';
 * import { localInspector } from 'sparkbot/inspect';
 *
 * const bot = new SparkBot({ token, inspect: localInspector() }); // prints "inspect: http://127.0.0.1:PORT/"
 * ```
 *
 * It is an entry point of its own: `sparkbot` itself never loads it.
 *
 * How the actors of a bot are told apart: every inspection event carries `rootId`, the session id
 * of the root actor of its actor system, and a bot runs two root actors of its own (the connection
 * machine, id `connection`, and the REST outbox, id `outbox`), each in a system of its own, which
 * share nothing an inspector can see. So they are paired by order: a bot's constructor creates its
 * outbox actor, then its connection actor, then calls `attach` — synchronously, so nothing of
 * another bot comes between — and `attach` takes the newest root actor of each kind not yet taken.
 * A root actor no attach takes by the end of the current microtask replaces, in the bot whose actor
 * of that kind stopped on an error, that actor (the bot and its outbox start a fresh machine then,
 * synchronously); any other is not shown.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { AnyStateMachine, InspectionEvent, Observer } from 'xstate';
import type { InspectedBot } from '../bot.js';
import { layoutDiagram, renderDiagram, type DiagramLayout } from './diagram.js';
import { isMachine, machineGraph, transitionKey } from './graph.js';
import { botSection, CSP, page, type LogEntry } from './page.js';

export type { InspectedBot } from '../bot.js';

/** The emulator's side of the chat page's inspector frame (`WebexEmulator` from sparkbot/emulator). */
export interface InspectorHost {
  /** Shows the page at `url` under `name`; the function it returns takes it away again. */
  addInspector(entry: { readonly name: string; readonly url: string }): () => void;
}

/** Options of {@link localInspector}. */
export interface LocalInspectorOptions {
  /** The port to serve the page on. Default 0: a free port (see `url`). */
  readonly port?: number;
  /** The interface to listen on. Default `127.0.0.1`: only this machine can open the page. */
  readonly host?: string;
  /** An emulator (sparkbot/emulator) to show the page in its chat page; it is taken away by close(). */
  readonly emulator?: InspectorHost;
  /** The name the emulator shows the page under. Default `sparkbot inspect`. */
  readonly name?: string;
  /**
   * Where the inspector's one line goes: `inspect: <url>` once it listens, or `inspect: <why not>`
   * when it cannot. Default `console.log`.
   */
  readonly print?: (line: string) => void;
}

/**
 * An XState inspection observer that serves a live page of the bots it inspects; pass it as a
 * bot's `inspect` option (one inspector may serve several bots). It never throws into XState.
 */
export interface LocalInspector extends Observer<InspectionEvent> {
  /** Takes one inspection event (XState calls it); a malformed one is ignored. */
  next(event: InspectionEvent): void;
  /** Part of the Observer shape; ignored. */
  error(error: unknown): void;
  /** Part of the Observer shape; ignored. */
  complete(): void;
  /**
   * Called by a SparkBot's constructor, once, right after it created its actors: the bot to show,
   * with its name, its health and its redactor. Not for you to call.
   */
  attach(bot: InspectedBot): void;
  /**
   * The page's URL, e.g. `http://127.0.0.1:41234/`, once the inspector listens. Rejects when it
   * cannot (the port is in use, say); the inspector then reports that through `print` and never
   * makes the process fail for it.
   */
  readonly url: Promise<string>;
  /** Stops serving: ends every live page's event stream, frees the port, leaves the emulator. */
  close(): Promise<void>;
}

type Kind = 'connection' | 'outbox';
const KINDS: readonly Kind[] = ['connection', 'outbox'];

/** What the inspector keeps of a machine snapshot. */
interface SnapshotLike {
  readonly value?: unknown;
  readonly context?: unknown;
  readonly status?: string;
}

/** A root actor of a bot: its machine, its latest snapshot, and what it did before its bot attached. */
interface RootRecord {
  readonly rootId: string;
  readonly kind: Kind;
  readonly ref: { getSnapshot?: () => unknown };
  readonly layout: DiagramLayout;
  snapshot: SnapshotLike | undefined;
  /** Leaf paths of the snapshot, joined with `,` (to see a change of state). */
  statePaths: string;
  /** Transitions taken by the step under way (microsteps), and by the last one. */
  stepTaken: string[];
  lastTaken: string[];
  /** Log entries made before the bot attached. */
  early: LogEntry[];
  bot: BotRecord | undefined;
  failed: boolean;
  /** The type of the last event sent to it (an error in a step leaves no snapshot to tell which). */
  lastEvent: string;
}

interface BotRecord {
  readonly id: number;
  readonly bot: InspectedBot;
  readonly roots: { connection?: RootRecord; outbox?: RootRecord };
  readonly log: LogEntry[];
  /** The last `update` sent, to send only what changed. */
  lastUpdate: string;
}

interface Client {
  readonly res: ServerResponse;
}

/** What is shown instead of a text the bot's redactor failed on. */
const UNAVAILABLE = '[unavailable: the redactor failed]';

/** The section of a bot whose redactor fails: nothing of the bot. */
function unavailableSection(id: number): string {
  return `<section class="bot" data-testid="bot" data-bot-id="${id}" data-bot-name="bot ${id}"><header><h2 class="bot-name">bot ${id}</h2></header><p class="missing">${UNAVAILABLE}</p></section>`;
}

/** Log lines kept per bot (and shown). */
const MAX_LOG = 200;
/** ms between two refreshes of the health and the context. */
const TICK = 1_000;
/** Ticks between two SSE comments that keep proxies from closing an idle stream. */
const KEEPALIVE_TICKS = 15;
/** Characters of a machine's context shown at most. */
const MAX_CONTEXT = 50_000;

/**
 * A local inspector: an XState inspection observer (pass it as a bot's `inspect` option) that
 * serves, on its own port, a live page of every bot it inspects. See the module's comment.
 */
export function localInspector(options: LocalInspectorOptions = {}): LocalInspector {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const print = options.print ?? ((line: string) => console.log(line));
  const name = options.name ?? 'sparkbot inspect';

  const layouts = new WeakMap<object, DiagramLayout>();
  const roots = new Map<string, RootRecord>();
  /** Root actors not yet taken by an attach, oldest first. */
  let pending: RootRecord[] = [];
  let sweepQueued = false;
  const bots: BotRecord[] = [];
  const clients = new Set<Client>();
  const sockets = new Set<Socket>();
  let seq = 0;
  let nextBotId = 1;
  let closed = false;
  let closing: Promise<void> | undefined;
  let removeFromEmulator: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let ticks = 0;
  /** State changes waiting to be sent (at the end of the current microtask: never inside XState's step). */
  let outgoing: Array<{ bot: BotRecord; root: RootRecord; entry: LogEntry; snapshots: Partial<Record<Kind, SnapshotLike>>; taken: string[] }> = [];

  // ------------------------------------------------------------------ inspection

  function layoutOf(machine: AnyStateMachine): DiagramLayout {
    let layout = layouts.get(machine);
    if (!layout) {
      layout = layoutDiagram(machineGraph(machine));
      layouts.set(machine, layout);
    }
    return layout;
  }

  function onEvent(event: InspectionEvent): void {
    if (closed || typeof event !== 'object' || event === null) return;
    const rootId = event.rootId;
    const ref = event.actorRef as { sessionId?: unknown; logic?: unknown; getSnapshot?: () => unknown } | undefined;
    if (typeof rootId !== 'string' || typeof ref !== 'object' || ref === null) return;
    if (ref.sessionId !== rootId) return; // a child actor (the device, the socket): its root's snapshots say enough
    switch (event.type) {
      case '@xstate.actor': {
        const logic = ref.logic;
        const kind = isMachine(logic) && (KINDS as readonly string[]).includes(logic.id) ? (logic.id as Kind) : undefined;
        if (kind === undefined || roots.has(rootId) || !isMachine(logic)) return;
        const record: RootRecord = { rootId, kind, ref, layout: layoutOf(logic), snapshot: undefined, statePaths: '', stepTaken: [], lastTaken: [], early: [], bot: undefined, failed: false, lastEvent: '' };
        roots.set(rootId, record);
        pending.push(record);
        if (!sweepQueued) {
          sweepQueued = true;
          queueMicrotask(sweep);
        }
        return;
      }
      case '@xstate.microstep': {
        const record = roots.get(rootId);
        if (!record) return;
        for (const transition of Array.isArray(event._transitions) ? event._transitions : []) {
          const key = transitionKey(transition);
          if (key !== undefined) record.stepTaken.push(key);
        }
        return;
      }
      case '@xstate.event': {
        const record = roots.get(rootId);
        const type = (event.event as { type?: unknown } | undefined)?.type;
        if (record && typeof type === 'string') record.lastEvent = type;
        return;
      }
      case '@xstate.snapshot': {
        const record = roots.get(rootId);
        if (record) onSnapshot(record, event.snapshot as SnapshotLike, (event.event as { type?: unknown } | undefined)?.type);
        return;
      }
      default:
        return;
    }
  }

  function onSnapshot(record: RootRecord, snapshot: SnapshotLike, eventType: unknown): void {
    if (typeof snapshot !== 'object' || snapshot === null) return;
    const previous = record.snapshot;
    record.snapshot = snapshot;
    const taken = record.stepTaken;
    record.stepTaken = [];
    const paths = leafPaths(snapshot.value).join(',');
    const type = typeof eventType === 'string' ? eventType : '(unknown)';
    let entry: LogEntry | undefined;
    if (snapshot.status === 'error' && !record.failed) {
      record.failed = true;
      entry = failureEntry(record, type);
    } else if (previous === undefined || paths !== record.statePaths) {
      entry = { seq: ++seq, machine: record.kind, from: previous === undefined ? null : record.statePaths, to: paths, event: type, at: Date.now() };
    }
    record.statePaths = paths;
    if (entry === undefined) return;
    record.lastTaken = taken;
    const bot = record.bot;
    if (bot === undefined) {
      record.early.push(entry);
      if (record.early.length > MAX_LOG) record.early.shift();
      return;
    }
    pushLog(bot, entry);
    queueState(bot, record, entry, taken);
  }

  /** The log line of a machine that stopped on an error in a step. */
  function failureEntry(record: RootRecord, eventType: string): LogEntry {
    return { seq: ++seq, machine: record.kind, from: record.statePaths || null, to: record.statePaths, event: `${eventType || '(unknown)'} (stopped on an internal error)`, at: Date.now() };
  }

  function pushLog(bot: BotRecord, entry: LogEntry): void {
    bot.log.push(entry);
    if (bot.log.length > MAX_LOG) bot.log.splice(0, bot.log.length - MAX_LOG);
  }

  /** After the bots' constructors: a root actor no attach took replaces its bot's failed one, or is forgotten. */
  function sweep(): void {
    sweepQueued = false;
    const left = pending;
    pending = [];
    for (const record of left) {
      if (record.bot !== undefined) continue;
      const owner = bots.find((bot) => {
        const old = bot.roots[record.kind];
        return old !== undefined && old !== record && (old.failed || statusOf(old) === 'error');
      });
      if (owner === undefined) {
        roots.delete(record.rootId);
        continue;
      }
      const old = owner.roots[record.kind];
      if (old) {
        roots.delete(old.rootId);
        // An error thrown inside a step leaves no snapshot behind: the log says it here.
        if (!old.failed) {
          old.failed = true;
          // It failed before its replacement started: its line goes before the replacement's.
          const entry = failureEntry(old, old.lastEvent);
          const before = record.early[0]?.seq;
          pushLog(owner, before === undefined ? entry : { ...entry, seq: before - 0.5 });
        }
      }
      claim(owner, record);
      broadcastBot(owner);
    }
  }

  function statusOf(record: RootRecord): unknown {
    try {
      return (record.ref.getSnapshot?.() as SnapshotLike | undefined)?.status;
    } catch {
      return undefined;
    }
  }

  function claim(bot: BotRecord, record: RootRecord): void {
    record.bot = bot;
    bot.roots[record.kind] = record;
    bot.log.push(...record.early);
    record.early = [];
    bot.log.sort((a, b) => a.seq - b.seq);
    if (bot.log.length > MAX_LOG) bot.log.splice(0, bot.log.length - MAX_LOG);
  }

  function attach(inspected: InspectedBot): void {
    if (closed || typeof inspected !== 'object' || inspected === null) return;
    const bot: BotRecord = { id: nextBotId++, bot: inspected, roots: {}, log: [], lastUpdate: '' };
    for (const kind of KINDS) {
      const newest = [...pending].reverse().find((record) => record.kind === kind && record.bot === undefined);
      if (newest) claim(bot, newest);
    }
    pending = pending.filter((record) => record.bot === undefined);
    bots.push(bot);
    broadcastBot(bot);
  }

  // ------------------------------------------------------------------ views (every text through the bot's redactor)

  /** `text` redacted by the bot; undefined when its redactor fails (then nothing of the text may be shown). */
  function tryRedact(bot: BotRecord, text: string): string | undefined {
    try {
      const clean = bot.bot.redact(text);
      return typeof clean === 'string' ? clean : undefined;
    } catch {
      return undefined;
    }
  }

  /** `text` redacted by the bot, or a placeholder when its redactor fails. */
  function redact(bot: BotRecord, text: string): string {
    return tryRedact(bot, text) ?? UNAVAILABLE;
  }

  function nameOf(bot: BotRecord): string {
    try {
      const value = bot.bot.name();
      return redact(bot, typeof value === 'string' && value !== '' ? value : `bot ${bot.id}`);
    } catch {
      return `bot ${bot.id}`;
    }
  }

  function healthOf(bot: BotRecord): string {
    try {
      return redact(bot, safeJson(bot.bot.health(), 2));
    } catch (error) {
      return redact(bot, `health() failed: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  /** The machines' context, as JSON; `snapshots` as they were at a step, else as they are. */
  function contextOf(bot: BotRecord, snapshots?: Partial<Record<Kind, SnapshotLike>>): string {
    const value: Record<string, unknown> = {};
    for (const kind of KINDS) {
      const snapshot = snapshots ? snapshots[kind] : bot.roots[kind]?.snapshot;
      if (snapshot) value[kind] = snapshot.context;
    }
    let text = safeJson(value, 2);
    if (text.length > MAX_CONTEXT) text = `${text.slice(0, MAX_CONTEXT)}\n… (${text.length - MAX_CONTEXT} more characters)`;
    return redact(bot, text);
  }

  /** The connection machine's current leaf state (`open`), from `snapshot`. */
  function currentStateOf(snapshot: SnapshotLike | undefined): string {
    if (!snapshot) return '—';
    return leafPaths(snapshot.value)
      .map((path) => path.split('.').pop() ?? path)
      .join(', ');
  }

  /** What is lit in a diagram: the states of `snapshot`, and the transitions `taken`. */
  function litOf(snapshot: SnapshotLike | undefined, taken: readonly string[]) {
    const current = new Set(snapshot ? leafPaths(snapshot.value) : []);
    const active = new Set<string>();
    for (const path of current) {
      const parts = path.split('.');
      for (let i = 1; i <= parts.length; i++) active.add(parts.slice(0, i).join('.'));
    }
    return { current, active, taken: new Set(taken) };
  }

  function sectionOf(bot: BotRecord): string {
    const diagram = (kind: Kind) => {
      const record = bot.roots[kind];
      return record ? renderDiagram(record.layout, litOf(record.snapshot, record.lastTaken), `${kind} machine`) : undefined;
    };
    const html = botSection({
        id: bot.id,
        name: nameOf(bot),
        currentState: currentStateOf(bot.roots.connection?.snapshot),
        connection: diagram('connection'),
        outbox: diagram('outbox'),
        log: bot.log,
        context: contextOf(bot),
        health: healthOf(bot),
      });
    return tryRedact(bot, html) ?? unavailableSection(bot.id);
  }

  /** The `bot` event of a bot: its whole section. */
  function botEvent(bot: BotRecord): string {
    const data = JSON.stringify({ id: bot.id, html: sectionOf(bot) });
    return tryRedact(bot, data) ?? JSON.stringify({ id: bot.id, html: unavailableSection(bot.id) });
  }

  /** What `update` says of a bot (and `state` too). */
  function refreshOf(bot: BotRecord): { name: string; currentState: string; context: string; health: string } {
    return { name: nameOf(bot), currentState: currentStateOf(bot.roots.connection?.snapshot), context: contextOf(bot), health: healthOf(bot) };
  }

  // ------------------------------------------------------------------ server-sent events

  function send(client: Client, event: string, data: string): void {
    try {
      client.res.write(`event: ${event}\ndata: ${data}\n\n`);
    } catch {
      clients.delete(client);
    }
  }

  function broadcast(event: string, data: string): void {
    for (const client of clients) send(client, event, data);
  }

  function broadcastBot(bot: BotRecord): void {
    if (clients.size === 0) return;
    broadcast('bot', botEvent(bot));
  }

  /** A state change to send: the machines' snapshots as they are now (immutable), the health when it goes. */
  function queueState(bot: BotRecord, root: RootRecord, entry: LogEntry, taken: string[]): void {
    if (clients.size === 0) return;
    if (outgoing.length === 0) queueMicrotask(flush);
    outgoing.push({ bot, root, entry, snapshots: { connection: bot.roots.connection?.snapshot, outbox: bot.roots.outbox?.snapshot }, taken });
  }

  function flush(): void {
    const batch = outgoing;
    outgoing = [];
    for (const { bot, root, entry, snapshots, taken } of batch) {
      try {
        const lit = litOf(snapshots[root.kind], taken);
        const refresh = { ...refreshOf(bot), currentState: currentStateOf(snapshots.connection), context: contextOf(bot, snapshots) };
        const data = tryRedact(bot, JSON.stringify({ bot: bot.id, machine: root.kind, entry, current: [...lit.current], active: [...lit.active], taken, ...refresh }));
        bot.lastUpdate = JSON.stringify(refresh);
        if (data !== undefined) broadcast('state', data);
      } catch {
        // A view that cannot be made is not sent; the next tick sends the state of things.
      }
    }
  }

  function tick(): void {
    try {
      for (const bot of bots) {
        const refresh = refreshOf(bot);
        const text = JSON.stringify(refresh);
        if (text === bot.lastUpdate) continue;
        bot.lastUpdate = text;
        const data = tryRedact(bot, JSON.stringify({ bot: bot.id, ...refresh }));
        if (data !== undefined) broadcast('update', data);
      }
      ticks += 1;
      if (ticks % KEEPALIVE_TICKS === 0) for (const client of clients) client.res.write(': keep-alive\n\n');
    } catch {
      // Never let a timer throw.
    }
  }

  function openStream(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    res.write('retry: 1000\n\n');
    const client: Client = { res };
    clients.add(client);
    // The state of every bot now: the page replaces its sections with these.
    for (const bot of bots) {
      try {
        send(client, 'bot', botEvent(bot));
        bot.lastUpdate = JSON.stringify(refreshOf(bot));
      } catch {
        // as in flush()
      }
    }
    timer ??= setInterval(tick, TICK).unref();
    const done = () => {
      clients.delete(client);
      if (clients.size === 0 && timer !== undefined) {
        clearInterval(timer);
        timer = undefined;
      }
    };
    req.on('close', done);
    res.on('close', done);
  }

  // ------------------------------------------------------------------ HTTP

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    try {
      if (!hostAllowed(req.headers.host, host)) {
        res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('forbidden: open the inspector through its loopback address\n');
        return;
      }
      const path = new URL(req.url ?? '/', 'http://inspector').pathname;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
        return;
      }
      if (path === '/events') {
        if (req.method === 'HEAD' || closed) {
          res.writeHead(closed ? 503 : 200, { 'content-type': 'text/event-stream; charset=utf-8' }).end();
          return;
        }
        openStream(req, res);
        return;
      }
      if (path === '/' || path === '/index.html') {
        const sections = bots.map(sectionOf);
        let html = page(sections);
        // Each section went through its own bot's redactor; the page goes through all of them.
        for (const bot of bots) html = tryRedact(bot, html) ?? html;
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          'content-security-policy': CSP,
          'x-content-type-options': 'nosniff',
          'referrer-policy': 'no-referrer',
        });
        res.end(req.method === 'HEAD' ? undefined : html);
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: the page is at /\n');
    } catch {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end();
    }
  }

  const server: Server = createServer(onRequest);
  server.on('connection', (socket) => {
    // Neither the server nor an open page keeps the process alive: the bot does, while it runs.
    socket.unref();
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => socket.destroy());

  const url = new Promise<string>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const failure = listenError(error, host, port);
      try {
        print(`inspect: ${failure.message}`);
      } catch {
        // a print that throws changes nothing
      }
      reject(failure);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      server.on('error', () => undefined);
      server.unref();
      const address = server.address() as AddressInfo;
      const href = `http://${urlHost(host)}:${address.port}/`;
      try {
        print(`inspect: ${href}`);
      } catch {
        // as above
      }
      if (!closed && options.emulator) {
        try {
          removeFromEmulator = options.emulator.addInspector({ name, url: href });
        } catch {
          // an emulator without the frame shows no frame
        }
      }
      resolve(href);
    });
  });
  // Nobody has to wait for the URL: a port in use is reported through print, not as an unhandled rejection.
  url.catch(() => undefined);

  async function shutDown(): Promise<void> {
    closed = true;
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
    try {
      removeFromEmulator?.();
    } catch {
      // already gone
    }
    removeFromEmulator = undefined;
    for (const client of clients) {
      try {
        client.res.end('event: close\ndata: {}\n\n');
      } catch {
        // gone already
      }
    }
    clients.clear();
    const listening = await url.then(
      () => true,
      () => false,
    );
    if (listening) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
    }
    bots.length = 0;
    roots.clear();
    pending = [];
    outgoing = [];
  }

  return {
    next(event: InspectionEvent): void {
      try {
        onEvent(event);
      } catch {
        // An inspector never breaks the machine it watches: a malformed event is ignored.
      }
    },
    error(): void {},
    complete(): void {},
    attach(inspected: InspectedBot): void {
      try {
        attach(inspected);
      } catch {
        // nor the bot that attaches
      }
    },
    url,
    close(): Promise<void> {
      closing ??= shutDown();
      return closing;
    },
  };
}

/** The leaf state paths of a state value: `'idle'` → `['idle']`, `{ online: 'open' }` → `['online.open']`. */
function leafPaths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix + value];
  if (typeof value !== 'object' || value === null) return [];
  const out: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const below = leafPaths(child, `${prefix}${key}.`);
    out.push(...(below.length > 0 ? below : [prefix + key]));
  }
  return out;
}

/** JSON of anything: functions and actors left out, cycles cut, long strings shortened. */
function safeJson(value: unknown, indent: number): string {
  const seen = new WeakSet<object>();
  const text = JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === 'function' || typeof v === 'symbol') return undefined;
      if (typeof v === 'bigint') return v.toString();
      if (typeof v === 'string' && v.length > 2_000) return `${v.slice(0, 2_000)}… (${v.length} characters)`;
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[circular]';
        seen.add(v);
        if (typeof (v as { send?: unknown }).send === 'function' && typeof (v as { sessionId?: unknown }).sessionId === 'string') return `[actor ${(v as { id?: string }).id ?? ''}]`;
        if (v instanceof Error) return { name: v.name, message: v.message };
      }
      return v;
    },
    indent,
  );
  return text ?? 'null';
}

/** The error of a server that cannot listen, in words. */
function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  const where = `${host}:${port}`;
  const message =
    error.code === 'EADDRINUSE'
      ? `cannot serve the inspector on ${where}: port ${port} is in use (EADDRINUSE); pass another port, or port: 0 for a free one`
      : error.code === 'EACCES'
        ? `cannot serve the inspector on ${where}: permission denied (EACCES); use a port above 1023, or port: 0 for a free one`
        : error.code === 'EADDRNOTAVAIL'
          ? `cannot serve the inspector on ${where}: this machine has no such address (EADDRNOTAVAIL); leave host at 127.0.0.1`
          : `cannot serve the inspector on ${where}: ${error.message}`;
  return Object.assign(new Error(message, { cause: error }), { code: error.code });
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i;

/** The host to write in the page's URL. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Bound to a loopback address, only requests that name a loopback host are served: a web page
 * elsewhere cannot read the inspector through a DNS name that points at 127.0.0.1.
 */
function hostAllowed(header: string | undefined, host: string): boolean {
  if (!LOOPBACK.test(host)) return true;
  if (header === undefined) return true;
  const name = header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.replace(/:\d+$/, '');
  return LOOPBACK.test(name) || /\.localhost$/i.test(name);
}
