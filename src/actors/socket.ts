/**
 * The socket service: one Mercury WebSocket per invocation (per `online` state of the machine).
 *
 * It opens `webSocketUrl` with the SDK's query parameters and permessage-deflate off, sends the
 * authorization frame, reports READY on the first `mercury.buffer_state`, acks every inbound frame
 * that has an `id` and hands its envelope to `deliver` (frames do not go through the machine),
 * answers the machine's PING commands and the server's protocol pings, times the inbound traffic
 * (CHECK_SILENCE is answered with SILENCE: ms since the last frame, by `clock`), and reports
 * pongs, the first frame while a ping is out, closes and rejected handshakes (with their HTTP
 * status) tagged with the socket's generation. A bad frame is reported (`warn`), never fatal. What the server sends is redacted
 * before it is reported (a frame or a close reason that echoes the token). What waits to be sent
 * is bounded by `maxPayload`: a server that stops reading gets its socket closed (the bot
 * reconnects) instead of an ever-growing buffer. On cleanup it closes with 1000 when the machine
 * is stopping (terminating after `closeTimeout` if the peer never answers), and terminates otherwise.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { Clock } from '../clock.js';
import type { CallbackLogicFunction } from 'xstate';
import type { SocketCommand, SocketEvent, SocketInput } from '../../machines/connection.js';
import { classifyClose } from '../protocol/close-codes.js';
import { ackFrame, authorizationFrame, mercuryUrl, parseFrame, pingFrame } from '../protocol/frames.js';
import { parseRetryAfter } from '../protocol/retry-after.js';
import { describeConnectError } from '../http.js';
import type { Log, Redactor } from '../log.js';

export interface SocketDeps {
  readonly token: string;
  readonly log: Log;
  readonly redactor: Redactor;
  /** Timers of the close handshake and the time of inbound frames; the actor system's clock, so tests can drive them. */
  readonly clock: Clock;
  /** Takes every inbound envelope (events and frames we do not know), once acked. */
  readonly deliver: (envelope: unknown) => void;
  /** ms to wait for the peer to answer our close frame before terminating. */
  readonly closeTimeout: number;
  /** Largest inbound frame in bytes; a bigger one closes the socket with 1009 (and the bot reconnects). */
  readonly maxPayload: number;
  /** An http.Agent for the upgrade request (proxies), or a function choosing one per socket URL (undefined: connect directly). */
  readonly agent?: import('node:http').Agent | ((url: string) => import('node:http').Agent | undefined);
  /** Reports a problem worth a warning (an unusable frame, one larger than maxPayload). */
  readonly warn?: (message: string) => void;
  /** Called on every pong (for health). */
  readonly onPong?: () => void;
  /** Told about every socket until it has closed, so that stop() can wait for it, and cut it at its deadline. */
  readonly track: (socket: { readonly closed: Promise<void>; terminate(): void }) => void;
  /** Resolves once every socket tracked so far has closed; undefined when none is open. */
  readonly previousClosed: () => Promise<void> | undefined;
}

export type SocketService = CallbackLogicFunction<SocketCommand, SocketEvent, SocketInput, SocketEvent>;

