#!/usr/bin/env node
/**
 * The `sparkbot` command (`npm start`).
 *
 * - With WEBEX_TOKEN set: an echo bot on real Webex.
 * - Without: the demo. It starts the built-in Webex emulator and an echo bot on it, has a simulated
 *   user post messages, drops the socket and kills the link to show the recovery, and prints every
 *   state transition and message as it happens, until Ctrl-C.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebexEmulator, type EmulatedPerson } from './emulator/index.js';
import { SparkBot, type ConnectionStateName, type SparkBotOptions } from './index.js';

const HELP = `sparkbot — a Webex bot over Webex's own WebSocket

Usage: sparkbot            run the demo (emulator + echo bot), or an echo bot on Webex when WEBEX_TOKEN is set
       sparkbot --inspect  the same, watched live in the Stately inspector (needs: npm i -D @statelyai/inspect)
       sparkbot --help     this text

Environment:
  WEBEX_TOKEN   a bot access token from developer.webex.com; without it the demo runs offline
  DEBUG         e.g. DEBUG=sparkbot:* for the library's own log (the token is never logged)
`;

const started = Date.now();
const out = (line: string) => process.stdout.write(`${((Date.now() - started) / 1000).toFixed(3).padStart(8)}s  ${line}\n`);

/** The echo bot: every message from someone else is answered in its room (and thread). */
function echo(bot: SparkBot): void {
  bot.on('message', async (message) => {
    await message.reply(`echo: ${message.text ?? ''}`);
  });
}

function watch(bot: SparkBot): void {
  bot.on('state', (state, previous) => {
    const { lastError } = bot.health();
    const explained = ['backoff', 'rateLimited', 'failed'].includes(state) || (state === 'fetchingUrl' && previous === 'connecting');
    const why = lastError && explained ? `   (${lastError})` : '';
    out(`state    ${previous} → ${state}${why}`);
  });
  bot.on('error', (error) => out(`error    ${error.code}: ${error.message}`));
  bot.on('warning', (warning) => out(`warning  ${warning.code}: ${warning.message}`));
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

function onExit(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    out(`${signal}: stopping`);
    stop().then(
      () => {
        out('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        out(`stop failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

type InspectOption = SparkBotOptions<SparkBot>['inspect'];

/**
 * The Stately inspector, when --inspect is given: @statelyai/inspect is an optional dependency,
 * loaded only here. Its relay server opens https://stately.ai/inspect in the browser.
 */
async function inspector(): Promise<InspectOption> {
  if (!process.argv.includes('--inspect')) return undefined;
  const load = (name: string) => import(name) as Promise<Record<string, unknown>>;
  try {
    const { createWebSocketInspector } = (await load('@statelyai/inspect')) as { createWebSocketInspector: (o: { url: string }) => { inspect: InspectOption } };
    const { createInspectorServer } = (await load('@statelyai/inspect/server')) as { createInspectorServer: (o: { port: number }) => unknown };
    createInspectorServer({ port: 8080 });
    out('inspect: relaying to the Stately inspector through ws://localhost:8080');
    return createWebSocketInspector({ url: 'ws://localhost:8080' }).inspect;
  } catch (error) {
    out(`inspect: @statelyai/inspect is not installed (npm i -D @statelyai/inspect): ${(error as Error).message}`);
    process.exit(2);
  }
}

async function realBot(token: string): Promise<void> {
  const inspect = await inspector();
  const bot = new SparkBot({ token, ...(inspect ? { inspect } : {}) });
  echo(bot);
  watch(bot);
  bot.on('message', (message) => out(`message  ${message.personEmail}: ${message.text ?? '(no text)'}`));
  onExit(() => bot.stop());
  await bot.start();
  out(`ready as ${bot.currentUser?.displayName ?? '?'} (${bot.currentUser?.emails[0] ?? '?'}); message it on Webex. Ctrl-C stops.`);
}

async function demo(): Promise<void> {
  const emulator = await WebexEmulator.start();
  const dir = await mkdtemp(join(tmpdir(), 'sparkbot-demo-'));
  const botPerson = emulator.createBot({ displayName: 'Echo Bot' });
  const alice = emulator.createUser({ displayName: 'Alice' });
  const room = emulator.directRoom(alice, botPerson);
  const names = new Map<string, EmulatedPerson>([
    [alice.uuid, alice],
    [botPerson.uuid, botPerson],
  ]);
  emulator.on('message', (message: { personUuid: string; text?: string }) => out(`message  ${names.get(message.personUuid)?.displayName ?? '?'}: ${message.text ?? ''}`));

  const timings = { pingEvery: 3000, pingWait: 1000, reconnectSleep: 500, reconnectSleepMax: 4000 };
  out(`demo: Webex emulator on ${emulator.url}; echo bot with ${Object.entries(timings).map(([k, v]) => `${k} ${v} ms`).join(', ')}`);
  const inspect = await inspector();
  const bot = new SparkBot({ token: botPerson.token, ...emulator.botOptions(), lastConn: join(dir, 'last-connection.json'), ...timings, ...(inspect ? { inspect } : {}) });
  echo(bot);
  watch(bot);
  onExit(async () => {
    await bot.stop();
    await emulator.close();
    await rm(dir, { recursive: true, force: true });
  });

  const say = async (text: string) => {
    emulator.postMessage({ from: alice, room, text });
    await emulator.waitFor(() => [...emulator.messages.values()].some((m) => m.personUuid === botPerson.uuid && m.text === `echo: ${text}`), { timeout: 30_000 });
  };

  await bot.start();
  await say('hello bot');
  await say('how are you?');

  out('demo: the server drops the socket with 1011');
  emulator.dropConnections({ code: 1011, reason: 'Internal error' });
  await until(bot, 'backoff');
  await until(bot, 'open');
  await say('still there?');

  out('demo: the link goes dead (the server stops answering pings)');
  emulator.setPongMode('ignore');
  await until(bot, 'backoff');
  emulator.setPongMode('normal');
  await until(bot, 'open');
  await say('welcome back');

  out(`demo: recovered; registrations ${emulator.registrations.length}, sockets ${emulator.connections.length}. Alice writes every 10 s; Ctrl-C stops.`);
  let n = 0;
  const timer = setInterval(() => {
    n += 1;
    emulator.postMessage({ from: alice, room, text: `message #${n}` });
  }, 10_000);
  timer.unref();
  // Keep the process alive until a signal arrives.
  setInterval(() => undefined, 1 << 30);
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  const token = process.env.WEBEX_TOKEN;
  if (token !== undefined && token.trim() !== '') await realBot(token);
  else await demo();
}

main().catch((error: unknown) => {
  out(`error: ${(error as Error).message ?? String(error)}`);
  process.exit(1);
});
