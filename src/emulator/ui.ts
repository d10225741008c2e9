/**
 * The emulator's chat page ("Webex in a box"): a person picks who they are, sees their rooms, talks
 * to the bots (text, markdown, @mentions, files, threads, Adaptive Cards), watches each device's
 * socket and fires faults at it. Served on the emulator's own listener at `/`, its assets under
 * `/ui/`, a JSON API under `/ui/api/` and live updates as server-sent events from `/ui/events`.
 *
 * The page acts as a person through the emulator's own API (postMessage, shareFile, submitCard…),
 * never with a token: no token is ever in an answer or an event. The API only answers requests
 * whose Host is the emulator's (or a loopback name on its port), and POSTs only with the
 * `x-sparkbot-ui` header, which a cross-site form or script cannot send without a CORS preflight
 * the emulator never grants.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import createDebug from 'debug';
import type { ConnectionRecord, FaultHitRecord, FrameRecord, WebexEmulator } from './emulator.js';
import { type EmulatedDevice, type EmulatedMessage, type EmulatedPerson, type EmulatedRoom, findWhole, HttpProblem, readAll, readJson, scanOf } from './model.js';
import { routeRest } from './rest.js';

const log = createDebug('sparkbot:emulator:ui');

/** A live machine view shown in the chat page's machine panel (see `WebexEmulator.addInspector`). */
export interface InspectorEntry {
  /** The tab's title, e.g. the bot's name. */
  readonly name: string;
  /** The page to show (an http(s) URL), e.g. the one `localInspector()` serves. */
  readonly url: string;
}

/** One line of the activity log, as `/ui/api/log` and the `log` events give it. */
export interface UiLogEntry {
  readonly seq: number;
  readonly at: number;
  /** connection, authorized, ready, close, ping, pong, ack, delivery, frame, registration, request, fault, restart, ui */
  readonly kind: string;
  /** The device concerned, when there is one. */
  readonly deviceUuid?: string;
  /** The person concerned (the device's owner, the request's author), as a REST id. */
  readonly personId?: string;
  readonly who?: string;
  readonly connectionId?: number;
  readonly text: string;
}

/** The header every POST of the page carries (a cross-site request cannot, without a preflight). */
export const UI_HEADER = 'x-sparkbot-ui';

/** Log lines kept for a page that opens late. */
const LOG_KEPT = 2_000;
/** What the page's upload may weigh: Webex's 100 MiB, and room for the fields. */
const MAX_UPLOAD = 100 * 1024 * 1024 + 64 * 1024;
/** A comment line on every event stream this often, so that idle proxies and browsers keep it. */
const KEEP_ALIVE_MS = 15_000;
/** The route names of the "next REST request answers 429" fault: `**` matches as `*` does, and keeps them apart from routes a test arms itself. */
const REST_429_ROUTES = ['GET', 'POST', 'PUT', 'DELETE'].map((method) => `${method} /v1/**`);

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.LICENSE': 'text/plain; charset=utf-8',
};

/**
 * The folder of the page's files: `web/` beside this module (running from the sources), else the
 * sources' `src/emulator/web/` that the package ships (running from `dist/src/emulator/`).
 */
function findWebDir(): string {
  const here = fileURLToPath(new URL('./web/', import.meta.url));
  if (existsSync(join(here, 'index.html'))) return here;
  const shipped = fileURLToPath(new URL('../../../src/emulator/web/', import.meta.url));
  return existsSync(join(shipped, 'index.html')) ? shipped : here;
}

/** The chat page's server side: static files, the JSON API, the event stream. One per emulator. */
export class EmulatorUi {
  private readonly webDir = findWebDir();
  private readonly clients = new Set<ServerResponse>();
  private readonly logEntries: UiLogEntry[] = [];
  private seq = 0;
  /** The verb of recent activities by id, to name what a delivery carried. */
  private readonly verbs = new Map<string, string>();
  private frozen = false;
  private readonly keepAlive: NodeJS.Timeout;
  private readonly listener = (kind: string, detail: unknown): void => {
    try {
      this.observe(kind, detail);
    } catch (error) {
      log('could not report %s: %s', kind, (error as Error).message);
    }
  };

