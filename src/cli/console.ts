/**
 * What the commands print, and how they stop: timestamped lines, the bot's states, and one
 * orderly shutdown on Ctrl-C (SIGINT) or SIGTERM at any moment.
 */
import type { SparkBot } from '../index.js';
import { takeOverSignals } from './signals.js';

/** Prints a line that happened `at` (ms since the epoch; default now). */
export type Print = (line: string, at?: number) => void;

/** Lines prefixed with the seconds since the command started: `   1.234s  state    idle → fetchingUrl`. */
export function timestamped(started = Date.now()): Print {
  return (line, at = Date.now()) => void process.stdout.write(`${((at - started) / 1000).toFixed(3).padStart(8)}s  ${line}\n`);
}

/**
 * Prints the bot's transitions, errors and warnings. A ping that is answered (open → awaitingPong
 * → open) is printed only when `verbose`: otherwise `open → awaitingPong` waits, and is printed
 * only when the pong does not come.
 */
export function watch(bot: SparkBot, print: Print, { verbose }: { verbose: boolean }): void {
  let pinging: { line: string; at: number } | undefined;
  bot.on('state', (state, previous) => {
    const { lastError } = bot.health();
    const explained = ['backoff', 'rateLimited', 'failed'].includes(state) || (state === 'fetchingUrl' && previous === 'connecting');
    const line = `state    ${previous} → ${state}${lastError && explained ? `   (${lastError})` : ''}`;
    if (!verbose) {
      if (previous === 'open' && state === 'awaitingPong') {
        pinging = { line, at: Date.now() };
        return;
      }
      const held = pinging;
      pinging = undefined;
      if (held !== undefined) {
        if (previous === 'awaitingPong' && state === 'open') return;
        print(held.line, held.at);
      }
    }
    print(line);
  });
  bot.on('error', (error) => print(`error    ${error.code}: ${error.message}`));
  bot.on('warning', (warning) => print(`warning  ${warning.code}: ${warning.message}`));
}

/**
 * One shutdown for the whole command: cleanups run last registered first (the bot before its
 * emulator) on the first SIGINT or SIGTERM, then the process exits 0. A second signal, or cleanups
 * taking longer than `timeout`, exit 0 at once. While stopping, whatever the command was doing may
 * fail (a wait for an answer, a start cut short): {@link stopping} says to ignore it.
 */
export class Shutdown {
  private readonly cleanups: Array<() => unknown> = [];
  private started = false;

  constructor(
    private readonly print: Print,
    private readonly options: { readonly timeout?: number; readonly quiet?: boolean } = {},
  ) {}

  /** Registers the signal handlers; call it first, before anything that takes time. */
  listen(): this {
    const handler = (signal: NodeJS.Signals) => void this.stop(signal);
    takeOverSignals();
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    return this;
  }

  /** Something to undo on the way out; the last added runs first. */
  add(cleanup: () => unknown): void {
    this.cleanups.push(cleanup);
  }

  get stopping(): boolean {
    return this.started;
  }

  /** Runs the cleanups and exits with `code` (0 on a signal). */
  async stop(signal?: NodeJS.Signals, code = 0): Promise<never> {
    if (this.started) {
      // A second Ctrl-C: the user does not want to wait.
      process.exit(code);
    }
    this.started = true;
    const say = (line: string) => {
      if (!this.options.quiet) this.print(line);
    };
    if (signal) say(`${signal}: stopping`);
    const timer = setTimeout(() => {
      say('stopping takes too long: leaving anyway');
      process.exit(code);
    }, this.options.timeout ?? 10_000);
    timer.unref();
    for (const cleanup of this.cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        say(`while stopping: ${(error as Error).message ?? String(error)}`);
      }
    }
    if (signal) say('stopped');
    process.exit(code);
  }
}
