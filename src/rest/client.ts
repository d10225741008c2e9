/**
 * The Webex REST client behind `bot.api`. Every call goes through the bot's outbox
 * (machines/outbox.ts): a 429 is waited out (Retry-After in seconds or as an HTTP date, else
 * `retryTimeout`, capped by `retryAfterMax`) up to `retryCount` times, in order, and then rejects
 * with a RateLimitError; nothing is dropped silently. Other failures reject with an ApiError
 * carrying the status, Webex's tracking id and the message of the body.
 */
import { inspect } from 'node:util';
import { realClock, type Clock } from '../clock.js';
import { ApiError, SparkBotError } from '../errors.js';
import type { Http, HttpRequest, HttpResult } from '../http.js';
import { download, durationOption, planUpload, stream, type ContentsDeps } from './files.js';
import type { Outbox } from './outbox.js';
import { paged, parseLinkHeader, restoreDroppedParams, type Paged } from './paging.js';
import { problemWith, problemWithPage, SHAPES, type Shape } from './shapes.js';
import type {
  AttachmentAction,
  CreateAttachmentAction,
  CreateMembership,
  CreateMessage,
  CreateRoom,
  CreateTeamMembership,
  CreateWebhook,
  DownloadedFile,
  DownloadOptions,
  FileStream,
  Membership,
  Message,
  Person,
  Room,
  SendOptions,
  StreamOptions,
  Team,
  TeamMembership,
  Webhook,
} from './types.js';

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface RequestOptions {
  readonly json?: unknown;
  /** A multipart/form-data body instead of `json` (a FormData; Node's own). */
  readonly form?: FormData;
  /** ms before the call is abandoned, instead of `requestTimeout`. */
  readonly timeout?: number;
  readonly searchParams?: Query;
  readonly signal?: AbortSignal;
  /**
   * GET only: times the call is tried again, after 1 s, when it is answered 404 or 5xx or gets no
   * answer at all — for something that must exist, e.g. a message fetched right after it was posted
   * (event enrichment uses 3). 0 to 10, default 0; ignored for writes, which may have happened even
   * without an answer. 429s are waited out whatever this says (`retryCount`).
   */
  readonly retries?: number;
}

/** Options of a read: `retries` as in {@link RequestOptions}; `signal` aborts it. */
export interface ReadOptions {
  readonly retries?: number;
  readonly signal?: AbortSignal;
}

/** Options of a list: those of a read (`signal` also stops the pages after the current one), and `maxPages`. */
export interface ListOptions extends ReadOptions {
  /**
   * Pages read at most (default 1000); a list with more rejects with an API_ERROR rather than
   * reading for ever. A next-page link that repeats a page already read is an error too.
   */
  readonly maxPages?: number;
}

/** Default of `maxPages`. */
export const DEFAULT_MAX_PAGES = 1000;

export interface RestDeps {
  readonly http: Http;
  readonly outbox: Outbox;
  readonly apiUrl: string;
  /** The bot's clock, for the waits of downloads (a file being scanned); default: real timers. */
  readonly clock?: Clock;
}

/** The operations of a REST collection such as `rooms`. */
export interface Collection<T, Create, Update, ListQuery extends Query> {
  list(query?: ListQuery, options?: ListOptions): Paged<T>;
  get(id: string, options?: ReadOptions): Promise<T>;
  create(body: Create): Promise<T>;
  update(id: string, body: Update): Promise<T>;
  delete(id: string): Promise<void>;
}

export class WebexApi {
  readonly people: {
    /** The bot itself. */
    me(): Promise<Person>;
    get(personId: string, options?: ReadOptions): Promise<Person>;
    list(query?: { email?: string; displayName?: string; id?: string; orgId?: string; max?: number }, options?: ListOptions): Paged<Person>;
  };

