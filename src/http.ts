/**
 * The one place where sparkbot's HTTP requests get the token: a ky instance whose hook adds the
 * Authorization header only for the origins the user configured (wdmUrl, apiUrl, u2cUrl) and the
 * WDM that the service catalog named, once checked (allowOrigin). ky's
 * own retries are off; callers (the machine, the REST client) decide what a failure means.
 *
 * Every exchange is bounded here, whatever the server does: one timer covers the whole request,
 * the body included (the body is read here, chunk by chunk, racing that timer: a body that
 * trickles in cannot outlive it); a body larger than `maxResponseSize` is not read further;
 * redirects are followed only within the origin they came from; and every string the server
 * sent (the body, the headers) is redacted before anything else sees it.
 *
 * Files (rest/files.ts) use the same exchange: a multipart body (`form`, sent by the transport
 * itself under the same rules), a 2xx body as bytes (bounded by `maxSize`, not redacted: it is the
 * file) or as a stream (the timer covers the exchange until the headers, then each wait for data
 * is bounded by `idleTimeout`; see #streamOf).
 *
 * Under ky, the requests go through src/transport.ts (ky's `fetch` option): undici's `request()`
 * over the keep-alive pool of the process, or over `dispatcher` when one is given. One AbortSignal per
 * exchange (the controller below) reaches the transport, as a ky option ky passes through; a JSON
 * body and the query are put together here, which spares ky a second Request and a body stream
 * (and its copy) per request — see docs/benchmarks.md#transport.
 */
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import ky, { type KyInstance, type Options as KyOptions } from 'ky';
import { ApiError } from './errors.js';
import type { Log, Redactor } from './log.js';
import { parseRetryAfter } from './protocol/retry-after.js';
import { createTransport, dropBody, takeBody, type Transport, type TransportInit } from './transport.js';

export interface HttpDeps {
  readonly token: string;
  readonly allowedOrigins: ReadonlySet<string>;
  readonly redactor: Redactor;
  readonly log: Log;
  /** ms before a request, its body included, is abandoned. */
  readonly timeout: number;
  /** Bytes of a response body at most; a larger one is an error and is not read further. */
  readonly maxResponseSize?: number;
  /** An undici Dispatcher (Agent, ProxyAgent…) that carries every request when given; otherwise the keep-alive pool of the process does. */
  readonly dispatcher?: unknown;
}

export interface HttpResult<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T | undefined;
  /** The body as (redacted) text; '' for a 2xx answer read as bytes or as a stream. */
  readonly text: string;
  /** `responseType: 'bytes'`: the body of a 2xx answer, as it came (a file is not redacted). */
  readonly data?: Buffer;
  /** `responseType: 'stream'`: the body of a 2xx answer, still to be read. */
  readonly stream?: Readable;
}

/** What makes a multipart body when the request is sent; `signal` aborts when the exchange is given up. */
export type FormMaker = (signal: AbortSignal) => Promise<FormData>;

export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly url: string;
  readonly json?: unknown;
  /**
   * A multipart/form-data body instead of `json`, or what makes it when the request is sent (its
   * time counts in the request's timeout). An error the maker throws rejects the call as it is:
   * nothing was sent. Sent by the transport itself (not through ky, whose retry copy would hold a
   * second copy of the body), under the same rules: the token only to the allowed origins, one timer, redirects
   * within the origin.
   */
  readonly form?: FormData | FormMaker;
  readonly searchParams?: Record<string, string | number | boolean>;
  readonly signal?: AbortSignal;
  /**
   * How the body of a 2xx answer is given: 'text' (the default: redacted text, parsed as JSON when
   * it is JSON), 'bytes' (`data`, a Buffer, read within the timeout, at most `maxSize` bytes) or
   * 'stream' (`stream`, a Readable: the timeout covers the exchange until the headers, and then
   * each wait for data is bounded by `idleTimeout`). Other answers are read as text.
   */
  readonly responseType?: 'text' | 'bytes' | 'stream';
  /** 'bytes' and 'stream': bytes of a 2xx body at most (default: maxResponseSize for 'bytes', none for 'stream'). */
  readonly maxSize?: number;
  /** What an error about `maxSize` advises, e.g. "pass a larger maxSize". */
  readonly maxSizeHint?: string;
  /** ms before this request is abandoned, instead of the Http's `timeout`. */
  readonly timeout?: number;
  /** 'stream': ms the body may go without bringing data while it is read (default: the timeout). */
  readonly idleTimeout?: number;
}

