/**
 * The Webex REST client behind `bot.api`. Every call goes through `request`, which waits out a
 * 429 (Retry-After in seconds or as an HTTP date, else `retryTimeout`, capped by `retryAfterMax`)
 * up to `retryCount` times and then rejects with the ApiError; it never drops a call silently.
 */
import { ApiError } from '../errors.js';
import type { Http, HttpRequest } from '../http.js';
import type { Log } from '../log.js';
import type { CreateMessage, Message, Person } from './types.js';

export interface RestDeps {
  readonly http: Http;
  readonly apiUrl: string;
  readonly retryCount: number;
  readonly retryTimeout: number;
  readonly retryAfterMax: number;
  readonly log: Log;
}

export interface RequestOptions {
  readonly json?: unknown;
  readonly searchParams?: Record<string, string | number | boolean>;
  readonly signal?: AbortSignal;
}

export class WebexApi {
  readonly people = {
    /** The bot itself (GET /people/me). */
    me: (): Promise<Person> => this.request<Person>('GET', 'people/me'),
    get: (personId: string): Promise<Person> => this.request<Person>('GET', `people/${encodeId(personId)}`),
  };

  readonly messages = {
    get: (messageId: string): Promise<Message> => this.request<Message>('GET', `messages/${encodeId(messageId)}`),
    create: (message: CreateMessage): Promise<Message> => this.request<Message>('POST', 'messages', { json: message }),
    delete: (messageId: string): Promise<void> => this.request<void>('DELETE', `messages/${encodeId(messageId)}`),
  };

  private readonly base: string;

  constructor(private readonly deps: RestDeps) {
    this.base = deps.apiUrl.replace(/\/+$/, '');
  }

  /** Any REST call: `path` is relative to apiUrl (`'rooms'`, `'messages/<id>'`) or an absolute URL on it. */
  async request<T>(method: HttpRequest['method'], path: string, options: RequestOptions = {}): Promise<T> {
    const url = /^https?:\/\//.test(path) ? path : `${this.base}/${path.replace(/^\/+/, '')}`;
    const req: HttpRequest = { method, url, ...options };
    for (let attempt = 0; ; attempt += 1) {
      const result = await this.deps.http.send<T>(req);
      if (result.status >= 200 && result.status < 300) return result.body as T;
      const error = this.deps.http.errorFor(req, result, 'Webex API call failed');
      if (result.status !== 429 || attempt >= this.deps.retryCount) throw error;
      const wait = Math.min(error.retryAfter ?? this.deps.retryTimeout, this.deps.retryAfterMax);
      this.deps.log('429 on %s %s; retry %d/%d in %d ms', method, url, attempt + 1, this.deps.retryCount, wait);
      await sleep(wait, options.signal);
    }
  }
}

function encodeId(id: string): string {
  if (typeof id !== 'string' || id === '') throw new ApiError({ message: 'an id is required', method: 'GET', url: '' });
  return encodeURIComponent(id);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