  constructor(private readonly emulator: WebexEmulator) {
    emulator.on('change', this.listener);
    this.keepAlive = setInterval(() => {
      for (const client of this.clients) client.write(': keep-alive\n\n');
    }, KEEP_ALIVE_MS);
    this.keepAlive.unref();
  }

  /** Whether a request path is the page's: `/`, or anything under `/ui/`. */
  static owns(path: string): boolean {
    return path === '/' || path === '/ui' || path.startsWith('/ui/');
  }

  /** Ends the event streams and stops listening to the emulator. */
  close(): void {
    clearInterval(this.keepAlive);
    this.emulator.off('change', this.listener);
    for (const client of this.clients) client.end();
    this.clients.clear();
  }

  /** Answers a request of the page (see {@link owns}). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.emulator.url);
    const method = req.method ?? 'GET';
    try {
      this.checkOrigin(req, method);
      const path = url.pathname;
      if (path === '/ui/events') {
        if (method !== 'GET') throw new HttpProblem(405, 'The event stream is read with GET.');
        this.openStream(req, res);
        return;
      }
      if (path.startsWith('/ui/api/')) {
        const answer = await this.api(method, path.slice('/ui/api/'.length), url.searchParams, req);
        if (answer.raw) {
          res.writeHead(answer.status, { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...answer.headers });
          res.end(answer.raw);
        } else this.json(res, answer.status, answer.body);
        return;
      }
      if (method !== 'GET' && method !== 'HEAD') throw new HttpProblem(405, 'Only GET here.');
      await this.serveFile(path === '/' || path === '/ui' || path === '/ui/' ? 'index.html' : path.slice('/ui/'.length), res, method === 'HEAD');
    } catch (error) {
      const status = error instanceof HttpProblem ? error.status : 500;
      const message = error instanceof Error ? error.message : String(error);
      if (!(error instanceof HttpProblem)) log('500 on %s %s: %s', method, url.pathname, message);
      if (res.headersSent) res.end();
      else this.json(res, status, { message });
    }
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(text);
  }

  // ---------------------------------------------------------------- guards

  /**
   * Refuses a request that does not come from the page: a Host that is not the emulator's (DNS
   * rebinding), a cross-site Origin or fetch, a POST without the page's header.
   */
  private checkOrigin(req: IncomingMessage, method: string): void {
    const own = new URL(this.emulator.url);
    const host = (req.headers.host ?? '').toLowerCase();
    const wildcard = own.hostname === '0.0.0.0' || own.hostname === '[::]';
    const allowed = new Set([own.host, `127.0.0.1:${own.port}`, `localhost:${own.port}`, `[::1]:${own.port}`].map((h) => h.toLowerCase()));
    if (!wildcard && !allowed.has(host)) throw new HttpProblem(421, `The chat page answers only on ${own.host}.`);
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null') {
      let originHost: string;
      try {
        originHost = new URL(origin).host.toLowerCase();
      } catch {
        throw new HttpProblem(403, 'Cross-origin requests are refused.');
      }
      if (originHost !== host) throw new HttpProblem(403, 'Cross-origin requests are refused.');
    }
    const site = req.headers['sec-fetch-site'];
    // Following a link to the page from elsewhere is fine; being framed, fetched or posted to from elsewhere is not.
    const navigation = method === 'GET' && req.headers['sec-fetch-mode'] === 'navigate' && req.headers['sec-fetch-dest'] === 'document';
    if (typeof site === 'string' && site !== 'same-origin' && site !== 'none' && !navigation) throw new HttpProblem(403, 'Cross-site requests are refused.');
    if (method !== 'GET' && method !== 'HEAD' && req.headers[UI_HEADER] === undefined) throw new HttpProblem(403, `The chat page's requests carry an ${UI_HEADER} header.`);
  }

  // ---------------------------------------------------------------- static files

  private async serveFile(relative: string, res: ServerResponse, head: boolean): Promise<void> {
    if (!/^[A-Za-z0-9._/-]+$/.test(relative) || relative.split('/').some((part) => part === '..' || part === '')) throw new HttpProblem(404, 'Not found.');
    const file = normalize(join(this.webDir, relative));
    if (!file.startsWith(this.webDir.endsWith(sep) ? this.webDir : `${this.webDir}${sep}`)) throw new HttpProblem(404, 'Not found.');
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch {
      throw new HttpProblem(404, 'Not found.');
    }
    const ext = relative.endsWith('.LICENSE') ? '.LICENSE' : extname(relative);
    const headers: Record<string, string> = {
      'content-type': CONTENT_TYPES[ext] ?? 'application/octet-stream',
      'content-length': String(data.byteLength),
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    };
    if (ext === '.html') {
      // Everything comes from the emulator itself; machine views (other local ports) in frames;
      // card images wherever the card says.
      headers['content-security-policy'] =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: http: https:; media-src 'self' http: https:; frame-src http: https:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
      headers['referrer-policy'] = 'no-referrer';
    }
    res.writeHead(200, headers);
    res.end(head ? undefined : data);
  }

  // ---------------------------------------------------------------- events

  private openStream(req: IncomingMessage, res: ServerResponse): void {
    req.socket.setNoDelay(true);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-content-type-options': 'nosniff' });
    res.write('retry: 1000\n\n');
    res.write(`event: hello\ndata: ${JSON.stringify({ faults: this.faultState() })}\n\n`);
    this.clients.add(res);
    res.once('close', () => this.clients.delete(res));
  }

  private broadcast(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const client of this.clients) client.write(frame);
  }

  /** Turns what the emulator reports into events for the page. */
  private observe(kind: string, detail: unknown): void {
    const emulator = this.emulator;
    switch (kind) {
      case 'message':
        this.broadcast('message', this.messageJson(detail as EmulatedMessage));
        return;
      case 'activity':
        this.onActivity(detail as Record<string, unknown>);
        return;
      case 'person':
        this.broadcast('people', {});
        return;
      case 'inspectors':
        this.broadcast('inspectors', { items: this.inspectorsJson() });
        return;
      case 'registration': {
        const device = detail as EmulatedDevice;
        this.addLog({ kind, deviceUuid: device.uuid, ...this.ownerOf(device.uuid), text: 'device registered (WDM)' });
        this.broadcast('devices', {});
        return;
      }
      case 'connection':
      case 'authorized':
      case 'ready':
      case 'close': {
        const record = detail as ConnectionRecord;
        const text =
          kind === 'connection'
            ? `socket #${record.id} opened`
            : kind === 'authorized'
              ? `socket #${record.id} authorized`
              : kind === 'ready'
                ? `socket #${record.id} ready (buffer_state sent)`
                : `socket #${record.id} closed ${record.closeCode ?? ''}${record.closeReason ? ` "${record.closeReason}"` : ''}${record.closedBy ? ` by the ${record.closedBy}` : ''}`;
        this.addLog({ kind, deviceUuid: record.deviceUuid, connectionId: record.id, ...this.ownerOf(record.deviceUuid), text });
        if (kind !== 'authorized') this.broadcast('devices', {});
        return;
      }
      case 'ping': {
        const ping = emulator.pings.at(-1);
        if (ping) this.connectionLog(kind, ping.connectionId, `← ping ${short(ping.id)}${this.frozen ? ' (frozen: no pong)' : ' → pong'}`);
        return;
      }
      case 'pong':
        this.connectionLog(kind, (detail as ConnectionRecord).id, '← pong (to a protocol ping)');
        return;
      case 'ack': {
        const ack = emulator.acks.at(-1);
        if (ack) this.connectionLog(kind, ack.connectionId, `← ack ${short(ack.messageId)}`);
        return;
      }
      case 'delivery': {
        const delivery = emulator.deliveries.at(-1);
        if (!delivery) return;
        const verb = delivery.activityId === undefined ? undefined : this.verbs.get(delivery.activityId);
        this.connectionLog(kind, delivery.connectionId, `→ ${delivery.redelivery ? 'redelivered' : 'sent'} ${verb ? `activity "${verb}"` : 'event'} ${short(delivery.envelopeId)}`);
        return;
      }
      case 'frame': {
        const frame = detail as FrameRecord;
        this.connectionLog(kind, frame.connectionId, `← ${frame.type ?? (frame.binary ? 'binary' : 'text')} frame`);
        return;
      }
      case 'request': {
        const request = emulator.requests.at(-1);
        if (!request || request.method === 'WS') return;
        const person = request.personUuid === undefined ? undefined : emulator.people.get(request.personUuid);
        this.addLog({ kind, ...(person ? { personId: person.id, who: person.displayName } : {}), text: `${request.method} ${shortPath(request.path)} → ${request.status || 'cut'}` });
        return;
      }
      case 'fault': {
        const hit = detail as FaultHitRecord;
        this.addLog({ kind, text: `fault: ${hit.method} ${hit.path} answered ${hit.status || 'with a reset'}` });
        if (REST_429_ROUTES.includes(hit.route)) {
          for (const route of REST_429_ROUTES) emulator.clearFaults(route);
          this.broadcast('faults', this.faultState());
        }
        return;
      }
      case 'deviceDeleted':
      case 'expired':
        this.broadcast('devices', {});
        return;
      case 'restart':
        this.addLog({ kind, text: (detail as { down: boolean }).down ? 'emulator down (restart)' : 'emulator up again' });
        return;
      default:
        return;
    }
  }

  private onActivity(activity: Record<string, unknown>): void {
    const world = this.emulator.world;
    const verb = String(activity.verb);
    const id = String(activity.id);
    this.verbs.set(id, verb);
    if (this.verbs.size > 5_000) this.verbs.delete(this.verbs.keys().next().value as string);
    const object = (activity.object ?? {}) as Record<string, unknown>;
    const target = (activity.target ?? {}) as Record<string, unknown>;
    const roomId = typeof target.id === 'string' ? world.hydra('ROOM', target.id) : undefined;
    switch (verb) {
      case 'post':
      case 'share':
      case 'acknowledge':
        return; // the 'message' event tells it
      case 'cardAction': {
        const actor = (activity.actor ?? {}) as Record<string, unknown>;
        const parent = (activity.parent ?? {}) as Record<string, unknown>;
        const person = typeof actor.id === 'string' ? world.people.get(actor.id) : undefined;
        this.broadcast('cardAction', {
          id: world.hydra('ATTACHMENT_ACTION', id),
          roomId,
          messageId: typeof parent.id === 'string' ? world.hydra('MESSAGE', parent.id) : undefined,
          personId: person?.id,
          who: person?.displayName,
          inputs: object.inputs,
        });
        return;
      }
      case 'delete':
        this.broadcast('messageDeleted', { id: world.hydra('MESSAGE', String(object.id)), roomId });
        return;
      case 'update':
        if (object.objectType === 'content') {
          const message = world.messages.get(String(object.id));
          if (message) this.broadcast('messageUpdated', this.messageJson(message));
          return;
        }
        this.broadcast('rooms', { roomId });
        return;
      default:
        // create, add, leave, lock, unlock, (un)assignModerator
        this.broadcast('rooms', { roomId });
    }
  }

  private connectionLog(kind: string, connectionId: number, text: string): void {
    const record = this.emulator.connections[connectionId - 1]?.id === connectionId ? this.emulator.connections[connectionId - 1] : this.emulator.connections.find((c) => c.id === connectionId);
    this.addLog({ kind, connectionId, ...(record ? { deviceUuid: record.deviceUuid, ...this.ownerOf(record.deviceUuid) } : {}), text });
  }

  private ownerOf(deviceUuid: string): { personId?: string; who?: string } {
    const ownerUuid = this.emulator.devices.get(deviceUuid)?.ownerUuid ?? this.emulator.registrations.find((r) => r.deviceUuid === deviceUuid)?.personUuid;
    const person = ownerUuid === undefined ? undefined : this.emulator.people.get(ownerUuid);
    return person ? { personId: person.id, who: person.displayName } : {};
  }

  private addLog(entry: Omit<UiLogEntry, 'seq' | 'at'>): void {
    this.seq += 1;
    const full: UiLogEntry = { seq: this.seq, at: Date.now(), ...entry };
    this.logEntries.push(full);
    if (this.logEntries.length > LOG_KEPT + LOG_KEPT / 2) this.logEntries.splice(0, this.logEntries.length - LOG_KEPT); // in chunks, not one line at a time
    this.broadcast('log', full);
  }

  // ---------------------------------------------------------------- API

  private async api(method: string, route: string, query: URLSearchParams, req: IncomingMessage): Promise<{ status: number; body?: unknown; raw?: Buffer; headers?: Record<string, string> }> {
    const emulator = this.emulator;
    const world = emulator.world;
    const ok = (body: unknown) => ({ status: 200, body });
    const key = `${method} ${route}`;
    switch (key) {
      case 'GET people':
        return ok({ items: [...world.people.values()].map(personJson) });
      case 'POST people': {
        const body = await readBody(req);
        const displayName = typeof body.displayName === 'string' ? body.displayName.trim() : '';
        if (displayName === '' || displayName.length > 100) throw new HttpProblem(400, 'displayName is required (at most 100 characters).');
        const email = typeof body.email === 'string' && body.email.trim() !== '' ? body.email.trim() : undefined;
        if (email !== undefined && [...world.people.values()].some((p) => p.email === email)) throw new HttpProblem(409, `Someone has the email ${email} already.`);
        return ok(personJson(emulator.createUser({ displayName, ...(email === undefined ? {} : { email }) })));
      }
      case 'GET rooms': {
        const me = this.user(query.get('as'));
        const rooms = [...world.rooms.values()].filter((r) => r.members.has(me.uuid)).sort((a, b) => b.lastActivity.localeCompare(a.lastActivity));
        return ok({ items: rooms.map((r) => this.roomJson(r, me)) });
      }
      case 'POST rooms': {
        const body = await readBody(req);
        const me = this.user(body.as);
        const title = typeof body.title === 'string' ? body.title.trim() : '';
        if (title === '') throw new HttpProblem(400, 'title is required.');
        const others = (Array.isArray(body.members) ? body.members : []).map((id) => this.person(id)).filter((p) => p.uuid !== me.uuid);
        const room = emulator.createRoom({ title, members: [me, ...new Set(others)] });
        return ok(this.roomJson(room, me));
      }
      case 'POST direct': {
        const body = await readBody(req);
        const me = this.user(body.as);
        const other = this.person(body.with);
        if (other.uuid === me.uuid) throw new HttpProblem(400, 'A direct room is with someone else.');
        const existed = [...world.rooms.values()].some((r) => r.type === 'direct' && r.members.has(me.uuid) && r.members.has(other.uuid));
        const room = emulator.directRoom(me, other);
        if (!existed) this.broadcast('rooms', { roomId: room.id });
        return ok(this.roomJson(room, me));
      }
      case 'POST members': {
        const body = await readBody(req);
        const me = this.user(body.as);
        const room = this.roomOf(me, body.roomId);
        emulator.addMember(room, this.person(body.personId), me);
        return ok(this.roomJson(room, me));
      }
      case 'GET messages': {
        const me = this.user(query.get('as'));
        const room = this.roomOf(me, query.get('roomId'));
        return ok({ items: [...world.messages.values()].filter((m) => m.roomUuid === room.uuid).map((m) => this.messageJson(m)) });
      }
      case 'POST messages': {
        const body = await readBody(req);
        const me = this.user(body.as);
        const room = this.roomOf(me, body.roomId);
        const text = typeof body.text === 'string' ? body.text : undefined;
        const markdown = typeof body.markdown === 'string' && body.markdown.trim() !== '' ? body.markdown : undefined;
        if ((text === undefined || text.trim() === '') && markdown === undefined) throw new HttpProblem(400, 'A message needs text or markdown.');
        const picked = (Array.isArray(body.mentions) ? body.mentions : []).map((id) => this.person(id));
        const said = mentionsIn(world.people, room, me, [text ?? plainOf(markdown ?? ''), markdown], picked);
        const parentId = typeof body.parentId === 'string' && body.parentId !== '' ? body.parentId : undefined;
        const message = emulator.postMessage({
          from: me,
          room,
          text: said.texts[0] as string,
          ...(said.texts[1] === undefined ? {} : { markdown: said.texts[1] }),
          ...(parentId === undefined ? {} : { parentId }),
          ...(said.mentions.length ? { mentions: said.mentions } : {}),
        });
        return ok(this.messageJson(world.findMessage(message.id)));
      }
      case 'POST files': {
        const form = await readForm(req);
        const me = this.user(form.get('as'));
        const room = this.roomOf(me, form.get('roomId'));
        const files = form.getAll('file').filter((f): f is File => typeof f !== 'string');
        if (files.length === 0) throw new HttpProblem(400, 'Attach a file (field "file").');
        const caption = form.get('text');
        const said = mentionsIn(world.people, room, me, [typeof caption === 'string' ? caption : ''], []);
        const shared = emulator.shareFile({
          from: me,
          room,
          text: said.texts[0] as string,
          files: await Promise.all(files.map(async (f) => ({ filename: f.name || 'file', data: new Uint8Array(await f.arrayBuffer()), ...(f.type ? { contentType: f.type } : {}) }))),
          ...(said.mentions.length ? { mentions: said.mentions } : {}),
        });
        return ok(this.messageJson(world.findMessage(String(shared.id))));
      }
      case 'POST submit': {
        const body = await readBody(req);
        const me = this.user(body.as);
        if (typeof body.messageId !== 'string') throw new HttpProblem(400, 'messageId is required.');
        const inputs = typeof body.inputs === 'object' && body.inputs !== null && !Array.isArray(body.inputs) ? (body.inputs as Record<string, unknown>) : {};
        return ok(emulator.submitCard({ by: me, messageId: body.messageId, inputs }));
      }
      case 'GET contents': {
        const me = this.user(query.get('as'));
        const id = query.get('id') ?? '';
        const answer = routeRest({ world, apiUrl: emulator.apiUrl, droppedNextParams: new Set() }, 'GET', `/contents/${encodeURIComponent(id)}`, query, me);
        if (!answer) throw new HttpProblem(404, 'Content not found.');
        if (!Buffer.isBuffer(answer.body)) return { status: answer.status, body: answer.body, ...(answer.headers ? { headers: answer.headers } : {}) };
        return { status: answer.status, raw: answer.body, headers: { ...answer.headers, 'content-length': String(answer.body.byteLength) } };
      }
      case 'GET devices':
        return ok({ items: this.devicesJson() });
      case 'GET log':
        return ok({ items: this.logEntries.slice(-500) });
      case 'GET inspectors':
        return ok({ items: this.inspectorsJson() });
      case 'GET faults':
        return ok(this.faultState());
      case 'POST faults/drop': {
        const body = await readBody(req);
        const deviceUuid = this.deviceOption(body.deviceUuid);
        const dropped = emulator.dropConnections({ code: 1011, reason: 'emulated fault (chat page)', ...(deviceUuid ? { deviceUuid } : {}) });
        this.addLog({ kind: 'ui', ...(deviceUuid ? { deviceUuid } : {}), text: `fault: dropped ${dropped} socket(s) with 1011` });
        return ok({ dropped });
      }
      case 'POST faults/restart': {
        const body = await readBody(req);
        const deviceUuid = this.deviceOption(body.deviceUuid);
        // The close Webex recycles a socket with: 1000 "Done (forced)"; clients reconnect at once.
        const dropped = emulator.dropConnections({ code: 1000, reason: 'Done (forced)', ...(deviceUuid ? { deviceUuid } : {}) });
        this.addLog({ kind: 'ui', ...(deviceUuid ? { deviceUuid } : {}), text: `fault: recycled ${dropped} socket(s) (1000 "Done (forced)")` });
        return ok({ dropped });
      }
      case 'POST faults/freeze': {
        const body = await readBody(req);
        this.frozen = typeof body.on === 'boolean' ? body.on : !this.frozen;
        emulator.setPongMode(this.frozen ? 'ignore' : 'normal');
        this.addLog({ kind: 'ui', text: this.frozen ? 'fault: frozen (pings get no pong)' : 'unfrozen (pings answered)' });
        this.broadcast('faults', this.faultState());
        return ok(this.faultState());
      }
      case 'POST faults/429': {
        await readBody(req);
        for (const route of REST_429_ROUTES) {
          emulator.clearFaults(route);
          emulator.failNext(route, { status: 429, retryAfter: 2 });
        }
        this.addLog({ kind: 'ui', text: 'fault: the next REST request answers 429 (Retry-After: 2)' });
        this.broadcast('faults', this.faultState());
        return ok(this.faultState());
      }
      default:
        throw new HttpProblem(404, `No route for ${method} /ui/api/${route}.`);
    }
  }

  private faultState(): { frozen: boolean; rest429: boolean } {
    return { frozen: this.frozen, rest429: REST_429_ROUTES.some((route) => this.emulator.armedFaults(route) > 0) };
  }

  private inspectorsJson(): Array<{ id: number; name: string; url: string }> {
    return this.emulator.inspectors.map((entry, i) => ({ id: i, name: entry.name, url: entry.url }));
  }

  private devicesJson(): Array<Record<string, unknown>> {
    const emulator = this.emulator;
    return [...emulator.devices.values()].map((device) => {
      const owner = emulator.people.get(device.ownerUuid);
      const open = emulator.openConnections(device.uuid).filter((c) => c.closedAt === undefined);
      const last = emulator.connections.findLast((c) => c.deviceUuid === device.uuid);
      return {
        uuid: device.uuid,
        ownerId: owner?.id,
        owner: owner?.displayName,
        ownerType: owner?.type,
        open: open.length,
        ready: open.some((c) => c.readyAt !== undefined),
        pending: device.pending.size,
        ...(last?.closeCode === undefined ? {} : { lastClose: last.closeCode }),
      };
    });
  }

  private deviceOption(value: unknown): string | undefined {
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string' || !this.emulator.devices.has(value)) throw new HttpProblem(404, 'Device not found.');
    return value;
  }

  /** The person the page acts as: a user (not a bot) the emulator knows. */
  private user(id: unknown): EmulatedPerson {
    const person = this.person(id, 'as');
    if (person.type !== 'person') throw new HttpProblem(403, 'The chat page acts as a user, not as a bot.');
    return person;
  }

  private person(id: unknown, name = 'personId'): EmulatedPerson {
    if (typeof id !== 'string' || id === '') throw new HttpProblem(400, `${name} is required.`);
    return this.emulator.world.findPerson(id);
  }

  private roomOf(me: EmulatedPerson, id: unknown): EmulatedRoom {
    if (typeof id !== 'string' || id === '') throw new HttpProblem(400, 'roomId is required.');
    return this.emulator.world.findRoom(id, me);
  }

  private roomJson(room: EmulatedRoom, me: EmulatedPerson): Record<string, unknown> {
    const people = this.emulator.people;
    const members = [...room.members].map((uuid) => people.get(uuid)).filter((p): p is EmulatedPerson => p !== undefined);
    const other = room.type === 'direct' ? members.find((p) => p.uuid !== me.uuid) : undefined;
    return {
      id: room.id,
      type: room.type,
      title: other?.displayName ?? room.title,
      isLocked: room.isLocked,
      lastActivity: room.lastActivity,
      created: room.created,
      members: members.map((p) => ({ ...personJson(p), isModerator: room.moderators.has(p.uuid) })),
    };
  }

  private messageJson(message: EmulatedMessage): Record<string, unknown> {
    const world = this.emulator.world;
    const author = world.people.get(message.personUuid);
    return {
      id: message.id,
      roomId: message.roomId,
      personId: message.personId,
      author: author?.displayName ?? '?',
      authorType: author?.type ?? 'person',
      ...(message.text === undefined ? {} : { text: message.text }),
      ...(message.markdown === undefined ? {} : { markdown: message.markdown }),
      ...(message.parentId === undefined ? {} : { parentId: message.parentId }),
      mentions: (message.mentionedPeople ?? []).map((uuid) => {
        const person = world.people.get(uuid);
        return { id: world.hydra('PEOPLE', uuid), displayName: person?.displayName ?? '' };
      }),
      files: (message.shared ?? []).map((file, i) => {
        const contentId = world.contentUrl(message, i).split('/contents/')[1] ?? '';
        return { contentId, name: file.name, size: file.data.byteLength, contentType: file.contentType, scan: scanOf(file) };
      }),
      links: message.files ?? [],
      ...(message.attachments === undefined ? {} : { attachments: message.attachments }),
      created: message.created,
    };
  }
}

