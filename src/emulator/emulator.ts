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
  findWhole,
  HttpProblem,
  readAll,
  readJson,
  newUuid,
  now,
  World,
} from './model.js';
import { routeRest, type UploadedFile } from './rest.js';
import { guessContentType } from '../rest/files.js';
import { Waiters } from './waiters.js';
import { EmulatorUi, type InspectorEntry } from './ui.js';
import { applyState, readState, StateSaver } from './state.js';
import type { AttachmentAction, Message } from '../rest/types.js';

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
  /**
   * ms an event envelope stays pending for a device that has not acked it (it is redelivered to the
   * device's next socket meanwhile), then it is dropped; default 3600000 (1 hour).
   */
  readonly envelopeTtl?: number;
  /** Envelopes pending per device at most: past it the oldest is dropped; default 10000. */
  readonly maxPendingPerDevice?: number;
  /**
   * ms a device lives with no socket open and no use (registration, GET, PUT, handshake); then it is
   * deleted, as WDM forgets devices nobody uses (its handshake answers 404); default 86400000 (24 hours).
   */
  readonly deviceTtl?: number;
  /** The clock expiry reads (ms since the epoch); default `Date.now`. Tests pass their own to expire things without waiting. */
  readonly now?: () => number;
  /**
   * Serve the chat page ("Webex in a box") at `/` (see {@link WebexEmulator.uiUrl}): pick a user,
   * talk to the bots (text, markdown, @mentions, files, threads, Adaptive Cards), watch each
   * device's socket and fire faults at it. Default true; false answers 404 at `/` and `/ui/…`.
   * The page is served on the emulator's own listener only, and never sees a token.
   */
  readonly ui?: boolean;
  /**
   * A JSON file that keeps the world across restarts: people (with their tokens, so bots keep
   * working), rooms, memberships, messages and threads, teams, card submits, webhooks. Loaded at
   * start when it exists (a file that is not a valid state rejects start() with an Error naming
   * it); saved as things change (debounced) and on close(), atomically (temp file + rename), mode
   * 0600 since it holds tokens. Devices are not kept: bots register again. Default: none (in memory).
   */
  readonly stateFile?: string;
}

/** Where a user says something: a room, a room's REST id, or a person (their direct room). */
export type SayTarget = EmulatedRoom | EmulatedPerson | string;

export interface ReplyOptions {
  /** ms to wait for the reply before failing; default 5000. */
  readonly timeout?: number;
  /** Wait for a reply from this bot (its person, or a SparkBot) only; default: any bot of the room. */
  readonly from?: BotLike;
}

export interface SubmitOptions extends ReplyOptions {
  /** The title of the `Action.Submit` to press; default: the card's only one. */
  readonly button?: string;
}

export interface SayOptions extends ReplyOptions {
  /** Say it in the thread of this message (a REST id, or the message). */
  readonly parentId?: string | { readonly id: string };
  /** People to @mention besides those the text names as `@Display Name`. */
  readonly mentions?: readonly EmulatedPerson[];
}

/** The bot's reply (a REST message); `said` is what the user said (also a REST message). */
export interface Reply extends Message {
  readonly said: Message;
}

/** The bot's reply to a card submit (a REST message); `action` is the submit (a REST attachment action). */
export interface ActionReply extends Message {
  readonly action: AttachmentAction;
}

/** A person of the emulator who talks to bots the way a Webex user does (see {@link WebexEmulator.createUser}). */
export interface EmulatedUser extends EmulatedPerson {
  /**
   * Posts `text` and resolves with the bot's next message in that room (REST ids), or rejects after
   * `timeout`. In a group room, `@Display Name` in the text @mentions that member, as a Webex client
   * does when you pick a name (the `@` goes; the name stays in the text): a bot sees only the
   * group messages that mention it.
   */
  says(where: SayTarget, text: string, options?: SayOptions): Promise<Reply>;
  /**
   * Fills in the card of `card` (the bot's message, or its REST id) and presses a Submit button;
   * resolves with the bot's next message in that room. As on Webex, the submit's inputs are every
   * `Input.*` of the card by id (its `value`, or '' when it has none), then `inputs`, then the
   * button's `data`. `button` names the `Action.Submit` by its title (needed when there are several).
   */
  submits(card: { readonly id: string } | string, inputs?: Record<string, unknown>, options?: SubmitOptions): Promise<ActionReply>;
}

