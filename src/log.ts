/**
 * Logging and redaction. sparkbot logs with `debug` under `sparkbot:*` namespaces; every line
 * goes through the bot's redactor, so the token never reaches a log even when a dependency puts
 * it into a message. The same redactor cleans errors before they leave the library, and every
 * string a server sent (bodies, headers, close reasons, frames) before sparkbot keeps it.
 */
import { format, inspect } from 'node:util';
import createDebug from 'debug';

export const REDACTED = '[REDACTED]';

/** A piece of a secret this long or longer is redacted wherever it appears (a partial echo). */
export const SECRET_PIECE = 16;

/** `<secret>_<cluster>_<org uuid>`, the shape of Webex access tokens. */
const WEBEX_TOKEN = /^(.+)_[A-Za-z0-9]{4}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Texts are sampled every GRAM characters: any run of SECRET_PIECE shared characters holds a whole sampled gram. */
const GRAM = SECRET_PIECE / 2;

function gramHash(text: string, from: number): number {
  let hash = 0;
  for (let i = from; i < from + GRAM; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return hash;
}

/**
 * Finds secrets in text. A secret of SECRET_PIECE characters or more is found by any piece of it
 * that long (a server that echoes half of the token gives that half away too); a shorter one only
 * whole. The text is sampled every GRAM characters: a sample that occurs in a secret (a bit filter
 * rules most out at once) is extended both ways as far as text and secret agree, so a scan costs
 * about one operation per character, and the redactor holds the secrets and 1 KiB.
 * The secrets live in private fields: neither `util.inspect` nor `JSON.stringify` can show them.
 */
export class Redactor {
  readonly #whole: string[] = [];
  /** Secrets of SECRET_PIECE characters or more, found piece-wise. */
  readonly #long: string[] = [];
  /** A bit per low 13 bits of the hash of every GRAM-long piece of those (1 KiB): most samples are ruled out with one array read. */
  readonly #filter = new Uint8Array(1 << 10);

  add(secret: string): void {
    if (secret.length < 4) return;
    // A Webex token is `<secret>_<cluster>_<org uuid>`: the org id is no secret (activities carry
    // it), so only pieces of the secret part count — and the whole token, of course.
    const parts = WEBEX_TOKEN.exec(secret);
    if (parts !== null) {
      for (const whole of [secret, encodeURIComponent(secret)]) if (!this.#whole.includes(whole)) this.#whole.push(whole);
      this.add(parts[1] ?? '');
      return;
    }
    for (const variant of new Set([secret, encodeURIComponent(secret)])) {
      const list = variant.length < SECRET_PIECE ? this.#whole : this.#long;
      if (list.includes(variant)) continue;
      list.push(variant);
      if (list === this.#long) {
        for (let at = 0; at + GRAM <= variant.length; at++) {
          const hash = gramHash(variant, at);
          this.#filter[(hash & 0x1fff) >>> 3]! |= 1 << (hash & 7);
        }
      }
    }
  }

  /** True when `text` holds a secret, or a piece of one (see the class). */
  contains(text: string): boolean {
    for (const secret of this.#whole) if (text.includes(secret)) return true;
    return this.#spans(text, true).length > 0;
  }

  redact(text: string): string {
    let out = text;
    // Whole secrets first: a whole token is one [REDACTED], not its secret part's and the rest.
    for (const secret of this.#whole) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    const spans = this.#spans(out, false);
    if (spans.length > 0) {
      let clean = '';
      let at = 0;
      for (const [from, to] of spans) {
        clean += out.slice(at, from) + REDACTED;
        at = to;
      }
      out = clean + out.slice(at);
    }
    return out;
  }

  /** An error whose message, stack and cause are free of secrets (the same object when already clean). */
  error<E>(error: E): E {
    if (!(error instanceof Error)) return error;
    const clean = (value: string | undefined) => (value === undefined ? value : this.redact(value));
    if (clean(error.message) !== error.message) error.message = clean(error.message) ?? '';
    if (clean(error.stack) !== error.stack) error.stack = clean(error.stack);
    if ('cause' in error && error.cause !== undefined) this.error(error.cause);
    return error;
  }

  /** The [from, to) spans of text shared with a secret over SECRET_PIECE characters or more, sorted and merged; with `first`, the first found. */
  #spans(text: string, first: boolean): Array<[number, number]> {
    const found: Array<[number, number]> = [];
    if (this.#long.length === 0) return found;
    const filter = this.#filter;
    for (let i = 0; i + GRAM <= text.length; i += GRAM) {
      const hash = gramHash(text, i);
      if ((filter[(hash & 0x1fff) >>> 3]! & (1 << (hash & 7))) === 0) continue;
      const gram = text.slice(i, i + GRAM);
      for (const secret of this.#long) {
        for (let at = secret.indexOf(gram); at >= 0; at = secret.indexOf(gram, at + 1)) {
          let left = 0;
          while (left < i && left < at && text.charCodeAt(i - left - 1) === secret.charCodeAt(at - left - 1)) left++;
          let right = GRAM;
          while (i + right < text.length && at + right < secret.length && text.charCodeAt(i + right) === secret.charCodeAt(at + right)) right++;
          if (left + right < SECRET_PIECE) continue;
          found.push([i - left, i + right]);
          if (first) return found;
        }
      }
    }
    found.sort((a, b) => a[0] - b[0]);
    const merged: Array<[number, number]> = [];
    for (const span of found) {
      const last = merged[merged.length - 1];
      if (last !== undefined && span[0] <= last[1]) last[1] = Math.max(last[1], span[1]);
      else merged.push(span);
    }
    return merged;
  }

  [inspect.custom](): string {
    return 'Redactor {}';
  }

  toJSON(): Record<string, never> {
    return {};
  }
}

export type Log = (formatter: string, ...args: unknown[]) => void;

/** A logger of the user's (the `logger` option): console, pino, winston… */
export interface Logger {
  debug(message: string, ...rest: unknown[]): unknown;
  info(message: string, ...rest: unknown[]): unknown;
  warn(message: string, ...rest: unknown[]): unknown;
  error(message: string, ...rest: unknown[]): unknown;
  /** pino's: when it says debug is off, sparkbot does not even format its debug lines. */
  isLevelEnabled?(level: string): boolean;
}

/**
 * A debug log under `sparkbot:<area>`, redacted: through the `debug` package (DEBUG=sparkbot:*),
 * or to `logger.debug` when a logger is given.
 */
export function createLog(area: string, redactor: Redactor, logger?: Logger): Log {
  if (logger !== undefined) {
    return (formatter, ...args) => {
      if (logger.isLevelEnabled?.('debug') === false) return;
      logger.debug(redactor.redact(`sparkbot:${area} ${format(formatter, ...args)}`));
    };
  }
  const debug = createDebug(`sparkbot:${area}`);
  debug.log = (...args: unknown[]) => {
    process.stderr.write(`${redactor.redact(format(...args))}\n`);
  };
  return (formatter, ...args) => debug(formatter, ...args);
}

/** ms during which repeated problems of one kind, with no listener, are not printed again. */
const REPEAT_QUIET = 60_000;

/**
 * Errors and warnings no listener takes: printed as process warnings (code `SPARKBOT_<code>`), or
 * given to the logger — at most one a minute of each event and code (a server sending bad frames
 * must not flood stderr); the next one printed says how many were not. The caller redacts.
 */
export class UnheardProblems {
  /** By event and code: when one was last printed, and how many were not since. */
  private readonly quiet = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  print(event: 'error' | 'warning', code: string, message: string): void {
    const now = this.now();
    const kind = `${event} ${code}`;
    const last = this.quiet.get(kind);
    if (last !== undefined && now - last.at < REPEAT_QUIET) {
      last.suppressed += 1;
      return;
    }
    this.quiet.set(kind, { at: now, suppressed: 0 });
    const more =
      last !== undefined && last.suppressed > 0
        ? ` (${last.suppressed} more like it were not printed in the minute after the one ${Math.round((now - last.at) / 1000)} s ago; listen to the bot's '${event}' event${this.logger === undefined ? ', or set DEBUG=sparkbot:*,' : ''} to see each)`
        : '';
    if (this.logger === undefined) process.emitWarning(`${message}${more}`, { code: `SPARKBOT_${code}` });
    else if (event === 'error') this.logger.error(`sparkbot ${code}: ${message}${more}`);
    else this.logger.warn(`sparkbot ${code}: ${message}${more}`);
  }
}