function personJson(person: EmulatedPerson): { id: string; displayName: string; email: string; type: 'person' | 'bot' } {
  return { id: person.id, displayName: person.displayName, email: person.email, type: person.type };
}

/** A path with its long ids cut short, for the log. */
function shortPath(path: string): string {
  return path
    .split('/')
    .map((part) => (part.length > 24 ? short(part) : part))
    .join('/');
}

function short(id: string): string {
  return id.length > 8 ? `${id.slice(0, 8)}…` : id;
}

/**
 * Finds the `@Display Name`s of `room`'s members (other than `from`) in `texts` and takes their `@`
 * away, as a Webex client does when a name is picked (and as `user.says` does): longest names first,
 * a whole word not glued to another word or `@`. Only in group rooms; `picked` are mentioned anyway.
 */
export function mentionsIn(
  people: ReadonlyMap<string, EmulatedPerson>,
  room: EmulatedRoom,
  from: EmulatedPerson,
  texts: ReadonlyArray<string | undefined>,
  picked: readonly EmulatedPerson[],
): { texts: Array<string | undefined>; mentions: EmulatedPerson[] } {
  const mentions = picked.filter((p) => room.members.has(p.uuid) && p.uuid !== from.uuid);
  if (room.type !== 'group') return { texts: [...texts], mentions: [] };
  const members = [...room.members]
    .map((uuid) => people.get(uuid))
    .filter((p): p is EmulatedPerson => p !== undefined && p.uuid !== from.uuid)
    .sort((a, b) => b.displayName.length - a.displayName.length);
  const out = texts.map((text) => {
    if (text === undefined) return undefined;
    let said = text;
    for (const member of members) {
      let at: number;
      while ((at = findWhole(said, `@${member.displayName}`)) >= 0 && (at === 0 || !/[\p{L}\p{N}_@]/u.test(said[at - 1] as string))) {
        said = `${said.slice(0, at)}${said.slice(at + 1)}`;
        if (!mentions.includes(member)) mentions.push(member);
      }
    }
    return said;
  });
  return { texts: out, mentions };
}

/** The plain text of a little markdown (what a Webex client sends as `text` beside `markdown`). */
export function plainOf(markdown: string): string {
  return markdown
    .replace(/```[^\n]*\n([\s\S]*?)```/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/!?\[([^\]]*)\]\(([^)]*)\)/g, '$1 ($2)')
    .replace(/(\*\*|__)(.+?)\1/g, '$2')
    .replace(/(\*|_)(.+?)\1/g, '$2')
    .replace(/^\s{0,3}(#{1,6}|>)\s?/gm, '')
    .trim();
}

/** The page's JSON body; an empty one is an empty object. */
async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return (await readJson(req)) ?? {};
}

async function readForm(req: IncomingMessage): Promise<FormData> {
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\s*;/i.test(type)) throw new HttpProblem(415, 'Send the file as multipart/form-data.');
  const raw = await readAll(req, MAX_UPLOAD);
  try {
    return await new Response(raw, { headers: { 'content-type': type } }).formData();
  } catch {
    throw new HttpProblem(400, 'The request body is not valid multipart/form-data.');
  }
}