  readonly messages: {
    get(messageId: string, options?: ReadOptions): Promise<Message>;
    /**
     * `roomId` or `toPersonId`/`toPersonEmail`; `text` and/or `markdown`; `files`: one file, a
     * public URL or a local path, bytes or a stream (sent as multipart/form-data); `attachments`
     * (cards; not with a local file); `parentId` to reply in a thread. Rejects with
     * INVALID_CONTENT, nothing sent, for two files, a card with a local file, a file that cannot be
     * read or one larger than 100 MiB.
     */
    create(message: CreateMessage, options?: SendOptions): Promise<Message>;
    /** Group rooms need `mentionedPeople: 'me'` for bots (Webex answers 403 otherwise). */
    list(query: { roomId: string; mentionedPeople?: string; parentId?: string; before?: string; beforeMessage?: string; max?: number }, options?: ListOptions): Paged<Message>;
    update(messageId: string, body: { roomId: string; text?: string; markdown?: string }): Promise<Message>;
    delete(messageId: string): Promise<void>;
  };

  readonly rooms: Collection<Room, CreateRoom, { title: string; [key: string]: unknown }, { teamId?: string; type?: 'direct' | 'group'; sortBy?: string; max?: number }>;
  readonly memberships: Collection<Membership, CreateMembership, { isModerator: boolean }, { roomId?: string; personId?: string; personEmail?: string; max?: number }>;
  readonly teams: Collection<Team, { name: string; description?: string }, { name: string; description?: string }, { max?: number }>;
  readonly teamMemberships: Collection<TeamMembership, CreateTeamMembership, { isModerator: boolean }, { teamId: string; max?: number }>;
  readonly webhooks: Collection<Webhook, CreateWebhook, Partial<CreateWebhook> & { name: string; targetUrl: string }, { max?: number }>;

  readonly attachmentActions: {
    get(actionId: string, options?: ReadOptions): Promise<AttachmentAction>;
    create(action: CreateAttachmentAction): Promise<AttachmentAction>;
  };

  /** The files of messages (`message.files`): downloads from apiUrl's origin, through Webex's malware scan. */
  readonly contents: {
    /**
     * The whole file in memory, at most `maxSize` bytes (default maxResponseSize, 8 MiB). Waits
     * while Webex scans it (423, up to `scanWait`, then FILE_SCANNING); FILE_INFECTED (410);
     * FILE_UNSCANNABLE (428) unless `allowUnscannable`.
     */
    download(url: string, options?: DownloadOptions): Promise<DownloadedFile>;
    /** The file as a Readable, once its headers came: as download() for the scan; each wait for data is bounded by `idleTimeout`. */
    stream(url: string, options?: StreamOptions): Promise<FileStream>;
  };

  private readonly base: string;

  constructor(private readonly deps: RestDeps) {
    this.base = deps.apiUrl.replace(/\/+$/, '');
    this.people = {
      me: async () => this.typed<Person>(SHAPES.person, 'GET', 'people/me'),
      get: async (id, options) => this.typed<Person>(SHAPES.person, 'GET', `people/${encodeId(id, 'personId')}`, readOptions(options)),
      list: (query = {}, options) => this.list<Person>('people', query, SHAPES.person, options),
    };
    this.messages = {
      get: async (id, options) => this.typed<Message>(SHAPES.message, 'GET', `messages/${encodeId(id, 'messageId')}`, readOptions(options)),
      create: async (message, options) => {
        // Synchronous up to the outbox: the call takes its place among the writes now.
        const form = planUpload(message);
        const sendOptions = sendOptionsOf(options);
        if (form === undefined) return this.typed<Message>(SHAPES.message, 'POST', 'messages', { json: message, ...sendOptions });
        return this.typed<Message>(SHAPES.message, 'POST', 'messages', { ...sendOptions }, form);
      },
      list: (query, options) => this.list<Message>('messages', query, SHAPES.message, options),
      update: async (id, body) => this.typed<Message>(SHAPES.message, 'PUT', `messages/${encodeId(id, 'messageId')}`, { json: body }),
      delete: async (id) => this.request<void>('DELETE', `messages/${encodeId(id, 'messageId')}`),
    };
    this.rooms = this.collection('rooms', 'roomId', SHAPES.room);
    this.memberships = this.collection('memberships', 'membershipId', SHAPES.membership);
    this.teams = this.collection('teams', 'teamId', SHAPES.team);
    this.teamMemberships = this.collection('team/memberships', 'membershipId', SHAPES.teamMembership);
    this.webhooks = this.collection('webhooks', 'webhookId', SHAPES.webhook);
    this.attachmentActions = {
      get: async (id, options) => this.typed<AttachmentAction>(SHAPES.attachmentAction, 'GET', `attachment/actions/${encodeId(id, 'actionId')}`, readOptions(options)),
      create: async (action) => this.typed<AttachmentAction>(SHAPES.attachmentAction, 'POST', 'attachment/actions', { json: action }),
    };
    const contents: ContentsDeps = { http: deps.http, outbox: deps.outbox, base: this.base, clock: deps.clock ?? realClock };
    this.contents = {
      download: async (url, options) => download(contents, url, options),
      stream: async (url, options) => stream(contents, url, options),
    };
  }