/** A bot as a test holds it: its emulated person, or a started SparkBot (anything with `currentUser.id`). */
export type BotLike = EmulatedPerson | { readonly currentUser?: { readonly id: string } | undefined };

/** What {@link WebexEmulator.expire} dropped. */
export interface ExpiryRecord {
  readonly envelopes: number;
  readonly devices: readonly string[];
  readonly at: number;
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
  /** The REST id of the person whose token authorized it. */
  readonly personId: string | undefined;
  /** The request headers, names in lower case (repeated ones joined with ", "); an `authorization` value keeps only its scheme: `Bearer [redacted]`. */
  readonly headers: Readonly<Record<string, string>>;
}

/** A frame a client sent that is neither a ping nor an ack (those are in `pings` and `acks`). */
export interface FrameRecord {
  readonly connectionId: number;
  /** The frame's `type`, when it is a JSON object that has one. */
  readonly type: string | undefined;
  /** The frame parsed, when it is a JSON object; an authorization frame's token reads `Bearer [redacted]`. */
  readonly json: Record<string, unknown> | undefined;
  /** The frame as sent, when it is not a JSON object (binary frames as base64). */
  readonly raw: string | undefined;
  readonly binary: boolean;
  readonly at: number;
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
  /** The owner's REST id. */
  readonly personId: string;
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
  /**
   * The code of the close that ended the socket, as its starter sent it: the server's code when the
   * server closed (whatever the client answered), the client's when the client did — even a code
   * the WebSocket protocol reserves, such as 1005, which the server refuses — and 1006 when nobody
   * sent one (the TCP link just ended).
   */
  closeCode?: number;
  closeReason?: string;
  /** Who started the close: the client, the server (a fault), or nobody (the TCP link just ended). */
  closedBy?: 'client' | 'server';
  /** The code in the client's own close frame, starting the close or answering the server's; absent when it sent none. */
  clientCloseCode?: number;
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
  /** The close frame the server sent, if it started the close. */
  serverClose?: { readonly code: number | undefined; readonly reason: string };
  /** A close code the client sent that the ws server refused (1005, 1006, 1015, out of range): ws reports 1006 then. */
  refusedClientCode?: number;
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
  /** Every frame the clients sent other than pings and acks: authorization, unknown types, text that is not a JSON object, binary. */
  readonly clientFrames: FrameRecord[] = [];
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
  private readonly envelopeTtl: number;
  private readonly maxPendingPerDevice: number;
  private readonly deviceTtl: number;
  private readonly clock: () => number;
  private readonly expiryTimer: NodeJS.Timeout;
  /** Requests waiting on a {@link hold} now. */
  heldRequests = 0;
  private pongMode: PongMode = 'normal';
  private withholdBufferState = false;
  private connectionCount = 0;
  private readonly waiters = new Waiters();
  /** nextMessage calls waiting: each sees every message; close() rejects them. */
  private readonly replyWaiters = new Set<{ onMessage(message: EmulatedMessage): void; reject(error: Error): void }>();
  private ui: EmulatorUi | undefined;
  private saver: StateSaver | undefined;
  private readonly inspectorEntries: InspectorEntry[] = [];

