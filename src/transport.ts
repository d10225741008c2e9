/**
 * The transport under ky (src/http.ts): a fetch-compatible function that sends each request with
 * undici's `request()` over a keep-alive pool, instead of Node's own `fetch`.
 *
 * Why: Node's fetch runs the whole Fetch algorithm for every request (a second Request, WHATWG
 * streams for the body, a Response built from them, several promise hops); undici's `request()`
 * is the same HTTP client (Node's fetch is undici) without that layer. ky stays the API sparkbot
 * codes against: it builds the Request, runs the hooks, and calls this function as its `fetch`.
 * See docs/benchmarks.md#transport for the figures.
 *
 * What it does, and no more (src/http.ts bounds and checks everything else):
 * - no redirects are followed (like fetch's `redirect: 'manual'`: the 3xx answer is returned);
 * - no Accept-Encoding is sent; a body compressed anyway (gzip, deflate, br: a proxy, a CDN) is
 *   decoded, as fetch does;
 * - the request is aborted by `init.abort` (the one signal of the exchange; src/http.ts passes it
 *   as a ky option that ky hands to its `fetch` untouched), or else by the Request's own signal;
 * - `dispatcher` (the `dispatcher` option, or the environment's proxies: src/proxy.ts) carries
 *   the request when given; otherwise the keep-alive pool of the process does (not a dispatcher
 *   set with undici's `setGlobalDispatcher`: use the `dispatcher` option). Idle connections do not
 *   keep the process alive (undici unrefs them).
 * - the answer is a Response whose body is read, when src/http.ts reads it, straight from the
 *   connection (takeBody); `response.body` and `text()`… still work (a WHATWG stream made then).
 *
 * undici is loaded on the first request, only its Agent and `request()` (not its fetch, cache,
 * WebSocket…: ~1/3 of the time `require('undici')` takes): ~20 ms either at import or in the first
 * start; at the first request, it costs nothing to a process that only imports sparkbot. The
 * keep-alive pool is one per process, shared by the bots of the process (a connection carries no
 * state of a bot: each request has its own headers); that saves ~30 KiB per idle bot.
 */
import { randomBytes } from 'node:crypto';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';

/** What a request of this transport may carry besides the Request (ky passes unknown options through). */
export interface TransportInit {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  /** A body: bytes, text, or a FormData (sent as multipart/form-data). */
  readonly body?: string | Uint8Array | FormData | null;
  /**
   * With a Request: the body to send instead of the Request's (src/http.ts gives a JSON body so,
   * the Request's content-type saying what it is): ky then builds no body stream, nor its copy.
   */
  readonly payload?: string | Uint8Array;
  /** Aborts the request (and its body while it is read); wins over `signal`. */
  readonly abort?: AbortSignal;
  readonly signal?: AbortSignal | null;
}

export interface Transport {
  /** A fetch: `input` is a Request (as ky gives it) or a URL, `init` as fetch's, plus TransportInit. */
  readonly fetch: (input: Request | string | URL, init?: TransportInit) => Promise<Response>;
}