/** Default of `maxResponseSize`: 8 MiB, far above any JSON answer of Webex's API. */
export const DEFAULT_MAX_RESPONSE_SIZE = 8 * 1024 * 1024;
/** Redirects followed at most (within one origin). */
const MAX_REDIRECTS = 5;

/** Why send() gave an exchange up: the request timer, a body too large, a redirect it does not follow. */
class Abandoned extends Error {
  constructor(
    /** What happened to the request, as the error message says it: "got no answer", "was refused"… */
    readonly outcome: string,
    detail: string,
  ) {
    super(detail);
  }
}

export class Http {
  readonly #token: string;
  readonly #deps: HttpDeps;
  readonly #ky: KyInstance;
  readonly #transport: Transport;
  readonly #maxResponseSize: number;
  /** The origins the token goes to: the configured ones, and the WDM sparkbot found (see allowOrigin). */
  readonly #origins: Set<string>;

  constructor(deps: HttpDeps) {
    this.#token = deps.token;
    this.#origins = new Set(deps.allowedOrigins);
    this.#deps = deps;
    this.#maxResponseSize = deps.maxResponseSize ?? DEFAULT_MAX_RESPONSE_SIZE;
    this.#transport = createTransport(deps.dispatcher === undefined ? {} : { dispatcher: deps.dispatcher });
    const options: KyOptions = {
      retry: 0,
      throwHttpErrors: false,
      // send() bounds the whole exchange, body included, with its own timer.
      timeout: false,
      // Redirects are followed by send(), within one origin only.
      redirect: 'manual',
      headers: { accept: 'application/json' },
      fetch: this.#transport.fetch as KyOptions['fetch'],
      hooks: {
        beforeRequest: [
          (request) => {
            request.headers.set('authorization', this.#authorization(request.url));
          },
        ],
      },
    };
    this.#ky = ky.create(options);
  }

  /**
   * Lets the token go to one more origin: the WDM that the service catalog or the last-connection
   * file named, once checked (src/actors/wdm.ts). Nothing else widens the list.
   */
  allowOrigin(origin: string): void {
    this.#origins.add(origin);
  }

  /** Default of `maxSize` for `responseType: 'bytes'`: the `maxResponseSize` of this Http. */
  get maxResponseSize(): number {
    return this.#maxResponseSize;
  }

  /** The ApiError of a request refused before it was sent (`why`: a sentence), redacted. */
  notSent(req: Pick<HttpRequest, 'method' | 'url'>, why: string): ApiError {
    return this.#deps.redactor.error(new ApiError({ message: `${req.method} ${req.url} was not sent: ${why}`, method: req.method, url: this.#deps.redactor.redact(req.url) }));
  }

  /** Sends a request. Resolves with any HTTP answer; rejects with an ApiError when there was none (or it was unusable). */
  async send<T = unknown>(req: HttpRequest): Promise<HttpResult<T>> {
    const refused = this.#refusal(req.url);
    if (refused !== undefined) {
      throw this.notSent(req, `the token goes only to the origins of wdmUrl, apiUrl and u2cUrl, and ${refused} is none of them`);
    }
    req.signal?.throwIfAborted();
    const started = Date.now();
    const timeout = req.timeout ?? this.#deps.timeout;
    const responseType = req.responseType ?? 'text';
    // One controller for the whole exchange, driven by a timer the event loop holds: nothing a
    // garbage collection can take away (ky 1.x loses a timeout signal's abort once headers arrived).
    const controller = new AbortController();
    let why: Abandoned | undefined;
    const giveUp = (reason: Abandoned) => {
      why ??= reason;
      controller.abort(reason);
    };
    /** True while a form maker runs: what it throws is the caller's answer, and its time is no wait for an answer. */
    let making = false;
    const timer = setTimeout(
      () =>
        giveUp(
          making
            ? new Abandoned('was not sent', `making its body (reading the file to upload) took more than ${req.timeout === undefined ? 'requestTimeout' : 'the timeout'} (${timeout} ms)`)
            : new Abandoned('got no answer', `no answer within ${req.timeout === undefined ? 'requestTimeout' : 'the timeout'} (${timeout} ms)${responseType === 'stream' ? ' (until the headers)' : ''}`),
        ),
      timeout,
    );
    timer.unref();
    const onCallerAbort = () => controller.abort(req.signal?.reason);
    req.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const abandoned = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    abandoned.catch(() => undefined);
    let status: number;
    let headers: Headers;
    let text = '';
    let data: Buffer | undefined;
    let stream: Readable | undefined;
    let url = req.url;
    let makerError: { error: unknown } | undefined;
    try {
      let method = req.method;
      let json = req.json;
      let form: FormData | undefined;
      if (typeof req.form === 'function') {
        making = true;
        const maker = req.form;
        form = await Promise.race([
          maker(controller.signal).catch((error: unknown) => {
            makerError = { error };
            throw error;
          }),
          abandoned,
        ]);
        making = false;
      } else form = req.form;
      let searchParams = req.searchParams;
      for (let hops = 0; ; hops++) {
        const response = await Promise.race([
          form === undefined
            ? this.#ky(withQuery(url, searchParams), {
                method,
                ...(json === undefined ? {} : { headers: { 'content-type': 'application/json' } }),
                // Options ky does not know go to its `fetch`, the transport, untouched.
                ...({ abort: controller.signal, ...(json === undefined ? {} : { payload: JSON.stringify(json) }) } satisfies TransportInit as object),
              })
            : this.#fetchForm(url, method, form, searchParams, controller.signal),
          abandoned,
        ]);
        const location = response.headers.get('location');
        if (response.status < 300 || response.status >= 400 || location === null) {
          status = response.status;
          headers = this.#cleanHeaders(response.headers);
          const ok = status >= 200 && status < 300;
          if (ok && responseType === 'bytes') {
            const max = req.maxSize ?? this.#maxResponseSize;
            data = await this.#readAll(response, abandoned, giveUp, max, `maxSize (${max} bytes)`, req.maxSizeHint ?? 'pass a larger maxSize');
          } else if (ok && responseType === 'stream') {
            stream = this.#streamOf(req, response, timeout, giveUp);
          } else {
            text = await this.#readBody(response, abandoned, giveUp);
          }
          break;
        }
        discard(response);
        const next = resolveLocation(location, response.url || url);
        const from = originOf(url);
        if (next === undefined || originOf(next) !== from) {
          throw new Abandoned(
            'was refused',
            `it answered HTTP ${response.status} with a redirect to ${next === undefined ? 'an invalid URL' : (originOf(next) ?? next)}, another origin; the answer of another server is not used, nor is the token sent there`,
          );
        }
        if (hops >= MAX_REDIRECTS) throw new Abandoned('was refused', `it redirected more than ${MAX_REDIRECTS} times`);
        if (response.status === 303 || ((response.status === 301 || response.status === 302) && method !== 'GET')) {
          method = 'GET';
          json = undefined;
          form = undefined;
        }
        searchParams = undefined; // the Location is the whole URL
        url = next;
      }
    } catch (error) {
      if (req.signal?.aborted && why === undefined) throw req.signal.reason;
      // The form maker's own error (a file that cannot be read…): nothing was sent, and it says why.
      if (makerError !== undefined && why === undefined) throw makerError.error;
      const given = why ?? (error instanceof Abandoned ? error : new Abandoned('got no answer', describeNetworkError(error)));
      const message = `${req.method} ${req.url} ${given.outcome}: ${given.message}`;
      this.#deps.log('%s', message);
      // The cause is a plain copy: ky's and fetch's errors carry the request, whose headers hold the token.
      throw this.#deps.redactor.error(new ApiError({ message, method: req.method, url: this.#deps.redactor.redact(req.url), cause: plainError(error) }));
    } finally {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onCallerAbort);
    }
    let body: T | undefined;
    if (text !== '') {
      try {
        body = JSON.parse(text) as T;
      } catch {
        body = undefined;
      }
    }
    this.#deps.log('%s %s -> %d (%d ms)', req.method, req.url, status, Date.now() - started);
    return { status, headers, body, text, ...(data === undefined ? {} : { data }), ...(stream === undefined ? {} : { stream }) };
  }

  /**
   * The body of a 2xx answer when it is a JSON object; otherwise an ApiError that says so and asks
   * whether `option` (the URL the user configured) is right or a proxy answered.
   */
  objectBody<T extends object>(req: HttpRequest, result: HttpResult<T>, what: string, option: string): T {
    const body: unknown = result.body;
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) return body as T;
    const type = result.headers.get('content-type');
    throw new ApiError({
      message: `${what}: ${req.method} ${req.url} answered HTTP ${result.status} with a body that is not a JSON object${type ? ` (${type})` : ''}; is ${option} right, or did a proxy answer?`,
      method: req.method,
      url: req.url,
    });
  }

  /** The ApiError for an HTTP answer that is not a success. */
  errorFor(req: HttpRequest, result: HttpResult, what: string): ApiError {
    const body = result.body as { message?: unknown } | undefined;
    const detail = typeof body?.message === 'string' ? clip(body.message, 500) : result.text === '' ? '' : result.body === undefined ? 'the body is not JSON' : '';
    const header = result.headers.get('trackingid');
    const trackingId = header === null ? undefined : clip(header, 200);
    const retryAfter = parseRetryAfter(result.headers.get('retry-after'));
    const message = `${what}: ${req.method} ${req.url} answered HTTP ${result.status}${detail ? ` (${detail})` : ''}${trackingId ? ` [trackingId ${trackingId}]` : ''}`;
    return this.#deps.redactor.error(
      new ApiError({
        message,
        method: req.method,
        url: this.#deps.redactor.redact(req.url),
        status: result.status,
        ...(trackingId === undefined ? {} : { trackingId }),
        ...(retryAfter === undefined ? {} : { retryAfter }),
      }),
    );
  }

  /** The Authorization header for `url`; throws when the token must not go there. */
  #authorization(url: string): string {
    const origin = new URL(url).origin;
    if (!this.#origins.has(origin)) {
      throw new Error(`refusing to send the token to ${origin}: it is none of the origins of wdmUrl (or the WDM in use), apiUrl and u2cUrl`);
    }
    return `Bearer ${this.#token}`;
  }

  /** A request with a multipart body, through the transport itself (see HttpRequest.form), redirects left to send(). */
  #fetchForm(url: string, method: string, form: FormData, searchParams: HttpRequest['searchParams'], signal: AbortSignal): Promise<Response> {
    const target = new URL(url);
    for (const [key, value] of Object.entries(searchParams ?? {})) target.searchParams.set(key, String(value));
    return this.#transport.fetch(target, {
      method,
      body: form,
      headers: { accept: 'application/json', authorization: this.#authorization(target.toString()) },
      abort: signal,
    });
  }

  /** Why the token must not go to `url` (its origin, or "this URL"), or undefined when it may. */
  #refusal(url: string): string | undefined {
    const origin = originOf(url);
    return origin !== undefined && this.#origins.has(origin) ? undefined : (origin ?? 'this URL');
  }

  /**
   * The body as text, read chunk by chunk: each read races the exchange's abort (the timer), and
   * reading stops at `maxResponseSize` bytes (announced by Content-Length, or counted).
   */
  async #readBody(response: Response, abandoned: Promise<never>, giveUp: (why: Abandoned) => void): Promise<string> {
    const max = this.#maxResponseSize;
    const bytes = await this.#readAll(response, abandoned, giveUp, max, `maxResponseSize (${max} bytes)`, 'raise maxResponseSize if this answer is right');
    return this.#deps.redactor.redact(bytes.toString('utf8'));
  }

  /** The body as bytes, read as #readBody says, at most `max` bytes (`limit` names the bound in the error, `hint` says what to do). */
  async #readAll(response: Response, abandoned: Promise<never>, giveUp: (why: Abandoned) => void, max: number, limit: string, hint: string): Promise<Buffer> {
    const tooLarge = (size: string) => new Abandoned('was abandoned', `it answered HTTP ${response.status} with a body ${size} ${limit}; it was not read further — ${hint}`);
    const announced = contentLength(response.headers);
    if (announced !== undefined && announced > max) {
      discard(response);
      giveUp(tooLarge(`of ${announced} bytes (Content-Length), more than`));
      return abandoned;
    }
    const raw = takeBody(response);
    if (raw === null) return Buffer.alloc(0);
    if (raw !== undefined) return readStream(raw, abandoned, max, () => giveUp(tooLarge('larger than')));
    if (response.body === null) return Buffer.alloc(0);
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for (;;) {
        const { done, value } = await Promise.race([reader.read(), abandoned]);
        if (done) break;
        size += value.byteLength;
        if (size > max) {
          giveUp(tooLarge('larger than'));
          return await abandoned;
        }
        chunks.push(value);
      }
    } finally {
      // Releases the connection when the body was not read to its end (a no-op when it was).
      void reader.cancel().catch(() => undefined);
    }
    return Buffer.concat(chunks);
  }

  /**
   * The body of a 2xx answer as a Readable. The exchange's timer stops once send() returns; from
   * then on each read of the network waits `idleTimeout` at most (time the consumer takes between
   * reads does not count: a slow reader is no dead server), the body may not pass `maxSize`, and
   * the caller's signal destroys the stream. Errors are ApiErrors that name the request, redacted.
   */
  #streamOf(req: HttpRequest, response: Response, timeout: number, giveUp: (why: Abandoned) => void): Readable {
    const max = req.maxSize ?? Number.POSITIVE_INFINITY;
    const idle = req.idleTimeout ?? timeout;
    const announced = contentLength(response.headers);
    if (announced !== undefined && announced > max) {
      discard(response);
      const reason = new Abandoned('was abandoned', `it answered HTTP ${response.status} with a body of ${announced} bytes (Content-Length), more than maxSize (${max} bytes); it was not read — ${req.maxSizeHint ?? 'pass a larger maxSize'}`);
      giveUp(reason);
      throw reason;
    }
    const failure = (outcome: string, detail: string, cause?: unknown) => {
      const message = `${req.method} ${req.url} ${outcome}: ${detail}`;
      this.#deps.log('%s', message);
      return this.#deps.redactor.error(new ApiError({ message, method: req.method, url: this.#deps.redactor.redact(req.url), status: response.status, ...(cause === undefined ? {} : { cause: plainError(cause) }) }));
    };
    if (response.body === null) return Readable.from([]);
    const reader = response.body.getReader();
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    // An error destroys the stream with it only when someone listens: an 'error' nobody listens to
    // would crash the process (the caller may not have attached its handlers yet). Without one, the
    // stream just closes before its end (a pipeline then says ERR_STREAM_PREMATURE_CLOSE).
    const fail = (error: Error) => {
      if (stream.destroyed) return;
      if (stream.listenerCount('error') > 0) stream.destroy(error);
      else stream.destroy();
    };
    const onAbort = () => fail(req.signal?.reason instanceof Error ? req.signal.reason : new Error(String(req.signal?.reason)));
    const stream = new Readable({
      read() {
        timer = setTimeout(() => fail(failure('was abandoned', `its body brought no data for ${idle} ms (idleTimeout); it was not read further`)), idle);
        timer.unref();
        reader.read().then(
          ({ done, value }) => {
            clearTimeout(timer);
            if (stream.destroyed) return;
            if (done) {
              stream.push(null);
              return;
            }
            size += value.byteLength;
            if (size > max) {
              fail(failure('was abandoned', `its body is larger than maxSize (${max} bytes); it was not read further — ${req.maxSizeHint ?? 'pass a larger maxSize'}`));
              return;
            }
            stream.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
          },
          (error: unknown) => {
            clearTimeout(timer);
            fail(failure('broke off', `its body could not be read to its end: ${describeNetworkError(error)}`, error));
          },
        );
      },
      destroy(error, callback) {
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        void reader.cancel().catch(() => undefined);
        callback(error);
      },
    });
    if (req.signal?.aborted) onAbort();
    else req.signal?.addEventListener('abort', onAbort, { once: true });
    return stream;
  }

  /** The headers, with every value that holds the token (or a piece of it) redacted. */
  #cleanHeaders(headers: Headers): Headers {
    let clean: Headers | undefined;
    for (const [name, value] of headers) {
      if (!this.#deps.redactor.contains(value)) continue;
      clean ??= new Headers(headers);
      clean.set(name, this.#deps.redactor.redact(value));
    }
    return clean ?? headers;
  }

  [inspect.custom](): string {
    return `Http { origins: ${inspect([...this.#origins])} }`;
  }

  toJSON(): { origins: string[] } {
    return { origins: [...this.#origins] };
  }
}

/** Drops the body of an answer that is not used (a redirect, a body too large): the connection is let go. */
function discard(response: Response): void {
  const raw = takeBody(response);
  if (raw === undefined) void response.body?.cancel().catch(() => undefined);
  else if (raw !== null) dropBody(raw);
}

/**
 * A Node stream's bytes (the transport's body), raced with the exchange's abort (which destroys
 * the stream too); past `max` bytes, `tooLarge` gives up and the stream is destroyed.
 */
async function readStream(raw: Readable, abandoned: Promise<never>, max: number, tooLarge: () => void): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  const read = new Promise<Buffer>((resolve, reject) => {
    raw.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > max) {
        if (!over) {
          over = true;
          raw.destroy();
          tooLarge();
        }
        return;
      }
      chunks.push(chunk);
    });
    raw.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)));
    raw.on('error', reject);
    raw.on('close', () => reject(new Error('the body was cut off before its end')));
  });
  read.catch(() => undefined);
  try {
    return await Promise.race([read, abandoned]);
  } finally {
    // Releases the connection when the body was not read to its end (a no-op when it was).
    if (!raw.readableEnded) raw.destroy();
  }
}

