/**
 * `sparkbot demo` (and `sparkbot` without WEBEX_TOKEN): the built-in Webex emulator and an echo bot
 * on it. A simulated user posts messages, the server drops the socket and the link goes dead to
 * show the recovery; every state transition and message is printed as it happens, until Ctrl-C.
 * With WEBEX_TOKEN, `sparkbot` runs the same echo bot on real Webex instead ({@link echoOnWebex}).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EmulatedPerson } from '../emulator/index.js';
import { SparkBot, type ConnectionStateName } from '../index.js';
import type { InspectMode } from './args.js';
import { type Print, type Shutdown, watch } from './console.js';
import { chatPage, startEmulator } from './emulated.js';
import { inspection } from './inspector.js';

export interface WatchOptions {
  readonly verbose: boolean;
  readonly inspect: InspectMode | undefined;
}

/** The echo bot: every message from someone else is answered in its room (and thread). */
function echo(bot: SparkBot): void {
  bot.on('message', async (message) => {
    await message.reply(`echo: ${message.text ?? ''}`);
  });
}

function until(bot: SparkBot, state: ConnectionStateName): Promise<void> {
  return new Promise((resolve) => {
    if (bot.state === state) return resolve();
    const listener = (next: ConnectionStateName) => {
      if (next !== state) return;
      bot.off('state', listener);
      resolve();
    };
    bot.on('state', listener);
  });
}

export async function echoOnWebex(token: string, options: WatchOptions, print: Print, shutdown: Shutdown): Promise<void> {
  const inspector = await inspection(options.inspect, { print });
  if (inspector) shutdown.add(() => inspector.close());
  const bot = new SparkBot({ token, ...(inspector ? { inspect: inspector.inspect } : {}) });
  echo(bot);
  watch(bot, print, options);
  bot.on('message', (message) => print(`message  ${message.personEmail}: ${message.text ?? '(no text)'}`));
  shutdown.add(() => bot.stop());
  await bot.start();
  print(`ready as ${bot.currentUser?.displayName ?? '?'} (${bot.currentUser?.emails[0] ?? '?'}); message it on Webex. Ctrl-C stops.`);
}

export async function demo(options: WatchOptions, print: Print, shutdown: Shutdown): Promise<void> {
  const emulator = await startEmulator();
  shutdown.add(() => emulator.close());
  const dir = await mkdtemp(join(tmpdir(), 'sparkbot-demo-'));
  shutdown.add(() => rm(dir, { recursive: true, force: true }));
  const botPerson = emulator.createBot({ displayName: 'Echo Bot' });
  const alice = emulator.createUser({ displayName: 'Alice' });
  const room = emulator.directRoom(alice, botPerson);
  const names = new Map<string, EmulatedPerson>([
    [alice.uuid, alice],
    [botPerson.uuid, botPerson],
  ]);
  emulator.on('message', (message: { personUuid: string; text?: string }) =>
    print(`message  ${names.get(message.personUuid)?.displayName ?? emulator.people.get(message.personUuid)?.displayName ?? '?'}: ${message.text ?? ''}`),
  );

  const timings = { pingEvery: 3000, pingWait: 1000, reconnectSleep: 500, reconnectSleepMax: 4000 };
  print(`demo: Webex emulator on ${emulator.url}; echo bot with ${Object.entries(timings).map(([k, v]) => `${k} ${v} ms`).join(', ')}`);
  const page = chatPage(emulator);
  if (page) print(`open ${page} to chat with the bot and watch its machine`);
  const inspector = await inspection(options.inspect, { emulator, name: botPerson.displayName, print });
  if (inspector) shutdown.add(() => inspector.close());
  const bot = new SparkBot({
    token: botPerson.token,
    ...emulator.botOptions(),
    lastConn: join(dir, 'last-connection.json'),
    ...timings,
    ...(inspector ? { inspect: inspector.inspect } : {}),
  });
  echo(bot);
  watch(bot, print, options);
  shutdown.add(() => bot.stop());

  const say = async (text: string) => {
    emulator.postMessage({ from: alice, room, text });
    await emulator.waitFor(() => [...emulator.messages.values()].some((m) => m.personUuid === botPerson.uuid && m.text === `echo: ${text}`), { timeout: 30_000 });
  };

  await bot.start();
  await say('hello bot');
  await say('how are you?');

  print('demo: the server drops the socket with 1011');
  emulator.dropConnections({ code: 1011, reason: 'Internal error' });
  await until(bot, 'backoff');
  await until(bot, 'open');
  await say('still there?');

  print('demo: the link goes dead (the server stops answering pings)');
  emulator.setPongMode('ignore');
  await until(bot, 'backoff');
  emulator.setPongMode('normal');
  await until(bot, 'open');
  await say('welcome back');

  print(`demo: recovered; registrations ${emulator.registrations.length}, sockets ${emulator.connections.length}. Alice writes every 10 s; Ctrl-C stops.`);
  let n = 0;
  const timer = setInterval(() => {
    n += 1;
    emulator.postMessage({ from: alice, room, text: `message #${n}` });
  }, 10_000);
  timer.unref();
  shutdown.add(() => clearInterval(timer));
  // Keep the process alive until a signal arrives.
  const alive = setInterval(() => undefined, 1 << 30);
  shutdown.add(() => clearInterval(alive));
}