  private constructor(server: Server, options: EmulatorOptions) {
    super();
    this.server = server;
    this.authTimeout = options.authTimeout ?? 30_000;
    this.envelopeTtl = options.envelopeTtl ?? 3_600_000;
    this.maxPendingPerDevice = options.maxPendingPerDevice ?? 10_000;
    this.deviceTtl = options.deviceTtl ?? 86_400_000;
    this.clock = options.now ?? Date.now;
    // Expiry also runs on every event sent and every registration or handshake; this covers a quiet emulator.
    this.expiryTimer = setInterval(() => this.expire(), Math.max(1_000, Math.min(this.envelopeTtl, this.deviceTtl, 60_000)));
    this.expiryTimer.unref();
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
        this.emitChange('activity', activity);
        for (const personUuid of recipients) this.sendEvent(personUuid, { eventType: 'conversation.activity', activity });
      },
      (message) => {
        for (const waiter of [...this.replyWaiters]) waiter.onMessage(message);
        this.emitChange('message', message);
      },
    );
    this.wss = new WebSocketServer({ noServer: true });
    server.on('request', (req, res) => void this.onRequest(req, res));
    server.on('upgrade', (req, socket, head) => void this.onUpgrade(req, socket as Socket, head));
  }

  static async start(options: EmulatorOptions = {}): Promise<WebexEmulator> {
    for (const name of ['envelopeTtl', 'maxPendingPerDevice', 'deviceTtl'] as const) checkPositive(name, options[name]);
    if (options.now !== undefined && typeof options.now !== 'function') throw new TypeError('now must be a function returning ms since the epoch');
    const saved = options.stateFile === undefined ? undefined : await readState(options.stateFile);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    const emulator = new WebexEmulator(server, options);
    if (saved) {
      applyState(emulator.world, saved);
      for (const person of emulator.people.values()) if (person.type === 'person') emulator.asUser(person);
    }
    if (options.stateFile !== undefined) {
      const saver = new StateSaver(emulator.world, options.stateFile, (error) => process.emitWarning(error));
      if (!saved) {
        // A file that cannot be written fails the start, not a save later on.
        await saver.save({ strict: true }).catch(async (error: unknown) => {
          await emulator.close();
          throw error;
        });
      }
      emulator.saver = saver;
      emulator.on('change', (kind: string, detail: unknown) => {
        if (kind === 'message' || kind === 'activity' || kind === 'person' || (kind === 'request' && !['GET', 'WS'].includes((detail as { method: string }).method))) saver.changed();
      });
    }
    if (options.ui !== false) emulator.ui = new EmulatorUi(emulator);
    log('listening on %s', emulator.url);
    return emulator;
  }

  /** The chat page's URL, `${url}/` (served unless the emulator started with `ui: false`). */
  get uiUrl(): string {
    return `${this.url}/`;
  }

  /**
   * Shows a live machine view (e.g. the page `localInspector()` of sparkbot/inspect serves) in the
   * chat page's machine panel, as a tab named `entry.name` holding `entry.url` in a frame; open
   * pages update at once. Returns the function that removes it again.
   */
  addInspector(entry: { name: string; url: string }): () => void {
    if (typeof entry?.name !== 'string' || entry.name.trim() === '') throw new TypeError('addInspector: name must be a non-empty string');
    if (typeof entry.url !== 'string' || !/^https?:\/\//i.test(entry.url)) throw new TypeError(`addInspector: url must be an http(s) URL, got ${JSON.stringify(entry.url)}`);
    const added: InspectorEntry = { name: entry.name, url: entry.url };
    this.inspectorEntries.push(added);
    this.emitChange('inspectors', this.inspectors);
    return () => {
      const at = this.inspectorEntries.indexOf(added);
      if (at < 0) return;
      this.inspectorEntries.splice(at, 1);
      this.emitChange('inspectors', this.inspectors);
    };
  }

  /** The machine views shown in the chat page (see {@link addInspector}), in the order they came. */
  get inspectors(): InspectorEntry[] {
    return [...this.inspectorEntries];
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
    for (const conn of this.live) this.terminate(conn);
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
    clearInterval(this.expiryTimer);
    for (const waiter of [...this.replyWaiters]) waiter.reject(new Error('the emulator closed before the bot answered'));
    for (const hold of [...this.holds]) this.releaseHold(hold);
    for (const conn of this.live) conn.ws.terminate();
    for (const socket of this.upgrading) socket.destroy();
    this.ui?.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.saver?.close();
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

  /** A person; `token` defaults to a fresh random one. The person `says` things and `submits` cards (see {@link EmulatedUser}). */
  createUser(init: { displayName: string; email?: string; token?: string }): EmulatedUser {
    const user = this.asUser(this.world.createPerson({ ...init, type: 'person' }));
    this.emitChange('person', user);
    return user;
  }

  /** Gives a person `says` and `submits`. */
  private asUser(person: EmulatedPerson): EmulatedUser {
    // Not enumerable: the person still compares and prints as the plain record it is.
    Object.defineProperties(person, {
      says: { value: (where: SayTarget, text: string, options?: SayOptions) => this.say(person, where, text, options) },
      submits: { value: (card: { readonly id: string } | string, inputs?: Record<string, unknown>, options?: SubmitOptions) => this.submit(person, card, inputs, options) },
    });
    return person as EmulatedUser;
  }

  /** A bot (email `…@webex.bot`); `token` defaults to a fresh random one. */
  createBot(init: { displayName: string; email?: string; token?: string }): EmulatedPerson {
    const bot = this.world.createPerson({ ...init, type: 'bot' });
    this.emitChange('person', bot);
    return bot;
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
   * author's included — except bots in group rooms, which get only the messages that mention them
   * (`mentions`), as on Webex. Give `room` (or `roomId`) for a room, or `toPerson` for a direct
   * message; `parentId` to reply in a thread.
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
   * Shares files as `from` (verb `share`; in a group room a bot gets it only when `mentions` names
   * it, as for messages); with `scan: 'pending'` they stay 'unchecked' (downloads
   * answer 423) until {@link finishScan}. A file is a name (its bytes are a placeholder, its type
   * guessed from the name) or `{ filename, data, contentType? }`.
   */
  shareFile(init: {
    from: EmulatedPerson;
    room?: EmulatedRoom;
    toPerson?: EmulatedPerson;
    text?: string;
    files: readonly SharedFileInit[];
    scan?: 'safe' | 'pending';
    mentions?: readonly EmulatedPerson[];
  }): Record<string, unknown> {
    const room = this.roomFor(init);
    const state = init.scan === 'pending' ? 'unchecked' : 'safe';
    const shared = init.files.map((file) => {
      const name = typeof file === 'string' ? file : file.filename;
      const data = typeof file === 'string' ? Buffer.from(`emulated content of ${name}\n`) : typeof file.data === 'string' ? Buffer.from(file.data) : Buffer.from(file.data);
      const contentType = (typeof file === 'string' ? undefined : file.contentType) ?? guessContentType(name);
      return { name, data, contentType, malwareQuarantineState: state } as const;
    });
    const message = this.world.createMessage(init.from, room, { text: init.text ?? '', shared: shared.map((f) => ({ ...f })), mentionedPeople: init.mentions?.map((p) => p.id) });
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

  /**
   * Adds a bot to a group room, as `by` (default: the room's creator) would: the bot gets an `add`
   * activity. Resolves once every open socket of the bot has acked it; rejects when the bot has no
   * socket ready (start it first; `addMember` adds anyone without waiting).
   */
  async addBot(room: EmulatedRoom, bot: BotLike, options: { by?: EmulatedPerson; timeout?: number } = {}): Promise<void> {
    const person = this.botPerson(bot);
    const by = options.by ?? this.people.get(room.creatorUuid);
    if (!by) throw new TypeError('addBot: the room has no creator left; give { by }');
    const devices = this.devicesOf(person).filter((d) => this.openConnections(d.uuid).some((c) => c.readyAt !== undefined && c.closedAt === undefined));
    if (devices.length === 0) throw new Error(`addBot: ${person.displayName} has no socket ready on this emulator (start the bot first, or use addMember)`);
    const before = new Set(devices.flatMap((d) => [...d.pending.keys()]));
    this.world.addMember(room, person, by);
    const envelopes = devices.flatMap((d) => [...d.pending.keys()]).filter((id) => !before.has(id));
    await this.waitFor(() => envelopes.every((id) => this.acks.some((a) => a.messageId === id)), { timeout: options.timeout ?? 5_000, what: `${person.displayName} acking its add to "${room.title}"` });
  }

  /**
   * Resolves with the next message a bot posts in `room` (REST ids), or rejects after `timeout` ms
   * (default 5000), or when the emulator closes. Call it before what makes the bot speak:
   * `const welcome = emulator.nextMessage(room);`.
   */
  nextMessage(room: EmulatedRoom | string, options: ReplyOptions & { what?: string } = {}): Promise<Message> {
    let target: EmulatedRoom;
    let from: EmulatedPerson | undefined;
    try {
      target = typeof room === 'string' ? this.world.findRoom(room) : room;
      from = options.from === undefined ? undefined : this.botPerson(options.from);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const timeout = options.timeout ?? 5_000;
    return new Promise<Message>((resolve, reject) => {
      const waiter = {
        onMessage: (message: EmulatedMessage) => {
          if (message.roomUuid !== target.uuid) return;
          const author = this.people.get(message.personUuid);
          if (from ? author !== from : author?.type !== 'bot') return;
          done();
          resolve(this.world.messageJson(message) as unknown as Message);
        },
        reject: (error: Error) => {
          done();
          reject(error);
        },
      };
      const timer = setTimeout(() => waiter.reject(new Error(`no message from ${from ? from.displayName : 'a bot'} in "${target.title}" within ${timeout} ms${options.what ? ` ${options.what}` : ''}`)), timeout);
      timer.unref();
      const done = () => {
        clearTimeout(timer);
        this.replyWaiters.delete(waiter);
      };
      this.replyWaiters.add(waiter);
    });
  }

  private async say(from: EmulatedPerson, where: SayTarget, text: string, options: SayOptions = {}): Promise<Reply> {
    const room = typeof where === 'string' ? this.world.findRoom(where) : 'members' in where ? where : this.world.directRoom(from, where);
    const mentions = [...(options.mentions ?? [])];
    let said = text;
    if (room.type === 'group') {
      // `@Display Name` as a whole word (not "bob@Alpha"), longest names first: "@Echo Bot" wins over "@Echo".
      const members = [...room.members].map((uuid) => this.people.get(uuid)).filter((p): p is EmulatedPerson => p !== undefined && p !== from);
      for (const member of members.sort((a, b) => b.displayName.length - a.displayName.length)) {
        let at: number;
        while ((at = findWhole(said, `@${member.displayName}`)) >= 0 && (at === 0 || !/[\p{L}\p{N}_@]/u.test(said[at - 1] as string))) {
          said = `${said.slice(0, at)}${said.slice(at + 1)}`;
          if (!mentions.includes(member)) mentions.push(member);
        }
      }
    }
    const hint = room.type === 'group' && !mentions.some((p) => p.type === 'bot') ? ' (a bot sees only the group messages that mention it: write "@<its display name>")' : '';
    const parentId = typeof options.parentId === 'object' ? options.parentId.id : options.parentId;
    const what = `after ${from.displayName} said ${JSON.stringify(text)}${hint}`;
    return this.replyTo(room, options, what, 'said', () =>
      this.postMessage({ from, room, text: said, ...(parentId === undefined ? {} : { parentId }), ...(mentions.length ? { mentions } : {}) }),
    ) as Promise<Reply>;
  }

  private async submit(by: EmulatedPerson, card: { readonly id: string } | string, inputs: Record<string, unknown> = {}, options: SubmitOptions = {}): Promise<ActionReply> {
    const message = this.world.findMessage(typeof card === 'string' ? card : card.id);
    const room = this.world.rooms.get(message.roomUuid) as EmulatedRoom;
    const values = submitted(message.attachments, inputs, options.button);
    const what = `after ${by.displayName} submitted the card of ${message.id}`;
    return this.replyTo(room, options, what, 'action', () => this.submitCard({ by, messageId: message.id, inputs: values })) as Promise<ActionReply>;
  }

  /** Waits for the bot's next message in `room` after `act`; the reply gets what `act` returned as a non-enumerable `key`. */
  private async replyTo(room: EmulatedRoom, options: ReplyOptions, what: string, key: 'said' | 'action', act: () => unknown): Promise<Message> {
    const reply = this.nextMessage(room, { ...options, what });
    let done: unknown;
    try {
      done = act();
    } catch (error) {
      reply.catch(() => undefined);
      throw error;
    }
    return Object.defineProperty(await reply, key, { value: done, enumerable: false });
  }

  /** The emulated person of a bot given as its person or as a SparkBot. */
  private botPerson(bot: BotLike): EmulatedPerson {
    if ('uuid' in bot && 'token' in bot) return bot;
    const id = (bot as { currentUser?: { id: string } }).currentUser?.id;
    if (id === undefined) throw new TypeError('give the bot as its emulated person, or as a SparkBot after start() (it knows its own id then)');
    return this.world.findPerson(id);
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
    this.expire();
    this.events.push({ personUuid, data });
    for (const device of this.devices.values()) {
      if (device.ownerUuid !== personUuid) continue;
      const envelope: Record<string, unknown> = { id: randomUUID(), data, filterMessage: false };
      device.pending.set(envelope.id as string, envelope);
      device.pendingSince.set(envelope.id as string, this.clock());
      if (device.pending.size > this.maxPendingPerDevice) this.dropEnvelope(device, device.pending.keys().next().value as string);
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
      if (conn.ws.readyState !== conn.ws.OPEN) continue; // closing already, from either side
      if (options.terminate) this.terminate(conn);
      else this.closeFromServer(conn, options.code === null ? undefined : (options.code ?? 1011), options.reason ?? ''); // no code: the client sees 1005
      dropped += 1;
    }
    return dropped;
  }

  /** The server cuts the TCP link (the client sees 1006); it started the close unless the client had. */
  private terminate(conn: LiveConnection): void {
    if (conn.ws.readyState === conn.ws.OPEN) conn.record.closedBy ??= 'server';
    conn.ws.terminate();
  }

  /** The server starts a close with `code` (none: a close frame without a status). */
  private closeFromServer(conn: LiveConnection, code: number | undefined, reason: string): void {
    if (conn.ws.readyState !== conn.ws.OPEN) return; // its close is under way already: the server sends nothing
    conn.record.closedBy ??= 'server';
    conn.serverClose ??= { code, reason };
    if (code === undefined) conn.ws.close();
    else conn.ws.close(code, reason);
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

  /** The sockets not closed yet (of one device, or all): one whose close has begun is listed until the close completes (its `closedAt`). */
  openConnections(deviceUuid?: string): ConnectionRecord[] {
    return [...this.live].map((c) => c.record).filter((r) => deviceUuid === undefined || r.deviceUuid === deviceUuid);
  }

  /** A message by its REST id (or undefined): `emulator.messages` is keyed by uuid. */
  findMessage(id: string): EmulatedMessage | undefined {
    return this.world.messages.get(this.world.uuidIn(id, 'MESSAGE') ?? '');
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

  /**
   * Drops what has outlived its bound (see {@link EmulatorOptions}): envelopes pending longer than
   * `envelopeTtl`, and devices with no socket open that nobody used for `deviceTtl` (with what was
   * pending on them). Runs by itself (every minute at most, on every event sent, every registration
   * and every handshake); returns what it dropped, also announced as an `'expired'` event when not nothing.
   */
  expire(): ExpiryRecord {
    const at = this.clock();
    let envelopes = 0;
    const devices: string[] = [];
    const connected = new Set([...this.live].map((c) => c.record.deviceUuid));
    for (const device of [...this.devices.values()]) {
      if (!connected.has(device.uuid) && at - device.lastSeen >= this.deviceTtl) {
        envelopes += device.pending.size;
        this.devices.delete(device.uuid);
        devices.push(device.uuid);
        continue;
      }
      for (const [id, since] of device.pendingSince) {
        if (at - since < this.envelopeTtl) break; // in the order they were sent
        this.dropEnvelope(device, id);
        envelopes += 1;
      }
    }
    const record: ExpiryRecord = { envelopes, devices, at };
    if (envelopes > 0 || devices.length > 0) this.emitChange('expired', record);
    return record;
  }

  private dropEnvelope(device: EmulatedDevice, id: string): void {
    device.pending.delete(id);
    device.pendingSince.delete(id);
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
    // The chat page is no part of the emulated Webex: not recorded, no faults, no latency.
    if (this.ui && EmulatorUi.owns(path)) return this.ui.handle(req, res);
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
      this.recordRequest(req, method, url, status, startedAt, person);
      this.emitChange('request', { method, path, status });
    };
    try {
      // The body first, as a server has it before its handler runs: a request held or delayed here
      // is handled even if its client goes away meanwhile (an abandoned registration still registers).
      const { json: body, upload } = await readBody(req);
      await this.delay(method, path);
      const fault = this.takeFault(method, path);
      if (fault?.reset) {
        this.recordRequest(req, method, url, 0, startedAt, person);
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

  private recordRequest(req: IncomingMessage, method: string, url: URL, status: number, startedAt: number, person?: EmulatedPerson): void {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      headers[name] = name === 'authorization' ? (/^(\S+)\s/.exec(String(value))?.[1] ?? '').concat(' [redacted]').trimStart() : Array.isArray(value) ? value.join(', ') : value;
    }
    this.requests.push({ method, path: url.pathname, query: url.search, status, startedAt, at: Date.now(), personUuid: person?.uuid, personId: person?.id, headers });
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
    if (EmulatorUi.owns(path)) return undefined; // the chat page, when it is off (ui: false)
    const me = requirePerson(person);
    if (method === 'GET' && path === '/u2c/api/v1/catalog') return [200, this.catalog()];
    if (path.startsWith('/wdm/api/v1/devices')) return this.routeDevices(method, path, query, me, body);
    if (path.startsWith('/v1/')) {
      const answer = routeRest({ world: this.world, apiUrl: this.apiUrl, droppedNextParams: this.droppedNextParams, uploadScan: this.uploadScan }, method, path.slice(3), query, me, body, upload);
      return answer === undefined ? undefined : [answer.status, answer.body, answer.headers];
    }
    return undefined;
  }

  /**
   * The U2C host map. Each host is listed under its bare name and under `host:port`: SDK 3.x looks a
   * service URL with a port up by `host:port`, webex 2.x by the bare name (and builds its URLs from
   * the key, so the entries' `host` stays bare).
   */
  private catalog(): Record<string, unknown> {
    const { hostname, host } = new URL(this.url);
    const entries = ['wdm', 'conversation', 'hydra'].map((service, i) => ({ host: hostname, id: `${this.clusterId}:${service}`, priority: i + 1, ttl: -1 }));
    return {
      format: 'hostmap',
      serviceLinks: { wdm: `${this.url}/wdm/api/v1`, metrics: `${this.url}/metrics/api/v1`, hydra: `${this.url}/v1`, u2c: `${this.url}/u2c/api/v1` },
      hostCatalog: { [hostname]: entries, ...(host === hostname ? {} : { [host]: entries }) },
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
    device.lastSeen = this.clock();
    if (method === 'GET') return [200, this.deviceJson(device)];
    if (method === 'PUT') {
      device.modificationTime = now();
      return [200, this.deviceJson(device)];
    }
    return undefined;
  }

  private registerDevice(owner: EmulatedPerson, description: Record<string, unknown>, query: string): EmulatedDevice {
    this.expire();
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
      pendingSince: new Map(),
      lastSeen: this.clock(),
    };
    this.devices.set(uuid, device);
    this.registrations.push({ deviceUuid: uuid, personUuid: owner.uuid, personId: owner.id, at: Date.now(), body: description, query });
    this.emitChange('registration', device);
    return device;
  }

  private deleteDevice(uuid: string): void {
    this.devices.delete(uuid);
    for (const conn of this.live) {
      if (conn.record.deviceUuid === uuid) {
        this.closeFromServer(conn, 4404, 'Device deleted');
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
    const startedAt = Date.now();
    const refuse = (status: number, headers: Record<string, string> = {}) => {
      const lines = [`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : status === 429 ? 'Too Many Requests' : 'Error'}`, 'Connection: close', 'Content-Length: 0'];
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      socket.end(`${lines.join('\r\n')}\r\n\r\n`);
      this.recordRequest(req, 'WS', url, status, startedAt);
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
      this.recordRequest(req, 'WS', url, 0, startedAt);
      socket.destroy();
      this.emitChange('request', { method: 'WS', path, status: 0 });
      return;
    }
    const fault = this.takeFault('WS', path);
    if (fault) {
      refuse(fault.status, fault.retryAfter === undefined ? {} : { 'Retry-After': String(fault.retryAfter) });
      return;
    }
    this.expire();
    const match = /^\/mercury\/v1\/apps\/wx2\/registrations\/([^/]+)\/messages$/.exec(path);
    const device = match ? this.devices.get(match[1] as string) : undefined;
    if (!device) {
      refuse(404);
      return;
    }
    device.lastSeen = this.clock();
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.recordRequest(req, 'WS', url, 101, startedAt);
      this.onConnection(ws, socket, device, `${path}${url.search}`);
    });
  }

  private onConnection(ws: WebSocket, socket: Socket, device: EmulatedDevice, url: string): void {
    this.connectionCount += 1;
    const record: ConnectionRecord = { id: this.connectionCount, deviceUuid: device.uuid, url, openedAt: Date.now() };
    this.connections.push(record);
    const conn: LiveConnection = { record, ws, socket, personUuid: undefined, sequence: 0, ready: false, authTimer: undefined };
    conn.authTimer = setTimeout(() => this.closeFromServer(conn, 4401, 'authentication did not happen within the timeout window of 30000 seconds.'), this.authTimeout);
    conn.authTimer.unref();
    this.live.add(conn);
    ws.on('message', (data, isBinary) => this.onFrame(conn, device, data, isBinary));
    ws.on('close', (code, reason) => {
      clearTimeout(conn.authTimer);
      this.live.delete(conn);
      device.lastSeen = this.clock();
      record.closedAt = Date.now();
      // ws reports the client's close frame (1006 when there was none, or when ws refused its code).
      const clientCode = conn.refusedClientCode ?? (code === 1006 ? undefined : code);
      if (clientCode !== undefined) record.clientCloseCode = clientCode;
      if (conn.serverClose && record.closedBy === 'server') {
        record.closeCode = conn.serverClose.code ?? 1005;
        record.closeReason = conn.serverClose.reason;
      } else {
        record.closeCode = clientCode ?? code;
        record.closeReason = conn.refusedClientCode === undefined ? reason.toString() : '';
        record.closedBy ??= clientCode === undefined ? undefined : 'client';
      }
      this.emitChange('close', record);
    });
    ws.on('error', (error) => {
      // A close frame with a code ws refuses ("invalid status code 1005"): the client did close, with that code.
      const refused = (error as Error & { code?: string }).code === 'WS_ERR_INVALID_CLOSE_CODE' ? /status code (\d+)/.exec(error.message)?.[1] : undefined;
      if (refused !== undefined) conn.refusedClientCode = Number(refused);
      log('socket %d error: %s', record.id, error.message);
    });
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
    const { record, ws } = conn;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
    let frame: Record<string, unknown> | undefined;
    if (!isBinary) {
      try {
        const parsed: unknown = JSON.parse(bytes.toString('utf8'));
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) frame = parsed as Record<string, unknown>;
      } catch {
        // recorded raw below
      }
    }
    if (frame?.type !== 'ping' && frame?.type !== 'ack') {
      const type = typeof frame?.type === 'string' ? frame.type : undefined;
      const json = frame && type === 'authorization' ? { ...frame, data: { ...(frame.data as object), token: 'Bearer [redacted]' } } : frame;
      const raw = frame ? undefined : bytes.toString(isBinary ? 'base64' : 'utf8');
      const framed: FrameRecord = { connectionId: record.id, type, json, raw, binary: isBinary, at: Date.now() };
      this.clientFrames.push(framed);
      this.emitChange('frame', framed);
    }
    if (!frame) return;
    if (frame.type !== 'authorization' && record.authorizedAt === undefined) return; // nothing counts before authorization
    switch (frame.type) {
      case 'authorization': {
        const token = /^Bearer\s+(\S+)$/i.exec(String((frame.data as { token?: unknown } | undefined)?.token ?? ''))?.[1];
        const owner = this.people.get(device.ownerUuid);
        if (!token || !owner || token !== owner.token) {
          this.closeFromServer(conn, 4401, 'Unauthorized');
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
        if (!this.ignoreAcks) this.dropEnvelope(device, messageId);
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

/**
 * The inputs of a card submit as the Adaptive Cards renderer builds them: the data of the
 * `Action.Submit` pressed (by title; the only one when no title is given), then every `Input.*` of
 * the card by id, as a string — the value given, else its `value` (an `Input.Toggle`: its
 * `valueOff`, default "false"), else ''. A value for an id the card has no input for is refused.
 */
function submitted(attachments: readonly unknown[] | undefined, given: Record<string, unknown>, button: string | undefined): Record<string, unknown> {
  const card = (attachments?.[0] as { content?: unknown } | undefined)?.content;
  if (card === undefined) throw new TypeError('that message has no card to submit');
  const inputs: Record<string, unknown> = {};
  const submits: Array<{ title?: unknown; data?: unknown }> = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (typeof node !== 'object' || node === null) return;
    const element = node as Record<string, unknown>;
    if (typeof element.type === 'string' && element.type.startsWith('Input.') && typeof element.id === 'string') {
      inputs[element.id] = String(element.value ?? (element.type === 'Input.Toggle' ? (element.valueOff ?? 'false') : ''));
    }
    if (element.type === 'Action.Submit') submits.push(element);
    for (const value of Object.values(element)) walk(value);
  };
  walk(card);
  const titles = submits.map((s) => JSON.stringify(s.title ?? ''));
  const pressed = button === undefined ? (submits.length === 1 ? submits[0] : undefined) : submits.find((s) => s.title === button);
  if (!pressed) {
    throw new TypeError(
      submits.length === 0
        ? 'that card has no Action.Submit button'
        : button === undefined
          ? `that card has ${submits.length} Submit buttons (${titles.join(', ')}): say which with { button: <its title> }`
          : `that card has no Submit button titled ${JSON.stringify(button)} (it has ${titles.join(', ')})`,
    );
  }
  const unknown = Object.keys(given).filter((id) => !(id in inputs));
  if (unknown.length > 0) throw new TypeError(`that card has no input ${unknown.map((id) => JSON.stringify(id)).join(', ')} (its inputs: ${Object.keys(inputs).map((id) => JSON.stringify(id)).join(', ') || 'none'})`);
  for (const [id, value] of Object.entries(given)) inputs[id] = typeof value === 'string' ? value : JSON.stringify(value);
  const data = typeof pressed.data === 'object' && pressed.data !== null ? (pressed.data as Record<string, unknown>) : {};
  return { ...data, ...inputs };
}

/** An option that must be absent or a positive number (Infinity: never). */
function checkPositive(name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'number' || Number.isNaN(value) || value <= 0)) throw new TypeError(`${name} must be a positive number, got ${String(value)}`);
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