/** `url` with `searchParams` as its query, as ky's `searchParams` does it (the query of `url` is replaced). */
function withQuery(url: string, searchParams: HttpRequest['searchParams']): string {
  if (searchParams === undefined) return url;
  const entries = Object.entries(searchParams).filter(([, value]) => value !== undefined);
  if (entries.length === 0) return url;
  const query = new URLSearchParams(entries.map(([key, value]): [string, string] => [key, String(value)])).toString();
  return url.replace(/(?:\?.*?)?(?=#|$)/, `?${query}`);
}

/** The Content-Length of an answer, when it is a whole number. */
function contentLength(headers: Headers): number | undefined {
  const value = headers.get('content-length');
  if (value === null || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value);
}

/** The absolute URL of a Location header, or undefined when it is none. */
function resolveLocation(location: string, base: string): string | undefined {
  try {
    return new URL(location, base).toString();
  } catch {
    return undefined;
  }
}

/** `text` cut to `max` characters (a server's string kept in an error or a field). */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** The origin of `url`, or undefined when it is no valid URL. */
export function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** A copy of an error with only its name, message, code and (recursively) cause: nothing else travels. */
export function plainError(error: unknown): Error {
  if (!(error instanceof Error)) return new Error(String(error));
  const cause = (error as { cause?: unknown }).cause;
  const copy = new Error(error.message, cause === undefined ? undefined : { cause: plainError(cause) });
  copy.name = error.name;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === 'string') (copy as NodeJS.ErrnoException).code = code;
  copy.stack = `${copy.name}: ${copy.message}`;
  return copy;
}

/**
 * "connect ECONNREFUSED 127.0.0.1:8080: nothing accepts connections there; …",
 * "getaddrinfo ENOTFOUND example.invalid: the host name does not resolve; …", "self-signed
 * certificate (DEPTH_ZERO_SELF_SIGNED_CERT): the server's TLS certificate is not trusted; …".
 * fetch wraps the network error in a TypeError ("fetch failed") whose cause says what happened.
 */
export function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return 'the request timed out';
  const cause = (error as { cause?: unknown }).cause;
  return describeConnectError(cause instanceof Error ? cause : error);
}

