/**
 * The command line: `sparkbot [command] [options]`, parsed with node:util's parseArgs in strict
 * mode. Anything it does not know is a {@link UsageError} (exit code 2, the usage on stderr).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export type InspectMode = 'local' | 'stately';

export type Command =
  | { readonly name: 'help' }
  | { readonly name: 'version' }
  /** No command: the demo, or an echo bot on Webex when WEBEX_TOKEN is set. */
  | { readonly name: 'default'; readonly verbose: boolean; readonly inspect: InspectMode | undefined }
  | { readonly name: 'demo'; readonly verbose: boolean; readonly inspect: InspectMode | undefined }
  | { readonly name: 'emulator'; readonly port: number | undefined; readonly host: string | undefined; readonly state: string | undefined }
  | { readonly name: 'run'; readonly file: string; readonly emulator: boolean; readonly verbose: boolean; readonly inspect: InspectMode | undefined }
  | { readonly name: 'new'; readonly dir: string };

/** A command line sparkbot does not understand: exit code 2, the message and the usage on stderr. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A command line that cannot work, found while setting up (a missing WEBEX_TOKEN, a bot file that is not one): exit code 2, the message on stderr. */
export class SetupError extends Error {
  override readonly name = 'SetupError';
}

export const USAGE = `sparkbot — a Webex bot over Webex's own WebSocket

Usage:
  sparkbot [--verbose] [--inspect[=stately]]
      the demo below; or, when WEBEX_TOKEN is set, an echo bot on Webex (what \`npm start\` runs)
  sparkbot demo [--verbose] [--inspect[=stately]]
      a local Webex emulator and an echo bot on it, offline: a simulated user writes to the bot, the
      server drops the socket and the link goes dead, and every state transition and message is
      printed as it happens; prints the chat page where you talk to the bot and watch its machine.
      Ctrl-C stops.
  sparkbot emulator [--port N] [--host H] [--state FILE]
      the Webex emulator as a standalone server, until Ctrl-C. It creates a bot and a user "You"
      (or reloads them from FILE) and prints its URL, its chat page, the bot's token and the exact
      settings to point sparkbot, the official Webex JS SDK or webex-node-bot-framework at it.
      These tokens belong to the emulator's own made-up people and work nowhere else: printing them
      is the point of this command.
  sparkbot run <bot-file> [--emulator] [--inspect[=stately]] [--verbose]
      runs your bot. <bot-file> (ESM or CommonJS, relative to the current directory) exports by
      default a function that takes the bot:
          export default (bot) => { bot.command('hello', ({ reply }) => reply('Hi!')); };
      On Webex with WEBEX_TOKEN; with --emulator on a fresh local emulator instead, with a chat page
      where you (the user "You") talk to your bot and watch its machine. Ctrl-C stops it.
  sparkbot new <dir>
      writes a new bot project into <dir> (missing or empty): bot.js with /hello and a /card
      command, its test bot.test.js (against the emulator), package.json, README.md, .gitignore.
  sparkbot --help        this text (also: sparkbot <command> --help)
  sparkbot --version     sparkbot's version

Options:
  -v, --verbose        also print the pings (open → awaitingPong → open), hidden otherwise
  --inspect            the local inspector: a page of its own that shows the bot's machines live,
                       offline; prints its URL
  --inspect=stately    the Stately inspector (stately.ai/inspect), relayed through a free local
                       port (printed); needs: npm i -D @statelyai/inspect
  --emulator           run: on a fresh local Webex emulator instead of Webex (no token needed)
  -p, --port N         emulator: the port to listen on (default: a free one)
  --host H             emulator: the address to listen on (default: 127.0.0.1)
  --state FILE         emulator: keep people, rooms and messages in FILE across restarts

Environment:
  WEBEX_TOKEN   a bot access token from developer.webex.com (sparkbot, sparkbot run); never printed
  DEBUG         e.g. DEBUG=sparkbot:* for the library's own log (the token is never logged)

Exit codes: 0 done (Ctrl-C included), 1 failed, 2 bad command line or missing WEBEX_TOKEN.
`;

