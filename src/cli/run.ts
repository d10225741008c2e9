/**
 * `sparkbot run <bot-file>`: the user's bot module, on Webex (WEBEX_TOKEN) or on a fresh emulator
 * (`--emulator`), until Ctrl-C or SIGTERM.
 */
import { stat } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SparkBot, type SparkBotOptions } from '../index.js';
import { SetupError, type InspectMode } from './args.js';
import { type Print, type Shutdown, watch } from './console.js';
import { chatPage, startEmulator, userNamed } from './emulated.js';
import { inspection } from './inspector.js';

export interface RunOptions {
  readonly file: string;
  readonly emulator: boolean;
  readonly verbose: boolean;
  readonly inspect: InspectMode | undefined;
}

/** What a bot file exports by default: it sets the bot up (routes, events); `run` starts it. */
export type BotSetup = (bot: SparkBot) => unknown;

/** The function a bot module exports by default, ESM or CommonJS (`module.exports = fn`, or a transpiled `exports.default = fn`). */
export async function loadBotModule(file: string, cwd = process.cwd()): Promise<BotSetup> {
  const path = resolve(cwd, file);
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw new SetupError(`sparkbot run: no such file: ${path}`);
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    // The user's own code failed: its stack is what they need.
    throw new Error(`sparkbot run: ${file} failed to load: ${(error as Error).stack ?? String(error)}`);
  }
  let setup = module.default;
  if (setup !== null && typeof setup === 'object' && typeof (setup as { default?: unknown }).default === 'function') setup = (setup as { default: unknown }).default;
  if (typeof setup !== 'function') {
    throw new SetupError(`sparkbot run: ${file} must export a function as its default export, that takes the bot: export default (bot) => { bot.command('hello', ({ reply }) => reply('Hi!')); }`);
  }
  return setup as BotSetup;
}

/** "my-bot.js" → "My Bot": the name of the bot account on the emulator. */
function displayNameOf(file: string): string {
  const words = basename(file, extname(file)).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  const name = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' ');
  return name === '' || name === 'Bot' || name === 'Index' ? 'My Bot' : /\bbot\b/i.test(name) ? name : `${name} Bot`;
}

export async function run(options: RunOptions, print: Print, shutdown: Shutdown): Promise<void> {
  const token = process.env.WEBEX_TOKEN?.trim();
  if (!options.emulator && !token) {
    throw new SetupError('sparkbot run: WEBEX_TOKEN is not set. Set it to your bot\'s access token from developer.webex.com (WEBEX_TOKEN=… sparkbot run bot.js), or run the bot on a local Webex emulator: sparkbot run bot.js --emulator');
  }
  const setup = await loadBotModule(options.file);

  let botOptions: SparkBotOptions<SparkBot>;
  let emulator: Awaited<ReturnType<typeof startEmulator>> | undefined;
  let name: string | undefined;
  if (options.emulator) {
    emulator = await startEmulator();
    const started = emulator;
    shutdown.add(() => started.close());
    const me = emulator.createBot({ displayName: displayNameOf(options.file) });
    const you = userNamed(emulator, 'You');
    emulator.directRoom(you, me); // so that the chat page opens on your conversation with the bot
    emulator.on('message', (message: { personUuid: string; text?: string }) => print(`message  ${started.people.get(message.personUuid)?.displayName ?? '?'}: ${message.text ?? ''}`));
    print(`Webex emulator on ${emulator.url}, with a bot "${me.displayName}" and you ("You")`);
    botOptions = { token: me.token, ...emulator.botOptions(), lastConn: false };
    name = me.displayName;
  } else {
    botOptions = { token: token as string };
  }

  const inspector = await inspection(options.inspect, { ...(emulator ? { emulator } : {}), ...(name ? { name } : {}), print });
  if (inspector) shutdown.add(() => inspector.close());
  const bot = new SparkBot({ ...botOptions, ...(inspector ? { inspect: inspector.inspect } : {}) });
  watch(bot, print, options);
  await setup(bot);
  shutdown.add(() => bot.stop());
  await bot.start();
  const page = emulator && chatPage(emulator);
  if (page) print(`open ${page} to chat with your bot and watch its machine`);
  print(`ready as ${bot.currentUser?.displayName ?? '?'} (${bot.currentUser?.emails[0] ?? '?'})${emulator ? '' : '; message it on Webex'}. Ctrl-C stops.`);
  const alive = setInterval(() => undefined, 1 << 30);
  shutdown.add(() => clearInterval(alive));
}