/** An error of a connection attempt (fetch's cause, or a WebSocket's error): its message, code and a hint. */
export function describeConnectError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  const text = code && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
  const hint = networkHint(code, error.message);
  return hint ? `${text}: ${hint}` : text;
}

/** What to check for a network error code; undefined when there is nothing useful to say. */
export function networkHint(code: string | undefined, message = ''): string | undefined {
  switch (code) {
    case 'ENOTFOUND':
      return 'the host name does not resolve (DNS); check the URL and the network';
    case 'EAI_AGAIN':
      return 'the DNS lookup failed for now; check the network';
    case 'ECONNREFUSED':
      return 'nothing accepts connections there; check the host and port of the URL, or whether a proxy is needed (agent, dispatcher)';
    case 'ECONNRESET':
      return 'the connection was cut; a proxy or firewall may be in the way';
    case 'ETIMEDOUT':
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return 'the host cannot be reached; check the network, or whether a proxy is needed (agent, dispatcher)';
    default:
      break;
  }
  if ((code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) || /certificate/i.test(message)) {
    return "the server's TLS certificate is not trusted; behind a TLS-inspecting proxy, trust its CA (NODE_EXTRA_CA_CERTS, or an agent and dispatcher with that CA) — do not turn verification off";
  }
  if (message === 'bad port') return "Node's fetch refuses to connect to this port (a port the Fetch standard blocks)";
  return undefined;
}
