/**
 * A local Webex on 127.0.0.1: WDM device registration, Mercury sockets and the REST resources a
 * bot uses, speaking the protocol of webex-protocol.md, with fault controls and records of what
 * it saw. Used by sparkbot's tests and demo, and by anyone who wants to test a bot offline.
 *
 *   const emulator = await WebexEmulator.start();
 *   const bot = emulator.createBot({ displayName: 'Echo' });
 *   const alice = emulator.createUser({ displayName: 'Alice' });
 *   new SparkBot({ token: bot.token, ...emulator.botOptions() });
 *   emulator.postMessage({ from: alice, toPerson: bot, text: 'hello' });
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import createDebug from 'debug';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import {
  type EmulatedAction,
  type EmulatedDevice,
  type EmulatedMessage,
  type EmulatedPerson,
  type EmulatedRoom,
  type EmulatedTeam,
  type FileScan,
  HttpProblem,
  newUuid,
  now,
  World,
} from './model.js';
import { routeRest, type UploadedFile } from './rest.js';
import { guessContentType } from '../rest/files.js';
import { Waiters } from './waiters.js';
import type { Message } from '../rest/types.js';

const log = createDebug('sparkbot:emulator');

export interface EmulatorOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  readonly port?: number;
  /** Host to listen on; default 127.0.0.1. */
  readonly host?: string;
  /** ms a socket may stay unauthorized before the server closes it with 4401; default 30000. */
  readonly authTimeout?: number;
  /**
   * The Webex cluster of the emulated org, as the service catalog names it; default
   * 'urn:TEAM:us-east-2_a' (Hydra ids in cluster `us`). E.g. 'urn:TEAM:eu-central-1_k' makes every
   * conversation id (room, message, membership, card action) use that cluster.
   */
  readonly clusterId?: string;
}

/** A canned answer for the next requests of a route; see {@link WebexEmulator.failNext}. */
export interface FaultReply {
  /** The HTTP status; 0 with `reset` (no answer at all). */
  readonly status: number;
  /** Cut the connection without any answer: the client sees a network error. */
  readonly reset?: boolean;
  /** Value of the Retry-After header, as sent (seconds or an HTTP date). */
  readonly retryAfter?: number | string;
  readonly body?: unknown;
  /** More response headers (e.g. `link`, `trackingid`, `content-type`); they replace the emulator's own. */
  readonly headers?: Readonly<Record<string, string>>;
  /** How many requests get this answer; default 1. */
  readonly times?: number;
}

export type PongMode = 'normal' | 'ignore' | 'mismatch';

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  /** The query string, with its `?` ('' when there is none). */
  readonly query: string;
  readonly status: number;
  /** When the request arrived. */
  readonly startedAt: number;
  /** When it was answered. */
  readonly at: number;
  readonly personUuid: string | undefined;
}

/** A file that arrived with a multipart `POST /v1/messages`. */
export interface UploadRecord {
  /** The message it made (Hydra id). */
  readonly messageId: string;
  /** Where it is downloaded: the message's `files[0]`. */
  readonly contentUrl: string;
  readonly personUuid: string;
  readonly roomId: string;
  readonly filename: string;
  readonly contentType: string;
  readonly data: Buffer;
  /** The other form fields (roomId, text, markdown…). */
  readonly fields: Readonly<Record<string, string>>;
  readonly at: number;
}

/** A file to share with {@link WebexEmulator.shareFile}: a name (placeholder bytes) or its bytes. */
export type SharedFileInit = string | { readonly filename: string; readonly data: Uint8Array | string; readonly contentType?: string };

export interface RegistrationRecord {
  readonly deviceUuid: string;
  readonly personUuid: string;
  readonly at: number;
  readonly body: Record<string, unknown>;
  readonly query: string;
}

export interface ConnectionRecord {
  readonly id: number;
  readonly deviceUuid: string;
  /** The path and query string of the upgrade request. */
  readonly url: string;
  readonly openedAt: number;
  authorizedAt?: number;
  readyAt?: number;
  closedAt?: number;
  closeCode?: number;
  closeReason?: string;
  /** Who started the close: the client, the server (a fault), or nobody (the TCP link just ended). */
  closedBy?: 'client' | 'server';
  /** When the server read the end of the client's stream (its FIN): the client has let go, the close is under way. */
  peerEndedAt?: number;
}

/** A request answered by an armed {@link WebexEmulator.failNext} fault instead of its route. */
export interface FaultHitRecord {
  /** The route as given to failNext, e.g. "POST /wdm/api/v1/devices". */
  readonly route: string;
  readonly method: string;
  readonly path: string;
  /** The status answered (0 for a reset). */
  readonly status: number;
  readonly at: number;
}

export interface PingRecord {
  readonly connectionId: number;
  readonly id: string;
  readonly at: number;
}

export interface AckRecord {
  readonly connectionId: number;
  readonly messageId: string;
  readonly at: number;
}

export interface DeliveryRecord {
  readonly connectionId: number;
  readonly envelopeId: string;
  readonly activityId: string | undefined;
  readonly redelivery: boolean;
  readonly at: number;
}

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
}

interface ActiveFault {
  /** The route as given to failNext, for the records. */
  readonly name: string;
  readonly route: Route;
  readonly reply: FaultReply;
  remaining: number;
}

interface Hold {
  readonly route: Route;
  readonly waiting: Array<() => void>;
  released: boolean;
}