/** The socket service of one bot (the machine's `socket` actor runs it with the bot's deps). */
export function createSocketService(deps: SocketDeps): SocketService {
  // The clock of the machine's timers; without one, silence cannot be timed: every check says "silent".
  const now = deps.clock.now === undefined ? () => Number.NEGATIVE_INFINITY : () => (deps.clock.now as () => number)();
  return ({ input, sendBack, receive }) => {
    const { generation } = input;
    const log = (formatter: string, ...args: unknown[]) => deps.log(`[socket ${generation}] ${formatter}`, ...args);
    /** When the last frame came in (clock time), and whether a ping is out (the next frame is reported). */
    let lastInbound = now();
    let pingOut = false;
    let ready = false;
    let finished = false; // a close or rejection was reported (or the machine let go): report nothing more
    let graceful = false;
    let lastError: string | undefined;
    let tooBig = false;
    const report = (event: SocketEvent) => {
      if (!finished) sendBack(event);
    };

    let ws: WebSocket | undefined;
    let cancelled = false;

    const connect = () => {
      const url = mercuryUrl(input.url);
      const agent = typeof deps.agent === 'function' ? deps.agent(url) : deps.agent;
      const socket = new WebSocket(url, {
        perMessageDeflate: false,
        maxPayload: deps.maxPayload,
        // Pongs go through send(), bounded like every other frame (ws would cut the link without a word after 60 pending ones).
        autoPong: false,
        ...(agent ? { agent } : {}),
      });
      ws = socket;
      deps.track({ closed: new Promise<void>((resolve) => socket.once('close', () => resolve())), terminate: () => socket.terminate() });
      log('connecting to %s', input.url);
      listen(socket);
    };

    /**
     * Sends a frame (or a pong) unless the server has stopped reading: with more than maxPayload
     * bytes waiting already, the socket is given up (the bot reconnects; unacked events come again).
     */
    const send = (socket: WebSocket, frame: string, kind: 'frame' | 'pong' = 'frame', data?: Buffer) => {
      if (socket.readyState !== WebSocket.OPEN) return;
      const waiting = socket.bufferedAmount;
      if (waiting + (data?.length ?? frame.length) > deps.maxPayload) {
        lastError = `the server stopped reading: ${waiting} bytes were waiting to be sent (acks, pongs), more than maxPayload (${deps.maxPayload} bytes)`;
        log('%s; closing the socket', lastError);
        deps.warn?.(`${lastError}: the socket was closed and the bot reconnects`);
        socket.terminate();
        return;
      }
      if (kind === 'pong') socket.pong(data);
      else socket.send(frame);
    };

    const listen = (ws: WebSocket) => {
      ws.on('error', (error) => {
        if ((error as NodeJS.ErrnoException).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
          // ws closes the socket with 1009; the frame is lost, and redelivered if it was an event.
          lastError = `a frame larger than maxPayload (${deps.maxPayload} bytes) arrived`;
          tooBig = true;
          deps.warn?.(
            `a frame larger than maxPayload (${deps.maxPayload} bytes) arrived: the socket was closed with 1009 and the bot reconnects; if this repeats (Webex redelivering an unacked event), raise maxPayload`,
          );
        } else {
          lastError = deps.redactor.redact(describeConnectError(error));
        }
        log('error: %s', lastError);
      });

      ws.on('unexpected-response', (_request, response) => {
        const status = response.statusCode ?? 0;
        const retryAfterHeader = response.headers['retry-after'];
        const retryAfter = parseRetryAfter(Array.isArray(retryAfterHeader) ? retryAfterHeader[0] : retryAfterHeader);
        log('handshake answered HTTP %d', status);
        response.resume();
        report({ type: 'SOCKET_REJECTED', generation, status, ...(retryAfter === undefined ? {} : { retryAfter }) });
        finished = true;
        ws.terminate();
      });

      ws.on('open', () => {
        log('open; sending the authorization frame');
        send(ws, authorizationFrame(deps.token, randomUUID(), `sparkbot_${randomUUID()}_${Date.now()}`));
      });

      ws.on('ping', (data) => send(ws, '', 'pong', data));

      ws.on('message', (data, isBinary) => {
        lastInbound = now();
        if (isBinary) {
          unusable(`binary frame of ${byteLength(data)} bytes`);
          return;
        }
        let text = data.toString();
        if (deps.redactor.contains(text)) {
          log('a frame echoes the token: redacted');
          text = deps.redactor.redact(text);
        }
        const parsed = parseFrame(text);
        if (!parsed.ok) {
          log('unusable frame: %s', parsed.error);
          unusable(parsed.error);
          return;
        }
        const { frame } = parsed;
        const ack = ackFrame(frame.envelope);
        if (ack !== undefined) send(ws, ack);
        if (frame.kind === 'ready' && !ready) {
          ready = true;
          log('ready (%s)', frame.envelope.data?.eventType);
          report({ type: 'READY', generation });
        } else if (frame.kind === 'pong') {
          pingOut = false;
          deps.onPong?.();
          report({ type: 'PONG', generation, id: frame.id });
        } else {
          traffic();
          if (!finished) guarded(() => deps.deliver(frame.envelope));
        }
      });

      ws.on('close', (closeCode, reasonBuffer) => {
        // After a frame too big, ws sends 1009 and stops reading: the peer's answer is never seen (1006).
        const code = tooBig ? 1009 : closeCode;
        const reason = deps.redactor.redact(reasonBuffer.toString());
        const verdict = classifyClose(code, reason, ready);
        const why = (code === 1006 || code === 1009) && lastError ? { ...verdict, why: `${verdict.why}: ${lastError}` } : verdict;
        log('closed: %s -> %s', why.why, verdict.action);
        report({ type: 'SOCKET_CLOSED', generation, code, reason, verdict: why });
        finished = true;
      });
    };

    // A bot has one socket at a time: a new one opens only once the previous one has closed.
    const previous = deps.previousClosed();
    if (previous === undefined) connect();
    else {
      log('waiting for the previous socket to close');
      void previous.then(() => {
        if (cancelled) return;
        try {
          connect();
        } catch (error) {
          const why = `the socket could not be opened: ${deps.redactor.redact((error as Error)?.message ?? String(error))}`;
          report({ type: 'SOCKET_CLOSED', generation, code: 1006, reason: '', verdict: { action: 'reconnect', reregister: false, why } });
          finished = true;
        }
      });
    }

    /** A bot callback run from a ws listener: what it throws is logged, never an uncaught exception. */
    const guarded = (fn: () => void) => {
      try {
        fn();
      } catch (error) {
        log('delivering a frame threw: %s', error instanceof Error ? error.message : String(error));
      }
    };
    /** An unusable frame: warned about (unless the machine let go of this socket). */
    const unusable = (why: string) => {
      traffic();
      if (!finished) guarded(() => deps.warn?.(`ignored an unusable frame: ${why}`));
    };
    /** A frame other than a pong: while a ping is out, it proves the link alive (the machine stops waiting for the pong). */
    const traffic = () => {
      if (!pingOut || !ready) return;
      pingOut = false;
      report({ type: 'FRAME', generation });
    };

    receive((command) => {
      if (command.type === 'PING') {
        pingOut = true;
        if (ws) send(ws, pingFrame(command.id));
      } else if (command.type === 'CHECK_SILENCE') {
        const silent = now() - lastInbound;
        report({ type: 'SILENCE', generation, ms: Number.isFinite(silent) ? Math.max(0, silent) : Number.MAX_SAFE_INTEGER });
      } else if (command.type === 'CLOSE') {
        graceful = command.graceful;
      }
    });

    return () => {
      finished = true;
      cancelled = true;
      if (ws === undefined || ws.readyState === WebSocket.CLOSED) return;
      const socket = ws;
      if (graceful && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CLOSING)) {
        if (socket.readyState === WebSocket.OPEN) socket.close(1000, 'Done');
        const timer = deps.clock.setTimeout(() => {
          log('the peer did not answer the close within %d ms; terminating', deps.closeTimeout);
          socket.terminate();
        }, deps.closeTimeout);
        socket.once('close', () => deps.clock.clearTimeout(timer));
      } else {
        socket.terminate();
      }
    };
  };
}

function byteLength(data: WebSocket.RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}