  /** What `console.log(bot.api)` shows: where it sends its calls (never a secret). */
  [inspect.custom](): string {
    return `WebexApi { apiUrl: ${inspect(this.base)} }`;
  }

  toJSON(): { apiUrl: string } {
    return { apiUrl: this.base };
  }

  /**
   * Any REST call: `path` is relative to apiUrl (`'rooms'`, `'messages/<id>'`) or an absolute URL
   * on it. Resolves with the JSON body; rejects with an ApiError (RateLimitError after the retries).
   */
  async request<T>(method: HttpRequest['method'], path: string, options: RequestOptions = {}): Promise<T> {
    return (await this.exchange<T>(method, path, options)).body as T;
  }

  /** A call whose answer must be `shape` (a 2xx answer that is not is an API_ERROR naming the route and what was wrong). */
  private async typed<T>(shape: Shape, method: HttpRequest['method'], path: string, options: RequestOptions = {}, form?: HttpRequest['form']): Promise<T> {
    const result = await this.exchange<T>(method, path, options, form);
    const problem = problemWith(result.body, result.text, shape);
    if (problem !== undefined) throw this.unexpected(method, path, result.status, `expected ${shape.what}, ${problem}`);
    return result.body as T;
  }

  /** The error for a 2xx answer sparkbot cannot use. */
  private unexpected(method: string, path: string, status: number, what: string): ApiError {
    const url = this.urlOf(path);
    return new ApiError({ message: `Webex API answered ${method} ${routeOf(url, this.base)} with an unexpected body (HTTP ${status}): ${what}`, method, url, status });
  }

  private urlOf(path: string): string {
    return /^https?:\/\//.test(path) ? path : `${this.base}/${path.replace(/^\/+/, '')}`;
  }