interface LiveConnection {
  readonly record: ConnectionRecord;
  readonly ws: WebSocket;
  readonly socket: Socket;
  personUuid: string | undefined;
  sequence: number;
  ready: boolean;
  authTimer: NodeJS.Timeout | undefined;
}

/** Route strings are `"<METHOD> <path>"`, `*` matching any run of characters; handshakes use the method `WS`. */
function parseRoute(route: string): Route {
  const match = /^([A-Z]+)\s+(\/\S*)$/.exec(route.trim());
  if (!match) throw new TypeError(`route must look like "POST /wdm/api/v1/devices" or "WS /mercury/*", got ${JSON.stringify(route)}`);
  const [, method, path] = match as unknown as [string, string, string];
  const pattern = new RegExp(`^${path.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return { method, pattern };
}

const routeMatches = (route: Route, method: string, path: string): boolean => route.method === method && route.pattern.test(path);

export class WebexEmulator extends EventEmitter {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The WDM devices URL, for a bot's `wdmUrl` option. */
  readonly wdmUrl: string;
  /** The REST base URL, for a bot's `apiUrl` option. */
  readonly apiUrl: string;

  /** People, rooms, messages, teams… (see model.ts). */
  readonly world: World;
  readonly devices = new Map<string, EmulatedDevice>();
  /** The U2C service catalog base, for a bot's `u2cUrl` option. */
  readonly u2cUrl: string;
  private readonly clusterId: string;
  private readonly droppedNextParams = new Set<string>();

  /** Every HTTP request and socket handshake, in order. */
  readonly requests: RequestRecord[] = [];
  /** Every successful device registration (POST to WDM). */
  readonly registrations: RegistrationRecord[] = [];
  /** Every DELETE of a device, found or not. */
  readonly deviceDeletions: Array<{ readonly deviceUuid: string; readonly found: boolean; readonly at: number }> = [];
  readonly connections: ConnectionRecord[] = [];
  readonly pings: PingRecord[] = [];
  readonly acks: AckRecord[] = [];
  /** Protocol-level pongs the clients sent (answers to {@link sendPings}). */
  protocolPongs = 0;
  readonly deliveries: DeliveryRecord[] = [];
  /** Every request answered by a failNext fault, in order. */
  readonly faultHits: FaultHitRecord[] = [];
  /** HTTP requests whose client went away before they were answered (aborted, timed out); the emulator still handles them, as a server would. */
  readonly abandonedRequests: Array<{ readonly method: string; readonly path: string; readonly at: number }> = [];
  /** Every file uploaded with a multipart `POST /v1/messages`, in order. */
  readonly uploads: UploadRecord[] = [];
  /** Every event sent to a person's devices: `{ personUuid, data }` (data.activity for conversation activities). */
  readonly events: Array<{ readonly personUuid: string; readonly data: Record<string, unknown> }> = [];

  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly live = new Set<LiveConnection>();
  /** Sockets whose upgrade request is waiting (latency, hold): a restart cuts them too. */
  private readonly upgrading = new Set<Socket>();
  private readonly faults: ActiveFault[] = [];
  private readonly holds: Hold[] = [];
  private readonly latencies: Array<{ route: Route; ms: number | (() => number) }> = [];
  private ignoreAcks = false;
  private uploadScan: FileScan = 'safe';
  private readonly authTimeout: number;
  /** Requests waiting on a {@link hold} now. */
  heldRequests = 0;
  private pongMode: PongMode = 'normal';
  private withholdBufferState = false;
  private connectionCount = 0;
  private readonly waiters = new Waiters();

  private constructor(server: Server, options: EmulatorOptions) {
    super();
    this.server = server;
    this.authTimeout = options.authTimeout ?? 30_000;
    const { port } = server.address() as AddressInfo;
    const host = options.host ?? '127.0.0.1';
    this.url = `http://${host}:${port}`;
    this.wdmUrl = `${this.url}/wdm/api/v1/devices`;
    this.apiUrl = `${this.url}/v1`;
    this.u2cUrl = `${this.url}/u2c/api/v1`;
    this.clusterId = options.clusterId ?? 'urn:TEAM:us-east-2_a';
    this.world = new World(
      this.clusterId,
      (roomUuid) => `${this.url}/conversation/api/v1/conversations/${roomUuid}`,
      (recipients, activity) => {
        for (const personUuid of recipients) this.sendEvent(personUuid, { eventType: 'conversation.activity', activity });
      },
      (message) => this.emitChange('message', message),
    );
    this.wss = new WebSocketServer({ noServer: true });
    server.on('request', (req, res) => void this.onRequest(req, res));
    server.on('upgrade', (req, socket, head) => void this.onUpgrade(req, socket as Socket, head));
  }

  static async start(options: EmulatorOptions = {}): Promise<WebexEmulator> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    const emulator = new WebexEmulator(server, options);
    log('listening on %s', emulator.url);
    return emulator;
  }

  /** The options a SparkBot needs to talk to this emulator (add `token`). */
  botOptions(): { wdmUrl: string; apiUrl: string; u2cUrl: string; allowInsecure: true } {
    return { wdmUrl: this.wdmUrl, apiUrl: this.apiUrl, u2cUrl: this.u2cUrl, allowInsecure: true };
  }

  /**
   * Restarts the server as a crash would: every socket is cut (the bots see 1006), nothing listens
   * for `downFor` ms (connections are refused), then it listens again on the same port. People,
   * rooms, devices and envelopes not acked yet survive.
   */
  async restart(downFor = 0): Promise<void> {
    const { port } = this.server.address() as AddressInfo;
    for (const conn of this.live) {
      conn.record.closedBy ??= 'server';
      conn.ws.terminate();
    }
    for (const socket of this.upgrading) socket.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.emitChange('restart', { down: true });
    if (downFor > 0) await new Promise((resolve) => setTimeout(resolve, downFor));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, new URL(this.url).hostname, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.emitChange('restart', { down: false });
  }

  /** Closes every socket and the server. */
  async close(): Promise<void> {
    for (const hold of [...this.holds]) this.releaseHold(hold);
    for (const conn of this.live) conn.ws.terminate();
    for (const socket of this.upgrading) socket.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---------------------------------------------------------------- people, rooms, messages

  get people(): Map<string, EmulatedPerson> {
    return this.world.people;
  }

  get rooms(): Map<string, EmulatedRoom> {
    return this.world.rooms;
  }

  get messages(): Map<string, EmulatedMessage> {
    return this.world.messages;
  }

  /** A person; `token` defaults to a fresh random one. */
  createUser(init: { displayName: string; email?: string; token?: string }): EmulatedPerson {
    return this.world.createPerson({ ...init, type: 'person' });
  }

  /** A bot (email `…@webex.bot`); `token` defaults to a fresh random one. */
  createBot(init: { displayName: string; email?: string; token?: string }): EmulatedPerson {
    return this.world.createPerson({ ...init, type: 'bot' });
  }

  /** A group room: the first member creates it (`create`) and adds the others (`add` each). */
  createRoom(init: { title: string; members: readonly EmulatedPerson[]; team?: EmulatedTeam }): EmulatedRoom {
    return this.world.createRoom({ title: init.title, members: init.members, ...(init.team ? { teamUuid: init.team.uuid } : {}) });
  }

  /** The direct (1:1) room of two people, created on first use. */
  directRoom(a: EmulatedPerson, b: EmulatedPerson): EmulatedRoom {
    return this.world.directRoom(a, b);
  }

  /**
   * Posts a message as `from`, as a Webex client would: stores it and sends a
   * `conversation.activity` (verb `post`) to the devices of every member of the room, the
   * author's included. Give `room` (or `roomId`) for a room, or `toPerson` for a direct message;
   * `parentId` to reply in a thread; `mentions` to mention people (group rooms).
   */
  postMessage(init: {
    from: EmulatedPerson;
    text?: string;
    markdown?: string;
    room?: EmulatedRoom;
    roomId?: string;
    toPerson?: EmulatedPerson;
    parentId?: string;
    mentions?: readonly EmulatedPerson[];
    attachments?: unknown[];
  }): Message {
    const room = this.roomFor(init);
    const message = this.world.createMessage(init.from, room, {
      text: init.text,
      markdown: init.markdown,
      parentId: init.parentId,
      mentionedPeople: init.mentions?.map((p) => p.id),
      attachments: init.attachments,
    });
    return this.world.messageJson(message) as unknown as Message;
  }

  /**
   * Shares files as `from` (verb `share`); with `scan: 'pending'` they stay 'unchecked' (downloads
   * answer 423) until {@link finishScan}. A file is a name (its bytes are a placeholder, its type
   * guessed from the name) or `{ filename, data, contentType? }`.
   */
  shareFile(init: { from: EmulatedPerson; room?: EmulatedRoom; toPerson?: EmulatedPerson; text?: string; files: readonly SharedFileInit[]; scan?: 'safe' | 'pending' }): Record<string, unknown> {
    const room = this.roomFor(init);
    const state = init.scan === 'pending' ? 'unchecked' : 'safe';
    const shared = init.files.map((file) => {
      const name = typeof file === 'string' ? file : file.filename;
      const data = typeof file === 'string' ? Buffer.from(`emulated content of ${name}\n`) : typeof file.data === 'string' ? Buffer.from(file.data) : Buffer.from(file.data);
      const contentType = (typeof file === 'string' ? undefined : file.contentType) ?? guessContentType(name);
      return { name, data, contentType, malwareQuarantineState: state } as const;
    });
    const message = this.world.createMessage(init.from, room, { text: init.text ?? '', shared: shared.map((f) => ({ ...f })) });
    return this.world.messageJson(message);
  }

  /** The scan of a shared file ends: `update` of its content with the verdict (downloads follow it). */
  finishScan(messageId: string, verdict: 'safe' | 'infected'): void {
    this.world.finishScan(this.world.findMessage(messageId), verdict);
  }

  /**
   * What downloads of a file (its content URL, or id) answer from now on: 'scanning' → 423 with
   * Retry-After (`retryAfter`, default 2 seconds), 'infected' → 410, 'unscannable' → 428 unless
   * `?allow=unscannable`, 'safe' → the bytes. No activity is sent (finishScan announces a verdict).
   */
  setFileScan(contentIdOrUrl: string, scan: FileScan, options: { retryAfter?: number | string } = {}): void {
    const { file } = this.world.findContent(contentIdOrUrl);
    file.scan = scan;
    if (options.retryAfter === undefined) delete file.retryAfter;
    else file.retryAfter = options.retryAfter;
  }

  /** What files uploaded from now on start as: 'safe' (default), or 'scanning' ('unchecked' in the share activity) until finishScan or setFileScan. */
  setUploadScan(scan: 'safe' | 'scanning'): void {
    this.uploadScan = scan;
  }

  /** `by` submits the card of message `messageId` (verb `cardAction`). */
  submitCard(init: { by: EmulatedPerson; messageId: string; inputs: Record<string, unknown> }): Record<string, unknown> {
    const action: EmulatedAction = this.world.submitCard(this.world.findMessage(init.messageId), init.by, init.inputs);
    return this.world.actionJson(action);
  }

  addMember(room: EmulatedRoom, person: EmulatedPerson, by: EmulatedPerson): void {
    this.world.addMember(room, person, by);
  }

  removeMember(room: EmulatedRoom, person: EmulatedPerson, by?: EmulatedPerson): void {
    this.world.removeMember(room, person, by);
  }

  setModerator(room: EmulatedRoom, person: EmulatedPerson, isModerator: boolean, by: EmulatedPerson): void {
    this.world.setModerator(room, person, isModerator, by);
  }

  setLocked(room: EmulatedRoom, locked: boolean, by: EmulatedPerson): void {
    this.world.setLocked(room, locked, by);
  }

  renameRoom(room: EmulatedRoom, title: string, by: EmulatedPerson): void {
    this.world.rename(room, title, by);
  }

  deleteMessage(messageId: string, by: EmulatedPerson): void {
    this.world.deleteMessage(this.world.findMessage(messageId), by);
  }

  acknowledge(messageId: string, by: EmulatedPerson): void {
    this.world.acknowledge(this.world.findMessage(messageId), by);
  }

  createTeam(name: string, creator: EmulatedPerson): EmulatedTeam {
    return this.world.createTeam(name, creator);
  }

  private roomFor(init: { from: EmulatedPerson; room?: EmulatedRoom; roomId?: string; toPerson?: EmulatedPerson }): EmulatedRoom {
    const room = init.room ?? (init.roomId ? this.world.findRoom(init.roomId) : undefined) ?? (init.toPerson ? this.world.directRoom(init.from, init.toPerson) : undefined);
    if (!room) throw new TypeError('give room, roomId or toPerson');
    return room;
  }

  /**
   * Sends an event envelope to every device of a person. It stays pending until a socket of the
   * device acks it, and is delivered again to the next socket of that device until then.
   */
  sendEvent(personUuid: string, data: Record<string, unknown>): void {
    this.events.push({ personUuid, data });
    for (const device of this.devices.values()) {
      if (device.ownerUuid !== personUuid) continue;
      const envelope: Record<string, unknown> = { id: randomUUID(), data, filterMessage: false };
      device.pending.set(envelope.id as string, envelope);
      for (const conn of this.live) {
        if (conn.record.deviceUuid === device.uuid && conn.ready) this.deliver(conn, envelope, false);
      }
    }
  }

  private deliver(conn: LiveConnection, envelope: Record<string, unknown>, redelivery: boolean): void {
    conn.sequence += 1;
    const frame = { ...envelope, sequenceNumber: conn.sequence, wsWriteTimestamp: Date.now() };
    conn.ws.send(JSON.stringify(frame));
    const activity = (envelope.data as { activity?: { id?: string } } | undefined)?.activity;
    this.deliveries.push({ connectionId: conn.record.id, envelopeId: envelope.id as string, activityId: activity?.id, redelivery, at: Date.now() });
    this.emitChange('delivery', conn.record);
  }

  // ---------------------------------------------------------------- faults

  /** Answers the next request(s) of `route` (e.g. `"POST /wdm/api/v1/devices"`, `"WS /mercury/*"`) with `reply`. */
  failNext(route: string, reply: FaultReply): void {
    this.faults.push({ name: route.trim(), route: parseRoute(route), reply, remaining: reply.times ?? 1 });
  }

  /** Disarms every failNext answer not given yet (of one route, or all); returns how many answers were left. */
  clearFaults(route?: string): number {
    const armed = this.faultsOf(route);
    for (const fault of armed) this.faults.splice(this.faults.indexOf(fault), 1);
    return armed.reduce((n, f) => n + f.remaining, 0);
  }

  /** failNext answers armed and not given yet (of one route, or all). */
  armedFaults(route?: string): number {
    return this.faultsOf(route).reduce((n, f) => n + f.remaining, 0);
  }

  /** The armed faults given for `route` (the same route string, however written), or all. */
  private faultsOf(route: string | undefined): ActiveFault[] {
    const only = route === undefined ? undefined : parseRoute(route);
    return this.faults.filter((f) => !only || (f.route.method === only.method && f.route.pattern.source === only.pattern.source));
  }

  /** Holds requests of `route` unanswered until `release()` is called. */
  hold(route: string): { release(): void } {
    const hold: Hold = { route: parseRoute(route), waiting: [], released: false };
    this.holds.push(hold);
    return { release: () => this.releaseHold(hold) };
  }

  private releaseHold(hold: Hold): void {
    hold.released = true;
    this.holds.splice(this.holds.indexOf(hold) >>> 0, 1);
    for (const go of hold.waiting.splice(0)) go();
  }

  /** Leaves query parameter `name` out of the `next` links of list answers (a known Webex quirk). */
  dropQueryParamInNextLinks(name: string): void {
    this.droppedNextParams.add(name);
  }

  /** Adds latency to every request of `route`: `ms`, or a function drawing it per request; 0 removes it. */
  setLatency(route: string, ms: number | (() => number)): void {
    const parsed = parseRoute(route);
    const existing = this.latencies.findIndex((l) => l.route.method === parsed.method && l.route.pattern.source === parsed.pattern.source);
    if (existing >= 0) this.latencies.splice(existing, 1);
    if (typeof ms === 'function' || ms > 0) this.latencies.push({ route: parsed, ms });
  }

  /** normal: acks remove envelopes from redelivery; ignore: acks are recorded but lost, as if they never arrived. */
  setAckMode(mode: 'normal' | 'ignore'): void {
    this.ignoreAcks = mode === 'ignore';
  }

  /** normal: answer pings; ignore: never answer; mismatch: answer with another id. */
  setPongMode(mode: PongMode): void {
    this.pongMode = mode;
  }

  /** withhold: authorize sockets but never send `mercury.buffer_state`. */
  setBufferState(mode: 'send' | 'withhold'): void {
    this.withholdBufferState = mode === 'withhold';
  }

  /**
   * Closes the open sockets (of one device, or all) from the server side: with a close frame
   * (`code`, default 1011; null for a frame without a status, which the client sees as 1005) or,
   * with `terminate`, by cutting the TCP link (the client sees 1006).
   */
  dropConnections(options: { code?: number | null; reason?: string; terminate?: boolean; deviceUuid?: string } = {}): number {
    let dropped = 0;
    for (const conn of this.live) {
      if (options.deviceUuid && conn.record.deviceUuid !== options.deviceUuid) continue;
      conn.record.closedBy ??= 'server';
      if (options.terminate) conn.ws.terminate();
      else if (options.code === null) conn.ws.close(); // a close frame without a status: the client sees 1005
      else conn.ws.close(options.code ?? 1011, options.reason ?? '');
      dropped += 1;
    }
    return dropped;
  }

  /** Stops reading from the open sockets: no pongs, no answer to a close frame: a dead peer. */
  freeze(): void {
    for (const conn of this.live) conn.socket.pause();
  }

  /** Forgets a device: its next handshake, GET or PUT answer 404, as for a stale registration. */
  markDeviceStale(deviceUuid: string): void {
    this.devices.delete(deviceUuid);
  }

  /** Sends `count` protocol-level pings (WebSocket ping frames, not JSON ones) on the open sockets (of one device, or all), at once. */
  sendPings(count: number, options: { deviceUuid?: string } = {}): number {
    let sent = 0;
    for (const conn of this.live) {
      if (options.deviceUuid && conn.record.deviceUuid !== options.deviceUuid) continue;
      for (let i = 0; i < count; i++) conn.ws.ping(String(i));
      sent += 1;
    }
    return sent;
  }

  /** Sends a raw frame (text, or binary for a Buffer) on the open sockets (of one device, or all). */
  sendRaw(frame: string | Buffer, options: { deviceUuid?: string } = {}): number {
    let sent = 0;
    for (const conn of this.live) {
      if (options.deviceUuid && conn.record.deviceUuid !== options.deviceUuid) continue;
      conn.ws.send(frame, { binary: Buffer.isBuffer(frame) });
      sent += 1;
    }
    return sent;
  }

  // ---------------------------------------------------------------- observation

  /** The sockets open now (of one device, or all). */
  openConnections(deviceUuid?: string): ConnectionRecord[] {
    return [...this.live].map((c) => c.record).filter((r) => deviceUuid === undefined || r.deviceUuid === deviceUuid);
  }

  /** The devices of a person. */
  devicesOf(person: EmulatedPerson): EmulatedDevice[] {
    return [...this.devices.values()].filter((d) => d.ownerUuid === person.uuid);
  }

  /**
   * Resolves once `predicate` holds, checking it now and after every change the emulator sees.
   * Rejects after `timeout` ms (default 10000) so that a broken test fails instead of hanging.
   */
  waitFor(predicate: () => boolean, options: { timeout?: number; what?: string } = {}): Promise<void> {
    return this.waiters.until(predicate, options.timeout ?? 10_000, () => new Error(`emulator.waitFor timed out${options.what ? `: ${options.what}` : ''}`));
  }

  /** Emits `kind` with its detail, then `'change'` (kind, detail) for whoever waits on any change. */
  private emitChange(kind: string, detail: unknown): void {
    this.emit(kind, detail);
    this.emit('change', kind, detail);
    this.waiters.poke();
  }

  // ---------------------------------------------------------------- HTTP

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', this.url);
    const path = url.pathname;
    const person = this.personOf(req.headers.authorization);
    const startedAt = Date.now();
    res.once('close', () => {
      if (res.writableFinished) return;
      this.abandonedRequests.push({ method, path, at: Date.now() });
      this.emitChange('abandoned', { method, path });
    });
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      const trackingId = `EMU_${randomUUID()}`;
      const raw = Buffer.isBuffer(body);
      res.writeHead(status, { trackingid: trackingId, ...(body === undefined || raw ? {} : { 'content-type': 'application/json' }), ...(raw ? { 'content-length': String(body.byteLength) } : {}), ...headers });
      res.end(body === undefined ? undefined : raw || typeof body === 'string' ? body : JSON.stringify(body));
      this.requests.push({ method, path, query: url.search, status, startedAt, at: Date.now(), personUuid: person?.uuid });
      this.emitChange('request', { method, path, status });
    };
    try {
      // The body first, as a server has it before its handler runs: a request held or delayed here
      // is handled even if its client goes away meanwhile (an abandoned registration still registers).
      const { json: body, upload } = await readBody(req);
      await this.delay(method, path);
      const fault = this.takeFault(method, path);
      if (fault?.reset) {
        this.requests.push({ method, path, query: url.search, status: 0, startedAt, at: Date.now(), personUuid: person?.uuid });
        req.socket.destroy();
        this.emitChange('request', { method, path, status: 0 });
        return;
      }
      if (fault) {
        send(fault.status, fault.body ?? { message: `emulated fault: HTTP ${fault.status}`, errors: [], trackingId: 'EMU_FAULT' }, {
          ...(fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) }),
          ...fault.headers,
        });
        return;
      }
      const answer = this.route(method, path, url.searchParams, person, body, upload);
      if (answer === undefined) throw new HttpProblem(404, `No route for ${method} ${path}.`);
      const [status, json, headers] = answer;
      if (upload && person && status === 200) this.recordUpload(person, upload, body ?? {}, json as Record<string, unknown>);
      send(status, json, headers);
    } catch (error) {
      const status = error instanceof HttpProblem ? error.status : 500;
      const message = error instanceof Error ? error.message : String(error);
      if (!(error instanceof HttpProblem)) log('500 on %s %s: %s', method, path, message);
      send(status, { message, errors: [{ description: message }], trackingId: 'EMU_ERROR' });
    }
  }

  private recordUpload(person: EmulatedPerson, upload: UploadedFile, fields: Record<string, unknown>, message: Record<string, unknown>): void {
    const files = message.files as string[] | undefined;
    const record: UploadRecord = {
      messageId: String(message.id),
      contentUrl: files?.[files.length - 1] ?? '',
      personUuid: person.uuid,
      roomId: String(message.roomId),
      filename: upload.filename,
      contentType: upload.contentType,
      data: upload.data,
      fields: Object.fromEntries(Object.entries(fields).filter((entry): entry is [string, string] => typeof entry[1] === 'string')),
      at: Date.now(),
    };
    this.uploads.push(record);
    this.emitChange('upload', record);
  }

  private personOf(authorization: string | undefined): EmulatedPerson | undefined {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token) return undefined;
    return this.world.personByToken(token);
  }

  private async delay(method: string, path: string): Promise<void> {
    const latency = this.latencies.find((l) => routeMatches(l.route, method, path));
    if (latency) await new Promise((resolve) => setTimeout(resolve, typeof latency.ms === 'function' ? latency.ms() : latency.ms));
    const hold = this.holds.find((h) => !h.released && routeMatches(h.route, method, path));
    if (hold) {
      this.heldRequests += 1;
      this.emitChange('held', { method, path });
      await new Promise<void>((resolve) => hold.waiting.push(resolve));
      this.heldRequests -= 1;
    }
  }

  private takeFault(method: string, path: string): FaultReply | undefined {
    const fault = this.faults.find((f) => f.remaining > 0 && routeMatches(f.route, method, path));
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.faults.splice(this.faults.indexOf(fault), 1);
    const hit: FaultHitRecord = { route: fault.name, method, path, status: fault.reply.reset ? 0 : fault.reply.status, at: Date.now() };
    this.faultHits.push(hit);
    this.emitChange('fault', hit);
    return fault.reply;
  }

  /** Routes a request; undefined when no route matches. */
  private route(
    method: string,
    path: string,
    query: URLSearchParams,
    person: EmulatedPerson | undefined,
    body: Record<string, unknown> | undefined,
    upload?: UploadedFile,
  ): [number, unknown?, Record<string, string>?] | undefined {
    // Service catalogs and metrics, for the official SDK (protocol §10.1).
    if (method === 'GET' && path === '/u2c/api/v1/limited/catalog') return [200, this.catalog()];
    if (method === 'POST' && path === '/metrics/api/v1/clientmetrics') return [204];
    const me = requirePerson(person);
    if (method === 'GET' && path === '/u2c/api/v1/catalog') return [200, this.catalog()];
    if (path.startsWith('/wdm/api/v1/devices')) return this.routeDevices(method, path, query, me, body);
    if (path.startsWith('/v1/')) {
      const answer = routeRest({ world: this.world, apiUrl: this.apiUrl, droppedNextParams: this.droppedNextParams, uploadScan: this.uploadScan }, method, path.slice(3), query, me, body, upload);
      return answer === undefined ? undefined : [answer.status, answer.body, answer.headers];
    }
    return undefined;
  }

  private catalog(): Record<string, unknown> {
    const host = new URL(this.url).hostname;
    return {
      format: 'hostmap',
      serviceLinks: { wdm: `${this.url}/wdm/api/v1`, metrics: `${this.url}/metrics/api/v1`, hydra: `${this.url}/v1`, u2c: `${this.url}/u2c/api/v1` },
      hostCatalog: { [host]: ['wdm', 'conversation', 'hydra'].map((service, i) => ({ host, id: `${this.clusterId}:${service}`, priority: i + 1, ttl: -1 })) },
    };
  }

  private routeDevices(
    method: string,
    path: string,
    query: URLSearchParams,
    me: EmulatedPerson,
    body: Record<string, unknown> | undefined,
  ): [number, unknown?] | undefined {
    const rest = path.slice('/wdm/api/v1/devices'.length);
    if (rest === '' || rest === '/') {
      if (method === 'POST') return [200, this.deviceJson(this.registerDevice(me, body ?? {}, query.toString()))];
      if (method === 'GET') return [200, { devices: this.devicesOf(me).map((d) => this.deviceJson(d)) }];
      if (method === 'DELETE') {
        for (const device of this.devicesOf(me)) this.deleteDevice(device.uuid);
        return [204];
      }
      return undefined;
    }
    const uuid = rest.slice(1);
    const device = this.devices.get(uuid);
    if (method === 'DELETE') {
      const found = device !== undefined && device.ownerUuid === me.uuid;
      if (found) this.deleteDevice(uuid);
      this.deviceDeletions.push({ deviceUuid: uuid, found, at: Date.now() });
      this.emitChange('deviceDeleted', uuid);
      return found ? [204] : [404, { message: 'Device not found.' }];
    }
    if (!device || device.ownerUuid !== me.uuid) return [404, { message: 'Device not found.' }];
    if (method === 'GET') return [200, this.deviceJson(device)];
    if (method === 'PUT') {
      device.modificationTime = now();
      return [200, this.deviceJson(device)];
    }
    return undefined;
  }

  private registerDevice(owner: EmulatedPerson, description: Record<string, unknown>, query: string): EmulatedDevice {
    const uuid = newUuid();
    const created = now();
    const device: EmulatedDevice = {
      uuid,
      ownerUuid: owner.uuid,
      url: `${this.wdmUrl}/${uuid}`,
      webSocketUrl: `${this.url.replace(/^http/, 'ws')}/mercury/v1/apps/wx2/registrations/${uuid}/messages`,
      description,
      creationTime: created,
      modificationTime: created,
      pending: new Map(),
    };
    this.devices.set(uuid, device);
    this.registrations.push({ deviceUuid: uuid, personUuid: owner.uuid, at: Date.now(), body: description, query });
    this.emitChange('registration', device);
    return device;
  }

  private deleteDevice(uuid: string): void {
    this.devices.delete(uuid);
    for (const conn of this.live) {
      if (conn.record.deviceUuid === uuid) {
        conn.record.closedBy ??= 'server';
        conn.ws.close(4404, 'Device deleted');
      }
    }
  }

  private deviceJson(device: EmulatedDevice): Record<string, unknown> {
    return {
      ...device.description,
      url: device.url,
      webSocketUrl: device.webSocketUrl,
      userId: device.ownerUuid,
      orgId: this.world.orgUuid,
      creationTime: device.creationTime,
      modificationTime: device.modificationTime,
      features: { developer: [], entitlement: [], user: [] },
    };
  }

  // ---------------------------------------------------------------- Mercury

  private async onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const path = url.pathname;
    const refuse = (status: number, headers: Record<string, string> = {}) => {
      const lines = [`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : status === 429 ? 'Too Many Requests' : 'Error'}`, 'Connection: close', 'Content-Length: 0'];
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      socket.end(`${lines.join('\r\n')}\r\n\r\n`);
      this.requests.push({ method: 'WS', path, query: url.search, status, startedAt: Date.now(), at: Date.now(), personUuid: undefined });
      this.emitChange('request', { method: 'WS', path, status });
    };
    socket.on('error', () => undefined);
    // Read the socket while the handshake waits (latency, hold), as a server does: a client that
    // gives up meanwhile (its connect timeout) is seen going away, and no socket opens for it.
    // Nothing arrives before the 101 but the FIN of a client that left.
    socket.resume();
    this.upgrading.add(socket);
    try {
      await this.delay('WS', path);
    } finally {
      this.upgrading.delete(socket);
    }
    if (socket.destroyed || !socket.readable || !socket.writable) {
      this.requests.push({ method: 'WS', path, query: url.search, status: 0, startedAt: Date.now(), at: Date.now(), personUuid: undefined });
      socket.destroy();
      this.emitChange('request', { method: 'WS', path, status: 0 });
      return;
    }
    const fault = this.takeFault('WS', path);
    if (fault) {
      refuse(fault.status, fault.retryAfter === undefined ? {} : { 'Retry-After': String(fault.retryAfter) });
      return;
    }
    const match = /^\/mercury\/v1\/apps\/wx2\/registrations\/([^/]+)\/messages$/.exec(path);
    const device = match ? this.devices.get(match[1] as string) : undefined;
    if (!device) {
      refuse(404);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.requests.push({ method: 'WS', path, query: url.search, status: 101, startedAt: Date.now(), at: Date.now(), personUuid: undefined });
      this.onConnection(ws, socket, device, `${path}${url.search}`);
    });
  }

  private onConnection(ws: WebSocket, socket: Socket, device: EmulatedDevice, url: string): void {
    this.connectionCount += 1;
    const record: ConnectionRecord = { id: this.connectionCount, deviceUuid: device.uuid, url, openedAt: Date.now() };
    this.connections.push(record);
    const conn: LiveConnection = { record, ws, socket, personUuid: undefined, sequence: 0, ready: false, authTimer: undefined };
    conn.authTimer = setTimeout(() => {
      record.closedBy ??= 'server';
      ws.close(4401, 'authentication did not happen within the timeout window of 30000 seconds.');
    }, this.authTimeout);
    conn.authTimer.unref();
    this.live.add(conn);
    ws.on('message', (data, isBinary) => this.onFrame(conn, device, data, isBinary));
    ws.on('close', (code, reason) => {
      clearTimeout(conn.authTimer);
      this.live.delete(conn);
      record.closedAt = Date.now();
      record.closeCode = code;
      record.closeReason = reason.toString();
      record.closedBy ??= code === 1006 ? undefined : 'client';
      this.emitChange('close', record);
    });
    ws.on('error', (error) => log('socket %d error: %s', record.id, error.message));
    ws.on('pong', () => {
      this.protocolPongs += 1;
      this.emitChange('pong', record);
    });
    socket.once('end', () => {
      record.peerEndedAt = Date.now();
    });
    this.emitChange('connection', record);
  }

  private onFrame(conn: LiveConnection, device: EmulatedDevice, data: RawData, isBinary: boolean): void {
    if (isBinary) return;
    let frame: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(data.toString());
      if (typeof parsed !== 'object' || parsed === null) return;
      frame = parsed as Record<string, unknown>;
    } catch {
      return;
    }
    const { record, ws } = conn;
    if (frame.type !== 'authorization' && record.authorizedAt === undefined) return; // nothing counts before authorization
    switch (frame.type) {
      case 'authorization': {
        const token = /^Bearer\s+(\S+)$/i.exec(String((frame.data as { token?: unknown } | undefined)?.token ?? ''))?.[1];
        const owner = this.people.get(device.ownerUuid);
        if (!token || !owner || token !== owner.token) {
          record.closedBy ??= 'server';
          ws.close(4401, 'Unauthorized');
          return;
        }
        clearTimeout(conn.authTimer);
        conn.personUuid = owner.uuid;
        record.authorizedAt = Date.now();
        this.emitChange('authorized', record);
        if (!this.withholdBufferState) this.sendBufferState(conn, device);
        return;
      }
      case 'ping': {
        const id = typeof frame.id === 'string' ? frame.id : '';
        this.pings.push({ connectionId: record.id, id, at: Date.now() });
        this.emitChange('ping', record);
        if (this.pongMode === 'ignore') return;
        const pongId = this.pongMode === 'mismatch' ? randomUUID() : id;
        ws.send(JSON.stringify({ id: pongId, type: 'pong', wsWriteTimestamp: Date.now() }));
        return;
      }
      case 'ack': {
        const messageId = typeof frame.messageId === 'string' ? frame.messageId : '';
        if (!this.ignoreAcks) device.pending.delete(messageId);
        this.acks.push({ connectionId: record.id, messageId, at: Date.now() });
        this.emitChange('ack', record);
        return;
      }
      default:
        return;
    }
  }

  private sendBufferState(conn: LiveConnection, device: EmulatedDevice): void {
    conn.sequence += 1;
    conn.ws.send(
      JSON.stringify({
        id: randomUUID(),
        sequenceNumber: conn.sequence,
        wsWriteTimestamp: Date.now(),
        data: { eventType: 'mercury.buffer_state', bufferState: { conversation: 'UNKNOWN', locus: 'UNKNOWN' } },
      }),
    );
    conn.ready = true;
    conn.record.readyAt = Date.now();
    this.emitChange('ready', conn.record);
    for (const envelope of [...device.pending.values()]) this.deliver(conn, envelope, true);
  }
}

