/**
 * What to do when a Mercury socket closes: reconnect, reconnect with a fresh device registration,
 * or stop for good. Follows webex-protocol.md §3.4 (the official SDK's policy) with the decisions
 * sparkbot takes where the SDK gives up; the table is documented in docs/close-codes.md.
 */

/** Why a connection stopped for good; also the `code` of the SparkBotError that start() rejects with. */
export type FatalReason = 'unauthorized' | 'forbidden' | 'bad-request' | 'replaced' | 'closed';

export type CloseVerdict =
  | { readonly action: 'reconnect'; readonly reregister: boolean; readonly why: string }
  | { readonly action: 'fatal'; readonly reason: FatalReason; readonly why: string };

/** Reasons with which Webex recycles a socket on purpose (case-insensitive); the client reconnects. */
const RECYCLE_REASONS = new Set(['idle', 'done (forced)', 'pong not received', 'pong mismatch']);

/** Codes the server uses for a normal close (1050 old, 3050 new). */
const NORMAL_CLOSE_CODES = new Set([1000, 1050, 3050]);

const reconnect = (why: string, reregister = false): CloseVerdict => ({ action: 'reconnect', reregister, why });
const fatal = (reason: FatalReason, why: string): CloseVerdict => ({ action: 'fatal', reason, why });

/**
 * Classifies a close frame. `ready` tells whether the server had confirmed the socket
 * (`mercury.buffer_state`) before it closed: a 1005 before that points at a stale registration.
 */
export function classifyClose(code: number, reason: string, ready: boolean): CloseVerdict {
  const why = reason ? `${code} "${reason}"` : String(code);
  if (!ready && (NORMAL_CLOSE_CODES.has(code) || code === 4000)) {
    // Before the socket was confirmed there is no session to log out or replace (the SDK retries too).
    return reconnect(`server closed the socket before it was ready (${why})`);
  }
  if (NORMAL_CLOSE_CODES.has(code)) {
    return RECYCLE_REASONS.has(reason.trim().toLowerCase())
      ? reconnect(`server recycled the socket (${why})`)
      : fatal('closed', `server closed the socket on purpose (${why})`);
  }
  switch (code) {
    case 4400:
      return fatal('bad-request', `server rejected the connection as a bad request (${why}); the token may belong to a service account`);
    case 4401:
      return fatal('unauthorized', `Webex refused the token on the socket (${why}); check the bot's access token`);
    case 4403:
      return fatal('forbidden', `the token is not entitled to use Webex messaging (${why})`);
    case 4000:
      return reason.trim().toLowerCase() === 'replaced'
        ? fatal('replaced', `another connection replaced this socket (${why}); is the same bot running twice?`)
        : reconnect(`server closed the socket (${why})`);
    case 4404:
      return reconnect(`server asked for a new Mercury registration (${why})`, true);
    case 1005:
      return ready ? reconnect(`socket closed without a status (${why})`) : reconnect(`socket closed before it was ready (${why})`, true);
    case 1008:
      return /auth/i.test(reason)
        ? fatal('unauthorized', `Webex refused the token on the socket (${why}); check the bot's access token`)
        : reconnect(`server closed the socket for a policy violation (${why})`);
    default:
      // 1001, 1006, 1011-1014 and every code the SDK does not know: a bot must stay up, and
      // the exponential backoff bounds the rate of attempts.
      return reconnect(`socket closed (${why})`);
  }
}
