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
import { findRedisServer, launchRedis } from '../test/support/redis-server.js';

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

/** Round trips to Redis so far: the scripts run (INFO commandstats; the commands a script runs are counted apart, and not here). */
async function redisCalls(url: string): Promise<number> {
  const { createClient } = await import('redis');
  const client = createClient({ url });
  await client.connect();
  const info = await client.info('commandstats');
  await client.close();
  let calls = 0;
  for (const match of info.matchAll(/^cmdstat_(eval|evalsha):calls=(\d+)/gm)) calls += Number(match[2]);
  return calls;
}

/**
 * Replicas (sparkbot/redis): `replicas` bots of one user on a real redis-server; `count` messages.
 * The Redis commands they ran per message (every step is one script: one round trip), and the rate.
 * All the replicas share this one process (and its event loop) with the emulator: a burst of 1000
 * messages keeps that loop busy for seconds, so answers wait in the socket longer than the default
 * commandTimeout (2 s) and would count as outages: here commands may take 15 s.
 */
async function coordinationCost(emulator: WebexEmulator, url: string, replicas: number, count: number): Promise<{ perMessage: number; rate: number }> {
  const { redisCoordination } = await import('../src/redis/index.js');
  const me = emulator.createBot({ displayName: 'Bench replicas' });
  const users = [0, 1, 2, 3].map((i) => emulator.createUser({ displayName: `User ${i}` }));
  let handled = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const bots = Array.from({ length: replicas }, (_, i) => {
    const bot = new SparkBot({ token: me.token, ...emulator.botOptions(), lastConn: false, coordination: redisCoordination({ url, replica: `bench-${i}`, leaderLease: 60_000, commandTimeout: 15_000 }) });
    bot.on('message', () => {
      handled += 1;
      if (handled === count) done();
    });
    return bot;
  });
  await Promise.all(bots.map((bot) => bot.start()));
  emulator.postMessage({ from: users[0]!, toPerson: me, text: 'warm-up' });
  while (handled < 1) await new Promise((resolve) => setTimeout(resolve, 10));
  handled = 0;
  const calls = await redisCalls(url);
  const began = performance.now();
  for (let i = 0; i < count; i += 1) emulator.postMessage({ from: users[i % users.length]!, toPerson: me, text: `message ${i}` });
  await all;
  const seconds = (performance.now() - began) / 1000;
  // The replicas that lost a claim settle once the done mark is announced: wait for the last of them.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const perMessage = ((await redisCalls(url)) - calls) / count;
  await Promise.all(bots.map((bot) => bot.stop()));
  return { perMessage, rate: count / seconds };
}

/** ms from the death of the replica running a handler (its Redis connection cut) to another replica's start of that handler. */
async function failoverTime(emulator: WebexEmulator, url: string, lease: number): Promise<number> {
  const { redisCoordination } = await import('../src/redis/index.js');
  const { createClient } = await import('redis');
  const me = emulator.createBot({ displayName: 'Bench failover' });
  const alice = emulator.createUser({ displayName: 'Alice' });
  const clients = [0, 1].map(() => createClient({ url, disableOfflineQueue: true }));
  for (const client of clients) {
    client.on('error', () => undefined);
    await client.connect();
  }
  let first: number | undefined;
  let takenOver!: (at: number) => void;
  const takeover = new Promise<number>((resolve) => (takenOver = resolve));
  const bots = clients.map((client, i) => {
    const bot = new SparkBot({ token: me.token, ...emulator.botOptions(), lastConn: false, coordination: redisCoordination({ client: client as never, replica: `failover-${i}`, lease }) });
    // Expected here: the dead replica's Redis warning, and its handler cut by stop().
    bot.on('warning', () => undefined);
    bot.on('error', () => undefined);
    bot.on('message', async () => {
      if (first === undefined) {
        first = i;
        return new Promise<void>(() => undefined); // never ends: this replica is about to die
      }
      takenOver(performance.now());
    });
    return bot;
  });
  await Promise.all(bots.map((bot) => bot.start()));
  emulator.postMessage({ from: alice, toPerson: me, text: 'fail over' });
  while (first === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
  const killedAt = performance.now();
  clients[first]!.destroy();
  const ms = (await takeover) - killedAt;
  await Promise.all(bots.map((bot) => bot.stop({ timeout: 100 })));
  for (const client of clients) if (client.isOpen) client.destroy();
  return ms;
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
const replicas: Record<string, number | string> = {};
if (findRedisServer() === undefined) replicas['replicas (sparkbot/redis)'] = 'skipped: redis-server is not installed (apt-get install redis-server)';
else {
  const redis = await launchRedis();
  const lease = 1_000;
  const costs = [];
  for (let i = 0; i < 3; i += 1) costs.push(await coordinationCost(emulator, redis.url, 3, 1000));
  const failovers: number[] = [];
  for (let i = 0; i < 5; i += 1) failovers.push(await failoverTime(emulator, redis.url, lease));
  await redis.stop();
  // Ideal: a claim per replica (3), and the done mark of the one that handled it (1): 4; of which 2 on the handling replica.
  replicas['replicas: Redis round trips per message, all 3 replicas (ideal 4)'] = Number(median(costs.map((c) => c.perMessage)).toFixed(2));
  replicas['replicas: messages handled per second, 3 replicas (median)'] = Math.round(median(costs.map((c) => c.rate)));
  replicas[`replicas: failover after a replica dies (ms, median; lease ${lease})`] = Math.round(median(failovers));
  replicas[`replicas: failover, worst of ${failovers.length} (ms)`] = Math.round(Math.max(...failovers));
}
await emulator.close();

const results = {
  node: process.version,
  'start to open (ms, median)': Number(median(starts).toFixed(1)),
  'first start, cold (ms)': Number((starts[0] ?? Number.NaN).toFixed(1)),
  'messages handled per second (median)': Math.round(median(rates)),
  'reconnect after a drop (ms, median)': Number(median(reconnects).toFixed(1)),
  'heap per connected bot (KiB, incl. emulator side)': Math.round(memory / 1024),
  ...replicas,
};
if (process.argv.includes('--json')) console.log(JSON.stringify(results, null, 2));
else for (const [name, value] of Object.entries(results)) console.log(`${name.padEnd(52)} ${value}`);
