/**
 * The one place where sparkbot's HTTP requests get the token: a ky instance whose hook adds the
 * Authorization header only for the origins the user configured (wdmUrl, apiUrl). ky's own
 * retries are off; callers (the machine, the REST client) decide what a failure means.
 */
import ky, { type KyInstance, type Options as KyOptions } from 'ky';
import { ApiError } from './errors.js';
import type { Log, Redactor } from './log.js';
import { parseRetryAfter } from './protocol/retry-after.js';

export interface HttpDeps {
  readonly token: string;
  readonly allowedOrigins: ReadonlySet<string>;
  readonly redactor: Redactor;
  readonly log: Log;
  /** ms before a request is abandoned. */
  readonly timeout: number;
  /** Passed to fetch as `dispatcher` (an undici Agent/ProxyAgent) when given. */
  readonly dispatcher?: unknown;
}

export interface HttpResult<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T | undefined;
  readonly text: string;
}

export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly url: string;
  readonly json?: unknown;
  readonly searchParams?: Record<string, string | number | boolean>;
  readonly signal?: AbortSignal;
}

export class Http {
  private readonly ky: KyInstance;

  constructor(private readonly deps: HttpDeps) {
    const options: KyOptions = {
      retry: 0,
      throwHttpErrors: false,
      // send() bounds the whole exchange, body included, with its own signal.
      timeout: false,
      headers: { accept: 'application/json' },
      hooks: {
        beforeRequest: [
          (request) => {
            const origin = new URL(request.url).origin;
            if (!deps.allowedOrigins.has(origin)) {
              throw new Error(`refusing to send the token to ${origin}: it is neither the wdmUrl nor the apiUrl origin`);
            }
            request.headers.set('authorization', `Bearer ${deps.token}`);
          },
        ],
      },
    };
    if (deps.dispatcher !== undefined) (options as Record<string, unknown>).dispatcher = deps.dispatcher;
    this.ky = ky.create(options);
  }

  /** Sends a request. Resolves with any HTTP answer; rejects with an ApiError when there was none. */
  async send<T = unknown>(req: HttpRequest): Promise<HttpResult<T>> {
    const origin = originOf(req.url);
    if (origin === undefined || !this.deps.allowedOrigins.has(origin)) {
      throw this.deps.redactor.error(
        new ApiError({
          message: `${req.method} ${req.url} was not sent: the token goes only to the origins of wdmUrl, apiUrl and u2cUrl, and ${origin ?? 'this URL'} is none of them`,
          method: req.method,
          url: req.url,
        }),
      );
    }
    const started = Date.now();
    const timeout = AbortSignal.timeout(this.deps.timeout);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    let response: Response;
    let text: string;
    try {
      response = await this.ky(req.url, {
        method: req.method,
        signal,
        ...(req.json === undefined ? {} : { json: req.json }),
        ...(req.searchParams === undefined ? {} : { searchParams: req.searchParams }),
      });
      text = await response.text();
    } catch (error) {
      if (req.signal?.aborted) throw req.signal.reason;
      const why = timeout.aborted ? `no answer within requestTimeout (${this.deps.timeout} ms)` : describeNetworkError(error);
      const message = `${req.method} ${req.url} got no answer: ${why}`;
      this.deps.log('%s', message);
      // The cause is a plain copy: ky's and fetch's errors carry the request, whose headers hold the token.
      throw this.deps.redactor.error(new ApiError({ message, method: req.method, url: req.url, cause: plainError(error) }));
    }
    let body: T | undefined;
    if (text !== '') {
      try {
        body = JSON.parse(text) as T;
      } catch {
        body = undefined;
      }
    }
    this.deps.log('%s %s -> %d (%d ms)', req.method, req.url, response.status, Date.now() - started);
    return { status: response.status, headers: response.headers, body, text };
  }

  /** The ApiError for an HTTP answer that is not a success. */
  errorFor(req: HttpRequest, result: HttpResult, what: string): ApiError {
    const body = result.body as { message?: unknown } | undefined;
    const detail = typeof body?.message === 'string' ? body.message : result.text === '' ? '' : result.body === undefined ? 'the body is not JSON' : '';
    const trackingId = result.headers.get('trackingid') ?? undefined;
    const retryAfter = parseRetryAfter(result.headers.get('retry-after'));
    const message = `${what}: ${req.method} ${req.url} answered HTTP ${result.status}${detail ? ` (${detail})` : ''}${trackingId ? ` [trackingId ${trackingId}]` : ''}`;
    return this.deps.redactor.error(
      new ApiError({
        message,
        method: req.method,
        url: req.url,
        status: result.status,
        ...(trackingId === undefined ? {} : { trackingId }),
        ...(retryAfter === undefined ? {} : { retryAfter }),
      }),
    );
  }
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
