/**
 * `sparkbot emulator`: the Webex emulator as a standalone server, until Ctrl-C. It makes a bot and a
 * user "You" (or finds them in its state file) and prints what a client needs to use it — the bot's
 * token included: these are the emulator's own made-up people, and printing their tokens is the
 * point of the command.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { EmulatedPerson } from '../emulator/index.js';
import type { Print, Shutdown } from './console.js';
import { botsOrNew, chatPage, startEmulator, userNamed } from './emulated.js';

export interface ServeOptions {
  readonly port: number | undefined;
  readonly host: string | undefined;
  readonly state: string | undefined;
}

const js = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const sh = (value: string) => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`);
const who = (person: EmulatedPerson) => `"${person.displayName}" <${person.email}>`;

export async function serve(options: ServeOptions, print: Print, shutdown: Shutdown): Promise<void> {
  const stateFile = options.state === undefined ? undefined : resolve(options.state);
  const reloading = stateFile !== undefined && existsSync(stateFile);
  const emulator = await startEmulator({ port: options.port, host: options.host, stateFile });
  shutdown.add(() => emulator.close());
  const bots = botsOrNew(emulator, 'My Bot');
  const you = userNamed(emulator, 'You');
  const [bot] = bots as [EmulatedPerson, ...EmulatedPerson[]];
  const { wdmUrl, apiUrl, u2cUrl } = emulator.botOptions();
  const page = chatPage(emulator);

  const lines = [
    `Webex emulator on ${emulator.url} (Ctrl-C stops)`,
    ...(page ? [`open ${page} to chat with the bot and watch its machine`] : []),
    ...(stateFile ? [`state: ${stateFile} (${reloading ? 'reloaded; ' : ''}people, rooms and messages are kept across restarts)`] : []),
    '',
    ...bots.flatMap((b) => [`bot ${who(b)}`, `  id     ${b.id}`, `  token  ${b.token}`]),
    `user ${who(you)} (you, on the chat page)`,
    `  id     ${you.id}`,
    '',
    'sparkbot:',
    `  new SparkBot({ token: ${js(bot.token)}, wdmUrl: ${js(wdmUrl)}, apiUrl: ${js(apiUrl)}, u2cUrl: ${js(u2cUrl)}, allowInsecure: true })`,
    '',
    'the official Webex JS SDK (webex):',
    `  Webex.init({ credentials: { access_token: ${js(bot.token)} }, config: { services: { discovery: { u2c: ${js(u2cUrl)}, hydra: ${js(apiUrl)} } } } })`,
    '',
    'webex-node-bot-framework (the URLs through the environment; the token as usual: new Framework({ token }))',
    `  U2C_SERVICE_URL=${sh(u2cUrl)} HYDRA_SERVICE_URL=${sh(apiUrl)} node your-bot.js`,
    '',
    'These tokens belong to the emulator\'s made-up people: they work here and nowhere else.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  emulator.on('message', (message: { personUuid: string; text?: string }) => print(`message  ${emulator.people.get(message.personUuid)?.displayName ?? '?'}: ${message.text ?? ''}`));
  const alive = setInterval(() => undefined, 1 << 30);
  shutdown.add(() => clearInterval(alive));
}