function requirePerson(person: EmulatedPerson | undefined): EmulatedPerson {
  if (!person) throw new HttpProblem(401, 'The request requires a valid access token set in the Authorization request header.');
  return person;
}

/** Bytes of a multipart body at most: Webex's 100 MiB for the file, and room for the fields. */
const MAX_MULTIPART_BODY = 100 * 1024 * 1024 + 64 * 1024;

/** The body of a request: a JSON object, or the fields and the one file of a multipart/form-data upload. */
async function readBody(req: IncomingMessage): Promise<{ json: Record<string, unknown> | undefined; upload?: UploadedFile }> {
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\s*;/i.test(type)) return { json: await readJson(req) };
  const raw = await readAll(req, MAX_MULTIPART_BODY);
  let form: FormData;
  try {
    form = await new Response(raw, { headers: { 'content-type': type } }).formData();
  } catch {
    throw new HttpProblem(400, 'The request body is not valid multipart/form-data.');
  }
  const json: Record<string, unknown> = {};
  let upload: UploadedFile | undefined;
  for (const [name, value] of form) {
    if (name === 'files' && typeof value !== 'string') {
      if (upload !== undefined) throw new HttpProblem(400, 'Only one file may be attached to a message.');
      upload = { filename: value.name, contentType: value.type || 'application/octet-stream', data: Buffer.from(await value.arrayBuffer()) };
    } else if (name === 'files') json.files = [...((json.files as string[] | undefined) ?? []), value];
    else if (typeof value === 'string') json[name] = value;
  }
  return upload === undefined ? { json } : { json, upload };
}

async function readAll(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new HttpProblem(413, 'Request body too large.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const raw = await readAll(req, 1_000_000);
  if (raw.length === 0) return undefined;
  try {
    const value: unknown = JSON.parse(raw.toString('utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new HttpProblem(400, 'The request body is not a JSON object.');
  }
}
