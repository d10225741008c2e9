/**
 * The Webex REST client behind `bot.api`. Every call goes through the bot's outbox
 * (machines/outbox.ts): a 429 is waited out (Retry-After in seconds or as an HTTP date, else
 * `retryTimeout`, capped by `retryAfterMax`) up to `retryCount` times, in order, and then rejects
 * with a RateLimitError; nothing is dropped silently. Other failures reject with an ApiError
 * carrying the status, Webex's tracking id and the message of the body.
 */
import { ApiError, SparkBotError } from '../errors.js';
import type { Http, HttpRequest, HttpResult } from '../http.js';
import type { Outbox } from './outbox.js';
import { paged, parseLinkHeader, restoreDroppedParams, type Paged } from './paging.js';
import type {
  AttachmentAction,
  CreateAttachmentAction,
  CreateMembership,
  CreateMessage,
  CreateRoom,
  CreateTeamMembership,
  CreateWebhook,
  Membership,
  Message,
  Person,
  Room,
  Team,
  TeamMembership,
  Webhook,
} from './types.js';

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface RequestOptions {
  readonly json?: unknown;
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

/** Options of a read: `retries` as in {@link RequestOptions}. */
export interface ReadOptions {
  readonly retries?: number;
}

export interface RestDeps {
  readonly http: Http;
  readonly outbox: Outbox;
  readonly apiUrl: string;
}

/** The operations of a REST collection such as `rooms`. */
export interface Collection<T, Create, Update, ListQuery extends Query> {
  list(query?: ListQuery, options?: ReadOptions): Paged<T>;
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
    list(query?: { email?: string; displayName?: string; id?: string; orgId?: string; max?: number }, options?: ReadOptions): Paged<Person>;
  };

  readonly messages: {
    get(messageId: string, options?: ReadOptions): Promise<Message>;
    /** `roomId` or `toPersonId`/`toPersonEmail`; `text` and/or `markdown`; `files` (URLs); `attachments` (cards); `parentId` to reply in a thread. */
    create(message: CreateMessage): Promise<Message>;
    /** Group rooms need `mentionedPeople: 'me'` for bots (Webex answers 403 otherwise). */
    list(query: { roomId: string; mentionedPeople?: string; parentId?: string; before?: string; beforeMessage?: string; max?: number }, options?: ReadOptions): Paged<Message>;
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

  private readonly base: string;

  constructor(private readonly deps: RestDeps) {
    this.base = deps.apiUrl.replace(/\/+$/, '');
    this.people = {
      me: async () => this.request<Person>('GET', 'people/me'),
      get: async (id, options) => this.request<Person>('GET', `people/${encodeId(id, 'personId')}`, readOptions(options)),
      list: (query = {}, options) => this.list<Person>('people', query, options),
    };
    this.messages = {
      get: async (id, options) => this.request<Message>('GET', `messages/${encodeId(id, 'messageId')}`, readOptions(options)),
      create: async (message) => this.request<Message>('POST', 'messages', { json: message }),
      list: (query, options) => this.list<Message>('messages', query, options),
      update: async (id, body) => this.request<Message>('PUT', `messages/${encodeId(id, 'messageId')}`, { json: body }),
      delete: async (id) => this.request<void>('DELETE', `messages/${encodeId(id, 'messageId')}`),
    };
    this.rooms = this.collection('rooms', 'roomId');
    this.memberships = this.collection('memberships', 'membershipId');
    this.teams = this.collection('teams', 'teamId');
    this.teamMemberships = this.collection('team/memberships', 'membershipId');
    this.webhooks = this.collection('webhooks', 'webhookId');
    this.attachmentActions = {
      get: async (id, options) => this.request<AttachmentAction>('GET', `attachment/actions/${encodeId(id, 'actionId')}`, readOptions(options)),
      create: async (action) => this.request<AttachmentAction>('POST', 'attachment/actions', { json: action }),
    };
  }

  /**
   * Any REST call: `path` is relative to apiUrl (`'rooms'`, `'messages/<id>'`) or an absolute URL
   * on it. Resolves with the JSON body; rejects with an ApiError (RateLimitError after the retries).
   */
  async request<T>(method: HttpRequest['method'], path: string, options: RequestOptions = {}): Promise<T> {
    return (await this.exchange<T>(method, path, options)).body as T;
  }

  private async exchange<T>(method: HttpRequest['method'], path: string, options: RequestOptions): Promise<HttpResult<T>> {
    const url = /^https?:\/\//.test(path) ? path : `${this.base}/${path.replace(/^\/+/, '')}`;
    const searchParams = definedParams(options.searchParams);
    const retries = retriesOf(options.retries);
    const req: HttpRequest = {
      method,
      url,
      ...(options.json === undefined ? {} : { json: options.json }),
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

  private list<T>(path: string, query: Query, options?: ReadOptions): Paged<T> {
    const first = new URLSearchParams(Object.entries(definedParams(query) ?? {}).map(([k, v]): [string, string] => [k, String(v)]));
    const read = readOptions(options);
    return paged<T>(async (next) => {
      const result = next === undefined ? await this.exchange<{ items?: T[] }>('GET', path, { ...read, searchParams: query }) : await this.exchange<{ items?: T[] }>('GET', next, read);
      const link = parseLinkHeader(result.headers.get('link')).get('next');
      return { items: result.body?.items ?? [], next: link === undefined ? undefined : restoreDroppedParams(link, first) };
    });
  }

  private collection<T, Create, Update, ListQuery extends Query>(path: string, idName: string): Collection<T, Create, Update, ListQuery> {
    return {
      list: (query, options) => this.list<T>(path, query ?? {}, options),
      get: async (id, options) => this.request<T>('GET', `${path}/${encodeId(id, idName)}`, readOptions(options)),
      create: async (body) => this.request<T>('POST', path, { json: body }),
      update: async (id, body) => this.request<T>('PUT', `${path}/${encodeId(id, idName)}`, { json: body }),
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

/** Only `retries` of a read's options (an object with other fields is no request option set). */
function readOptions(options: ReadOptions | undefined): RequestOptions {
  return options?.retries === undefined ? {} : { retries: options.retries };
}

/** The `retries` of a request: a whole number from 0 to 10. */
function retriesOf(retries: number | undefined): number {
  if (retries === undefined) return 0;
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) {
    throw new SparkBotError('INVALID_OPTION', `request({ retries }) must be a whole number from 0 to 10, got ${String(retries)}`);
  }
  return retries;
}
