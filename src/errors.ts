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
  /** A connection attempt failed before the bot was first connected; it is retried (a warning). */
  | 'CONNECT_FAILED'
  /** A REST call failed. */
  | 'API_ERROR'
  /** A REST call was still answered 429 after every retry. */
  | 'RATE_LIMITED'
  /** A queued REST call was cancelled (the bot stopped). */
  | 'CANCELLED'
  /** The last-connection file could not be read or written. */
  | 'STORE_ERROR'
  /**
   * Webex's service catalog (`u2cUrl`) could not be had, or named no usable WDM: the bot registers
   * at the default WDM URL instead (a warning, once; set `wdmUrl` to choose one).
   */
  | 'CATALOG_ERROR'
  /** A frame from the server could not be used. */
  | 'INVALID_FRAME'
  /** A message handler (onMessage or a 'message' listener) threw or rejected. */
  | 'HANDLER_ERROR'
  /** A shared file failed Webex's malware scan: the share is not delivered. */
  | 'UNSAFE_FILE'
  /** What was to be posted is not valid (a card without fallbackText, two files in one message…); nothing was sent. */
  | 'INVALID_CONTENT'
  /** Something waited for did not come in time (`ctx.ask()` got no answer within its timeout). */
  | 'TIMEOUT'
  /** A download was refused: Webex found malware in the file (HTTP 410 Gone). */
  | 'FILE_INFECTED'
  /** A download was refused: Webex could not scan the file (HTTP 428); `allowUnscannable` downloads it anyway. */
  | 'FILE_UNSCANNABLE'
  /** A download was still being scanned (HTTP 423 Locked) after the wait allowed for it. */
  | 'FILE_SCANNING'
  /**
   * Replicas (`coordination`): Redis cannot be reached (a warning: activities wait for it), a claim
   * ran out while its handlers ran (a warning: they may run twice), or an activity was given up.
   */
  | 'COORDINATION_ERROR';

/** Where an error happened, when it concerns an event: which activity, verb, room and event. */
export interface ErrorContext {
  readonly activityId?: string;
  readonly verb?: string;
  readonly roomId?: string;
  readonly event?: string;
}

export class SparkBotError extends Error {
  readonly code: SparkBotErrorCode;
  /** The event being handled when the error happened, if any. */
  readonly context: ErrorContext | undefined;

  constructor(code: SparkBotErrorCode, message: string, options?: { cause?: unknown; context?: ErrorContext }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SparkBotError';
    this.code = code;
    this.context = options?.context;
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

  constructor(init: {
    message: string;
    method: string;
    url: string;
    status?: number;
    trackingId?: string;
    retryAfter?: number;
    cause?: unknown;
    code?: 'API_ERROR' | 'RATE_LIMITED';
  }) {
    super(init.code ?? 'API_ERROR', init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ApiError';
    this.status = init.status;
    this.method = init.method;
    this.url = init.url;
    this.trackingId = init.trackingId;
    this.retryAfter = init.retryAfter;
  }
}

/** A REST call answered 429 on its first try and on every retry (`retryCount`). Nothing was dropped silently. */
export class RateLimitError extends ApiError {
  /** How many times the call was sent. */
  readonly attempts: number;

  constructor(init: { message: string; method: string; url: string; trackingId?: string; retryAfter?: number; attempts: number }) {
    super({ ...init, status: 429, code: 'RATE_LIMITED' });
    this.name = 'RateLimitError';
    this.attempts = init.attempts;
  }
}