  private async exchange<T>(method: HttpRequest['method'], path: string, options: RequestOptions, form: HttpRequest['form'] = options.form): Promise<HttpResult<T>> {
    const url = this.urlOf(path);
    const searchParams = definedParams(options.searchParams);
    const retries = retriesOf(options.retries);
    const timeout = durationOption('timeout', options.timeout, 1);
    const req: HttpRequest = {
      method,
      url,
      ...(form !== undefined ? { form } : options.json === undefined ? {} : { json: options.json }),
      ...(timeout === undefined ? {} : { timeout }),
      ...(searchParams === undefined ? {} : { searchParams }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    };
    const result = await this.deps.outbox.send(req, {
      // Only reads are tried again: a write answered 5xx, or not at all, may well have happened.
      retries: method === 'GET' ? retries : 0,
    });
    if (result.status >= 200 && result.status < 300) {
      if (result.text !== '' && result.body === undefined) throw this.deps.http.errorFor(req, result, 'Webex API answered with a body that is not JSON');
      return result as HttpResult<T>;
    }
    throw this.deps.http.errorFor(req, result, 'Webex API call failed');
  }

  private list<T>(path: string, query: Query, shape: Shape, options?: ListOptions): Paged<T> {
    const first = new URLSearchParams(Object.entries(definedParams(query) ?? {}).map(([k, v]): [string, string] => [k, String(v)]));
    const read = readOptions(options);
    const firstUrl = new URL(this.urlOf(path));
    for (const [key, value] of first) firstUrl.searchParams.append(key, value);
    return paged<T>(
      async (url) => {
        const result = await this.exchange<{ items?: T[] }>('GET', url, read);
        const problem = problemWithPage(result.body, result.text, shape);
        if (problem !== undefined) throw this.unexpected('GET', url, result.status, `expected a page of a list (an object with "items", each ${shape.what}), ${problem}`);
        const link = parseLinkHeader(result.headers.get('link')).get('next');
        return { items: (result.body as { items: T[] }).items, next: link === undefined ? undefined : restoreDroppedParams(link, first) };
      },
      {
        first: firstUrl.toString(),
        maxPages: maxPagesOf(options?.maxPages),
        ...(options?.signal === undefined ? {} : { signal: options.signal }),
        fail: (url, why) => new ApiError({ message: `Webex API list GET ${routeOf(firstUrl.toString(), this.base)} stopped: ${why}`, method: 'GET', url }),
      },
    );
  }

  private collection<T, Create, Update, ListQuery extends Query>(path: string, idName: string, shape: Shape): Collection<T, Create, Update, ListQuery> {
    return {
      list: (query, options) => this.list<T>(path, query ?? {}, shape, options),
      get: async (id, options) => this.typed<T>(shape, 'GET', `${path}/${encodeId(id, idName)}`, readOptions(options)),
      create: async (body) => this.typed<T>(shape, 'POST', path, { json: body }),
      update: async (id, body) => this.typed<T>(shape, 'PUT', `${path}/${encodeId(id, idName)}`, { json: body }),
      delete: async (id) => this.request<void>('DELETE', `${path}/${encodeId(id, idName)}`),
    };
  }
}

function encodeId(id: string, name: string): string {
  if (typeof id !== 'string' || id.trim() === '') throw new ApiError({ message: `${name} is required (got ${id === '' ? 'an empty string' : typeof id})`, method: '-', url: '-' });
  return encodeURIComponent(id);
}

function definedParams(query: Query | undefined): Record<string, string | number | boolean> | undefined {
  if (!query) return undefined;
  const out: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(query)) if (value !== undefined) out[key] = value;
  return Object.keys(out).length === 0 ? undefined : out;
}

/** Only `retries` and `signal` of a read's options (an object with other fields is no request option set). */
function readOptions(options: ReadOptions | undefined): RequestOptions {
  return {
    ...(options?.retries === undefined ? {} : { retries: options.retries }),
    ...(options?.signal === undefined ? {} : { signal: options.signal }),
  };
}

/** `maxPages` of a list: a whole number from 1, default DEFAULT_MAX_PAGES. */
function maxPagesOf(maxPages: number | undefined): number {
  if (maxPages === undefined) return DEFAULT_MAX_PAGES;
  if (!Number.isInteger(maxPages) || maxPages < 1) throw new SparkBotError('INVALID_OPTION', `list({ maxPages }) must be a whole number, at least 1, got ${String(maxPages)}`);
  return maxPages;
}

/** "messages/Y2lz…" for a URL under the API base, the URL's path otherwise: what an error names. */
function routeOf(url: string, base: string): string {
  const bare = url.split('?')[0] ?? url;
  return bare.startsWith(`${base}/`) ? bare.slice(base.length + 1) : bare;
}

/** `timeout` and `signal` of messages.create's options. */
function sendOptionsOf(options: SendOptions | undefined): RequestOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw new SparkBotError('INVALID_OPTION', `the options of messages.create() must be an object, got ${options === null ? 'null' : typeof options}`);
  return {
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
}

/** The `retries` of a request: a whole number from 0 to 10. */
function retriesOf(retries: number | undefined): number {
  if (retries === undefined) return 0;
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) {
    throw new SparkBotError('INVALID_OPTION', `request({ retries }) must be a whole number from 0 to 10, got ${String(retries)}`);
  }
  return retries;
}
