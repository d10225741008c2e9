/**
 * Logging and redaction. sparkbot logs with `debug` under `sparkbot:*` namespaces; every line
 * goes through the bot's redactor, so the token never reaches a log even when a dependency puts
 * it into a message. The same redactor cleans errors before they leave the library.
 */
import { format } from 'node:util';
import createDebug from 'debug';

export const REDACTED = '[REDACTED]';

export class Redactor {
  private readonly secrets: string[] = [];

  add(secret: string): void {
    if (secret.length < 4) return;
    for (const variant of [secret, encodeURIComponent(secret)]) {
      if (!this.secrets.includes(variant)) this.secrets.push(variant);
    }
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join(REDACTED);
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
}

export type Log = (formatter: string, ...args: unknown[]) => void;

/** A `debug` logger under `sparkbot:<area>` whose output is redacted. */
export function createLog(area: string, redactor: Redactor): Log {
  const debug = createDebug(`sparkbot:${area}`);
  debug.log = (...args: unknown[]) => {
    process.stderr.write(`${redactor.redact(format(...args))}\n`);
  };
  return (formatter, ...args) => debug(formatter, ...args);
}
