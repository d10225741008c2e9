/**
 * sparkbot's benchmarks (`npm run bench`): how fast a bot starts, how many messages it handles per
 * second, how long a reconnect takes, what an idle bot costs in memory — all against the local
 * emulator, on this machine. Prints a table; `--json` prints JSON instead. Numbers are medians of
 * several runs. They belong here, never in the tests.
 */
import { performance } from 'node:perf_hooks';
import { WebexEmulator } from '../src/emulator/index.js';
import { SparkBot } from '../src/index.js';
import { waitForState } from '../test/support/helpers.js';

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

async function startTime(emulator: WebexEmulator): Promise<number> {
  const me = emulator.createBot({ displayName: 'Bench' });
  const began = performance.now();
  const bot = new SparkBot({ token: me.token, ...emulator.botOptions(), lastConn: false });
  await bot.start();
  const ms = performance.now() - began;
  await bot.stop();
  return ms;
}

async function throughput(emulator: WebexEmulator, count: number): Promise<number> {
  const me = emulator.createBot({ displayName: 'Bench' });
  const users = [0, 1, 2, 3].map((i) => emulator.createUser({ displayName: `User ${i}` }));
  const bot = new SparkBot({ token: me.token, ...emulator.botOptions(), lastConn: false });
  let handled = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  bot.on('message', () => {
    handled += 1;
    if (handled === count) done();
  });
  await bot.start();
  const began = performance.now();
  for (let i = 0; i < count; i += 1) emulator.postMessage({ from: users[i % users.length]!, toPerson: me, text: `message ${i}` });
  await all;
  const seconds = (performance.now() - began) / 1000;
  await bot.stop();
  return count / seconds;
}

async function reconnectTime(emulator: WebexEmulator): Promise<number> {
  const me = emulator.createBot({ displayName: 'Bench' });
  const bot = new SparkBot({ token: me.token, ...emulator.botOptions(), lastConn: false, reconnectSleep: 1, reconnectSleepMax: 1 });
  await bot.start();
  const began = performance.now();
  emulator.dropConnections({ code: 1011 });
  await waitForState(bot, 'backoff');
  await waitForState(bot, 'open');
  const ms = performance.now() - began;
  await bot.stop();
  return ms;
}

async function settledHeap(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc (npm run bench does)');
  for (let i = 0; i < 4; i += 1) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return process.memoryUsage().heapUsed;
}

async function memoryPerBot(emulator: WebexEmulator, count: number): Promise<number> {
  const before = await settledHeap();
  const bots: SparkBot[] = [];
  for (let i = 0; i < count; i += 1) {
    const me = emulator.createBot({ displayName: `Bench ${i}` });
    const bot = new SparkBot({ token: me.token, ...emulator.botOptions(), lastConn: false });
    await bot.start();
    bots.push(bot);
  }
  const per = ((await settledHeap()) - before) / count;
  await Promise.all(bots.map((bot) => bot.stop()));
  return per;
}

const emulator = await WebexEmulator.start();
const runs = 7;
const starts: number[] = [];
for (let i = 0; i < runs; i += 1) starts.push(await startTime(emulator));
const rates: number[] = [];
for (let i = 0; i < 3; i += 1) rates.push(await throughput(emulator, 1000));
const reconnects: number[] = [];
for (let i = 0; i < runs; i += 1) reconnects.push(await reconnectTime(emulator));
await memoryPerBot(emulator, 10); // warm-up
const memory = await memoryPerBot(emulator, 50);
await emulator.close();

const results = {
  node: process.version,
  'start to open (ms, median)': Number(median(starts).toFixed(1)),
  'first start, cold (ms)': Number((starts[0] ?? Number.NaN).toFixed(1)),
  'messages handled per second (median)': Math.round(median(rates)),
  'reconnect after a drop (ms, median)': Number(median(reconnects).toFixed(1)),
  'heap per connected bot (KiB, incl. emulator side)': Math.round(memory / 1024),
};
if (process.argv.includes('--json')) console.log(JSON.stringify(results, null, 2));
else for (const [name, value] of Object.entries(results)) console.log(`${name.padEnd(52)} ${value}`);
