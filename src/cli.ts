#!/usr/bin/env node
/**
 * The `sparkbot` command (`npm start` runs it without arguments):
 *
 * - `sparkbot` — the demo (below), or an echo bot on real Webex when WEBEX_TOKEN is set;
 * - `sparkbot demo` — the built-in Webex emulator and an echo bot on it, with a simulated user, a
 *   dropped socket and a dead link to show the recovery, every transition printed, until Ctrl-C;
 * - `sparkbot emulator` — the emulator as a standalone server, with the settings for clients;
 * - `sparkbot run <bot-file>` — a user's bot module, on Webex or (`--emulator`) on the emulator;
 * - `sparkbot new <dir>` — a new bot project.
 *
 * `sparkbot --help` says it all (src/cli/args.ts). Exit codes: 0 done (a Ctrl-C included), 1
 * failed, 2 a command line it does not understand (usage on stderr) or a missing WEBEX_TOKEN.
 */
import './cli/signals.js'; // first: Ctrl-C while the rest loads ends sparkbot quietly
import { isAbsolute, relative } from 'node:path';
import { parseCommand, SetupError, USAGE, UsageError, type Command } from './cli/args.js';
import { Shutdown, timestamped, type Print } from './cli/console.js';
import { demo, echoOnWebex } from './cli/demo.js';
import { VERSION } from './cli/package.js';
import { run } from './cli/run.js';
import { scaffold } from './cli/scaffold.js';
import { serve } from './cli/serve.js';
import { SparkBotError } from './index.js';

async function scaffoldCommand(dir: string): Promise<void> {
  const project = await scaffold(dir);
  const near = relative(process.cwd(), project.dir);
  const shown = near === '' ? '.' : near.startsWith('..') || isAbsolute(near) ? project.dir : near;
  process.stdout.write(
    [
      `created ${project.name} in ${project.dir}: ${project.files.join(', ')} (sparkbot ${project.sparkbot})`,
      '',
      ...(shown === '.' ? [] : [`  cd ${/^[\w@%+=:,./-]+$/.test(shown) ? shown : `'${shown.replace(/'/g, `'\\''`)}'`}`]),
      '  npm install',
      '  npm run dev                        # chat with the bot on a local Webex emulator',
      '  npm test                           # its tests, against the emulator',
      '  WEBEX_TOKEN=<bot token> npm start  # on Webex',
      '',
    ].join('\n'),
  );
}

async function execute(command: Command, print: Print, shutdown: Shutdown): Promise<void> {
  switch (command.name) {
    case 'help':
      process.stdout.write(USAGE);
      return;
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return;
    case 'new':
      return scaffoldCommand(command.dir);
    case 'default': {
      const token = process.env.WEBEX_TOKEN?.trim();
      shutdown.listen();
      return token ? echoOnWebex(token, command, print, shutdown) : demo(command, print, shutdown);
    }
    case 'demo':
      shutdown.listen();
      return demo(command, print, shutdown);
    case 'emulator':
      shutdown.listen();
      return serve(command, print, shutdown);
    case 'run':
      shutdown.listen();
      return run(command, print, shutdown);
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const print = timestamped();
  const shutdown = new Shutdown(print);
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`sparkbot: ${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  try {
    await execute(command, print, shutdown);
  } catch (error) {
    // Ctrl-C cuts whatever was under way short (a start, a wait for an answer): not a failure.
    if (shutdown.stopping) return;
    // A command line that cannot work (a bad WEBEX_TOKEN included) exits 2, a failure 1; the token never shows (SparkBotError messages are redacted).
    const setup = error instanceof SetupError || (error instanceof SparkBotError && error.code === 'INVALID_OPTION');
    const message = error instanceof SparkBotError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
    process.stderr.write(`${error instanceof SetupError ? '' : 'error: '}${message}\n`);
    await shutdown.stop(undefined, setup ? 2 : 1);
  }
}

await main(process.argv.slice(2));
