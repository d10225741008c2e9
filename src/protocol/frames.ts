/**
 * Mercury frames (webex-protocol.md §3): the query parameters of the socket URL, the frames the
 * client sends, and the parsing and validation of what the server sends. Pure functions only.
 */

/** An inbound Mercury envelope. Only `id`, `type` and `data.eventType` are relied upon. */
export interface MercuryEnvelope {
  readonly id?: string;
  readonly type?: string;
  readonly sequenceNumber?: number;
  readonly wsWriteTimestamp?: number;
  readonly data?: {
    readonly eventType?: string;
    readonly [key: string]: unknown;
  };
  readonly [key: string]: unknown;
}

export type InboundFrame =
  /** The server's readiness frame (no `type`, `data.eventType` `mercury.buffer_state`). */
  | { readonly kind: 'ready'; readonly envelope: MercuryEnvelope }
  | { readonly kind: 'pong'; readonly id: string; readonly envelope: MercuryEnvelope }
  /** Anything else that is a JSON object: events, and frames we do not know. */
  | { readonly kind: 'event'; readonly envelope: MercuryEnvelope };

export type ParsedFrame = { readonly ok: true; readonly frame: InboundFrame } | { readonly ok: false; readonly error: string };

const READY_EVENT_TYPES = new Set(['mercury.buffer_state', 'mercury.registration_status']);

/** The query parameters the official SDK adds to `webSocketUrl`; existing keys are kept. */
export const MERCURY_URL_PARAMS: Readonly<Record<string, string>> = {
  outboundWireFormat: 'text',
  bufferStates: 'true',
  aliasHttpStatus: 'true',
};

export function mercuryUrl(webSocketUrl: string): string {
  const url = new URL(webSocketUrl);
  for (const [key, value] of Object.entries(MERCURY_URL_PARAMS)) {
    if (!url.searchParams.has(key)) url.searchParams.set(key, value);
  }
  return url.toString();
}

/** Parses one text frame. Never throws: a bad frame is reported, not fatal to the link. */
export function parseFrame(text: string): ParsedFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: `frame is not JSON (${describeText(text)})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: `frame is JSON but not an object (${Array.isArray(value) ? 'array' : typeof value})` };
  }
  const envelope = value as MercuryEnvelope;
  if (envelope.id !== undefined && typeof envelope.id !== 'string') {
    return { ok: false, error: `frame has a non-string id (${typeof envelope.id})` };
  }
  if (envelope.type === 'pong') {
    return typeof envelope.id === 'string'
      ? { ok: true, frame: { kind: 'pong', id: envelope.id, envelope } }
      : { ok: false, error: 'pong frame without an id' };
  }
  const data = envelope.data;
  if (envelope.type === undefined && isObject(data) && typeof data.eventType === 'string' && READY_EVENT_TYPES.has(data.eventType)) {
    return { ok: true, frame: { kind: 'ready', envelope } };
  }
  return { ok: true, frame: { kind: 'event', envelope } };
}

/** The ack the official SDK sends for every inbound frame with an `id`; undefined when there is none. */
export function ackFrame(envelope: MercuryEnvelope): string | undefined {
  return typeof envelope.id === 'string' && envelope.id !== '' ? JSON.stringify({ type: 'ack', messageId: envelope.id }) : undefined;
}

export function pingFrame(id: string): string {
  return JSON.stringify({ id, type: 'ping' });
}

/**
 * The first frame after the socket opens. It carries the token, so it is built at the moment it is
 * sent and never logged.
 */
export function authorizationFrame(token: string, id: string, trackingId: string): string {
  return JSON.stringify({ id, type: 'authorization', data: { token: `Bearer ${token}` }, trackingId });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeText(text: string): string {
  return text.length > 40 ? `${text.length} characters` : JSON.stringify(text);
}