const common = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const satisfies ParseArgsConfig['options'];

const watching = {
  ...common,
  verbose: { type: 'boolean', short: 'v' },
  inspect: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const COMMANDS = {
  demo: watching,
  run: { ...watching, emulator: { type: 'boolean' } },
  emulator: { ...common, port: { type: 'string', short: 'p' }, host: { type: 'string' }, state: { type: 'string' } },
  new: common,
} as const satisfies Record<string, ParseArgsConfig['options']>;

type CommandName = keyof typeof COMMANDS;

const isCommand = (word: string): word is CommandName => Object.hasOwn(COMMANDS, word);

/** parseArgs takes no option whose value is optional: a bare `--inspect` becomes `--inspect=local`. */
function bareInspect(args: readonly string[]): string[] {
  const end = args.indexOf('--');
  return args.map((arg, i) => (arg === '--inspect' && (end === -1 || i < end) ? '--inspect=local' : arg));
}

function inspectMode(value: string | undefined): InspectMode | undefined {
  if (value === undefined) return undefined;
  if (value === 'local' || value === 'stately') return value;
  throw new UsageError(`--inspect takes no value (the local inspector) or =stately, not ${JSON.stringify(value)}`);
}

function portNumber(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) throw new UsageError(`--port takes a port number from 0 to 65535, not ${JSON.stringify(value)}`);
  return port;
}

/** parseArgs' own messages, without its advice about `--`, which only confuses here. */
function usageErrorOf(error: unknown): UsageError {
  const { code, message } = error as { code?: string; message: string };
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /'([^']+)'/.exec(message)?.[1];
    return new UsageError(option ? `unknown option ${option}` : message);
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const argument = /'([^']*)'/.exec(message)?.[1];
    return new UsageError(argument !== undefined ? `unexpected argument ${JSON.stringify(argument)}` : message);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return new UsageError(message.replace(/^Option '([^']+)'/, 'option $1'));
  return error instanceof Error ? new UsageError(error.message) : new UsageError(String(error));
}

/** The command a command line asks for; throws a {@link UsageError} for anything else. */
export function parseCommand(argv: readonly string[]): Command {
  const first = argv[0];
  const named = first !== undefined && !first.startsWith('-');
  if (named && !isCommand(first)) throw new UsageError(`unknown command ${JSON.stringify(first)}`);
  const name: CommandName | 'default' = named ? (first as CommandName) : 'default';
  const options = COMMANDS[name === 'default' ? 'demo' : name];
  const rest = named ? argv.slice(1) : argv;

  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: bareInspect(rest), options, strict: true, allowPositionals: name === 'run' || name === 'new' }) as typeof parsed;
  } catch (error) {
    throw usageErrorOf(error);
  }
  const { values, positionals } = parsed;
  if (values.help) return { name: 'help' };
  if (values.version) return { name: 'version' };

  const str = (key: string) => values[key] as string | undefined;
  const bool = (key: string) => values[key] === true;
  const one = (what: string): string => {
    if (positionals.length === 0) throw new UsageError(`${name} needs ${what}`);
    if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`);
    const value = positionals[0] as string;
    if (value.trim() === '') throw new UsageError(`${name} needs ${what}, not an empty string`);
    return value;
  };

  switch (name) {
    case 'default':
    case 'demo':
      return { name, verbose: bool('verbose'), inspect: inspectMode(str('inspect')) };
    case 'emulator':
      for (const key of ['host', 'state']) if (str(key)?.trim() === '') throw new UsageError(`--${key} takes a value, not an empty string`);
      return { name, port: portNumber(str('port')), host: str('host'), state: str('state') };
    case 'run':
      return { name, file: one('a bot file: sparkbot run bot.js'), emulator: bool('emulator'), verbose: bool('verbose'), inspect: inspectMode(str('inspect')) };
    case 'new':
      return { name, dir: one('a directory: sparkbot new my-bot') };
  }
}