type RequestFn = (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
type AgentClass = new (options?: { keepAliveTimeout?: number }) => Dispatcher;

const require = createRequire(import.meta.url);
let undici: { readonly request: RequestFn; readonly Agent: AgentClass } | undefined;

function loadUndici(): { readonly request: RequestFn; readonly Agent: AgentClass } {
  undici ??= {
    request: require('undici/lib/api/api-request.js') as RequestFn,
    Agent: require('undici/lib/dispatcher/agent.js') as AgentClass,
  };
  return undici;
}

/** The keep-alive pool of the process, made on the first request that has no dispatcher of its own. */
let sharedPool: Dispatcher | undefined;

/** A body the server compressed though nothing asked it to (a proxy, a CDN): decoded, as fetch does. */
function decoded(raw: Readable, headers: Headers): Readable {
  const encoding = headers.get('content-encoding')?.trim().toLowerCase();
  const decoder = encoding === 'gzip' || encoding === 'x-gzip' ? createGunzip() : encoding === 'deflate' ? createInflate() : encoding === 'br' ? createBrotliDecompress() : undefined;
  if (decoder === undefined) return raw;
  headers.delete('content-encoding');
  headers.delete('content-length');
  raw.on('error', (error) => decoder.destroy(error));
  decoder.on('close', () => raw.destroy());
  return raw.pipe(decoder);
}

/** Takes the Node body of a TransportResponse (see takeBody). */
const TAKE = Symbol('sparkbot.transport.take');

/**
 * A Response whose body stays a Node stream (undici's) until someone asks for `body`, `text()`…:
 * src/http.ts takes it with takeBody(), without WHATWG streams in between.
 */
/** Response, typed as what the subclass builds on (TypeScript's lib declares its members as properties). */
const ResponseBase = Response as unknown as new (body: null, init: ResponseInit) => { readonly headers: Headers };

class TransportResponse extends ResponseBase {
  #raw: Readable | null;
  /** The body as a WHATWG stream, once asked for; null when there is none or it was taken. */
  #web: ReadableStream<Uint8Array> | null | undefined;
  #taken = false;
  readonly #url: string;

  constructor(raw: Readable | null, status: number, headers: Headers, url: string) {
    super(null, { status, headers });
    this.#raw = raw;
    this.#url = url;
  }

  /** The Node body, once (null when there is none); undefined when `body` was asked for first. */
  [TAKE](): Readable | null | undefined {
    if (this.#taken && this.#raw === null) return null;
    if (this.#web !== undefined) return undefined;
    const raw = this.#raw;
    this.#raw = null;
    this.#taken = true;
    this.#web = null;
    return raw;
  }

  get url(): string {
    return this.#url;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#web === undefined) {
      const raw = this.#raw;
      this.#raw = null;
      this.#web = raw === null ? null : webStreamOf(raw);
    }
    return this.#web;
  }

  get bodyUsed(): boolean {
    return this.#taken || (this.#web != null && this.#web.locked);
  }

  #markUsed(): void {
    this.#taken = true;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.bytes();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  async bytes(): Promise<Uint8Array> {
    if (this.bodyUsed) throw new TypeError('Body is unusable: Body has already been read');
    const body = this.body;
    this.#markUsed();
    if (body === null) return new Uint8Array(0);
    const chunks: Uint8Array[] = [];
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  async text(): Promise<string> {
    return Buffer.from(await this.bytes()).toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async blob(): Promise<Blob> {
    return new Blob([await this.bytes()], { type: this.headers.get('content-type') ?? '' });
  }

  clone(): never {
    throw new TypeError("a Response of sparkbot's transport cannot be cloned");
  }
}

/**
 * The body of `response` as a Node stream, taken (later calls, and `response.body`, get none):
 * null when the answer has no body; undefined when `response` is no Response of this transport,
 * or its `body` was asked for first: read `response.body` then.
 */
export function takeBody(response: Response): Readable | null | undefined {
  return response instanceof TransportResponse ? (response as TransportResponse)[TAKE]() : undefined;
}

/**
 * Lets a body go (a redirect's, one too large): read to its end when it is small, so that the
 * connection serves again, else destroyed (undici's dump()); its errors are nobody's concern.
 */
export function dropBody(raw: Readable): void {
  raw.on('error', () => undefined);
  const dump = (raw as Readable & { dump?: (options?: { limit?: number }) => Promise<void> }).dump;
  if (typeof dump === 'function') void dump.call(raw, { limit: 64 * 1024 }).catch(() => undefined);
  else raw.destroy();
}

/**
 * A WHATWG stream over a Node stream, read on demand (Readable.toWeb, in Node 20, may throw
 * "Controller is already closed" when the Node stream is destroyed at its end).
 */
function webStreamOf(raw: Readable): ReadableStream<Uint8Array> {
  raw.on('error', () => undefined); // errors reach the reader through pull()
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        return new Promise<void>((resolve, reject) => {
          const settle = () => {
            raw.off('readable', attempt);
            raw.off('end', attempt);
            raw.off('error', attempt);
            raw.off('close', attempt);
          };
          const attempt = () => {
            const chunk = raw.readableEnded ? null : (raw.read() as Buffer | null);
            if (chunk !== null) {
              settle();
              controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
              resolve();
            } else if (raw.readableEnded) {
              settle();
              controller.close();
              resolve();
            } else if (raw.errored !== null || raw.destroyed) {
              settle();
              reject(raw.errored ?? new Error('the body was cut off before its end'));
            }
          };
          raw.on('readable', attempt);
          raw.on('end', attempt);
          raw.on('error', attempt);
          raw.on('close', attempt);
          attempt();
        });
      },
      cancel() {
        raw.destroy();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * A FormData as a multipart/form-data body, encoded as Node's fetch does it (undici's encoder
 * takes no FormData but its own): its bytes (Blobs read when sent), its length, its content type.
 */
function multipart(form: FormData): { body: Readable; length: number; type: string } {
  const boundary = `----formdata-sparkbot-${randomBytes(12).toString('hex')}`;
  const prefix = `--${boundary}\r\nContent-Disposition: form-data`;
  const escape = (text: string) => text.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
  const lines = (text: string) => text.replace(/\r?\n|\r/g, '\r\n');
  const parts: Array<Uint8Array | Blob> = [];
  let length = 0;
  const add = (part: Uint8Array | Blob) => {
    parts.push(part);
    length += part instanceof Blob ? part.size : part.byteLength;
  };
  const crlf = Buffer.from('\r\n');
  for (const [name, value] of form) {
    if (typeof value === 'string') {
      add(Buffer.from(`${prefix}; name="${escape(lines(name))}"\r\n\r\n${lines(value)}\r\n`));
    } else {
      add(Buffer.from(`${prefix}; name="${escape(lines(name))}"${value.name ? `; filename="${escape(value.name)}"` : ''}\r\nContent-Type: ${value.type || 'application/octet-stream'}\r\n\r\n`));
      add(value);
      add(crlf);
    }
  }
  add(Buffer.from(`--${boundary}--\r\n`));
  async function* body(): AsyncIterable<Uint8Array> {
    for (const part of parts) {
      if (part instanceof Blob) yield* part.stream() as unknown as AsyncIterable<Uint8Array>;
      else yield part;
    }
  }
  return { body: Readable.from(body(), { objectMode: false }), length, type: `multipart/form-data; boundary=${boundary}` };
}

/** Statuses whose answer has no body (a Response refuses one). */
function nullBody(status: number, method: string): boolean {
  return status === 204 || status === 205 || status === 304 || method === 'HEAD';
}

/** A transport; `dispatcher` (an undici Dispatcher) carries every request when given. */
export function createTransport(options: { readonly dispatcher?: unknown } = {}): Transport {
  const given = options.dispatcher as Dispatcher | undefined;
  const fetch = async (input: Request | string | URL, init: TransportInit = {}): Promise<Response> => {
    const { request, Agent } = loadUndici();
    let url: string;
    let method: string;
    const headers: Record<string, string> = {};
    let body: string | Uint8Array | FormData | null | undefined;
    let signal = init.abort ?? init.signal ?? undefined;
    if (input instanceof Request) {
      url = input.url;
      method = init.method ?? input.method;
      for (const [name, value] of input.headers) headers[name] = value;
      if (init.payload !== undefined) body = init.payload;
      else if (init.body !== undefined) body = init.body;
      else if (input.body !== null) body = Buffer.from(await input.arrayBuffer());
      signal ??= input.signal;
    } else {
      url = String(input);
      method = init.method ?? 'GET';
      body = init.body;
    }
    for (const [name, value] of Object.entries(init.headers ?? {})) headers[name.toLowerCase()] = value;
    let sent: Dispatcher.DispatchOptions['body'] = body as Exclude<typeof body, FormData>;
    if (body instanceof FormData) {
      const encoded = multipart(body);
      sent = encoded.body;
      headers['content-type'] = encoded.type;
      headers['content-length'] = String(encoded.length);
    }
    const target = new URL(url);
    // Not the process's global dispatcher (`setGlobalDispatcher`): Node installs its own there as
    // soon as its fetch loads, and the two cannot be told apart; the `dispatcher` option is the way.
    const dispatcher = given ?? (sharedPool ??= new Agent({ keepAliveTimeout: 4000 }));
    const answer = await request.call(dispatcher, {
      origin: target.origin,
      path: `${target.pathname}${target.search}`,
      method: method as Dispatcher.HttpMethod,
      headers,
      body: sent,
      ...(signal === undefined ? {} : { signal }),
    });
    const responseHeaders = new Headers();
    for (const name in answer.headers) {
      const value = answer.headers[name];
      if (Array.isArray(value)) for (const item of value) responseHeaders.append(name, item);
      else if (value !== undefined) responseHeaders.append(name, value);
    }
    let raw: Readable | null = answer.body as unknown as Readable;
    if (nullBody(answer.statusCode, method)) {
      dropBody(raw);
      raw = null;
    } else raw = decoded(raw, responseHeaders);
    return new TransportResponse(raw, answer.statusCode, responseHeaders, url) as unknown as Response;
  };
  return { fetch };
}
