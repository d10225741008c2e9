/**
 * Errors sparkbot gives its users. Every one carries a `code` to branch on, and a message that
 * says what happened and what to do. None of them ever contains the token (see redact.ts).
 */

export type SparkBotErrorCode =
  /** An option is missing or invalid (thrown by the constructor). */
  | 'INVALID_OPTION'
  /** Webex refused the token (HTTP 401, close 4401). */
  | 'UNAUTHORIZED'
  /** The token is not entitled to Webex messaging (HTTP 403, close 4403). */
  | 'FORBIDDEN'
  /** The server rejected the connection as a bad request (close 4400). */
  | 'BAD_REQUEST'
  /** Another connection replaced this one (close 4000 "Replaced"). */
  | 'REPLACED'
  /** The server closed the socket on purpose and it must not be reopened (close 1000 with no recycle reason). */
  | 'CLOSED'
  /** start() was interrupted by stop(). */
  | 'STOPPED'
  /** The connection was lost with `reconnect: false` before it opened. */
  | 'DISCONNECTED'
  /** A REST call failed. */
  | 'API_ERROR'
  /** The last-connection file could not be read or written. */
  | 'STORE_ERROR'
  /** A frame from the server could not be used. */
  | 'INVALID_FRAME'
  /** A message handler (onMessage or a 'message' listener) threw or rejected. */
  | 'HANDLER_ERROR';

export class SparkBotError extends Error {
  readonly code: SparkBotErrorCode;

  constructor(code: SparkBotErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SparkBotError';
    this.code = code;
  }
}

/** A REST call that Webex answered with an error status, or that got no answer. */
export class ApiError extends SparkBotError {
  /** The HTTP status, or undefined when there was no answer (DNS failure, refused connection…). */
  readonly status: number | undefined;
  readonly method: string;
  readonly url: string;
  /** Webex's `trackingid` response header: quote it to Webex support. */
  readonly trackingId: string | undefined;
  /** Milliseconds from the response's Retry-After header, when present and usable. */
  readonly retryAfter: number | undefined;

  constructor(init: { message: string; method: string; url: string; status?: number; trackingId?: string; retryAfter?: number; cause?: unknown }) {
    super('API_ERROR', init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ApiError';
    this.status = init.status;
    this.method = init.method;
    this.url = init.url;
    this.trackingId = init.trackingId;
    this.retryAfter = init.retryAfter;
  }
}
