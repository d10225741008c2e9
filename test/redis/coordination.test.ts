/**
 * Replicas coordinated through a real Redis (sparkbot/redis): several SparkBots of one bot user,
 * each with its own device and socket on the emulator, one redis-server started for each test on
 * a random loopback port. Skipped (one line) without redis-server; a failure under CI=true.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { inspect } from 'node:util';
import { createClient } from 'redis';
import type { WebexEmulator, EmulatedPerson } from '../../src/emulator/index.js';
import { Waiters } from '../../src/emulator/waiters.js';
import { createStorage, SparkBot, type SparkBotError } from '../../src/index.js';
import { redisCoordination, redisStorage, type RedisClientLike, type RedisCoordinationOptions } from '../../src/redis/index.js';
import { uuidOf } from '../../src/protocol/ids.js';
import { defer, secretPieces, startEmulator } from '../support/helpers.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';

interface Replica {
  readonly name: string;
  readonly bot: SparkBot;
  readonly handled: string[];
  readonly warnings: SparkBotError[];
  readonly errors: SparkBotError[];
  readonly leaderEvents: boolean[];
}

interface World {
  readonly redis: RedisServer;
  readonly emulator: WebexEmulator;
  readonly me: EmulatedPerson;
  readonly alice: EmulatedPerson;
  readonly waiters: Waiters;
  until(predicate: () => boolean, what: string, timeout?: number): Promise<void>;
  replica(name: string, options?: Partial<RedisCoordinationOptions> & { handler?: (text: string, replica: Replica) => Promise<void> | void }): Replica;
}

async function world(t: TestContext, options: { persist?: boolean } = {}): Promise<World | undefined> {
  const redis = await startRedis(t, options);
  if (redis === undefined) return undefined;
  const emulator = await startEmulator(t);
  const me = emulator.createBot({ displayName: 'Replicated Bot' });
  const alice = emulator.createUser({ displayName: 'Alice' });
  const waiters = new Waiters();
  const poke = () => waiters.poke();
  emulator.on('change', poke);
  defer(t, () => emulator.off('change', poke));
  // What the bots keep to themselves (a hold, the leadership) is looked at often too, not only on the emulator's changes.
  const ticker = setInterval(poke, 20);
  defer(t, () => clearInterval(ticker));
  const until = (predicate: () => boolean, what: string, timeout = 15_000) => waiters.until(predicate, timeout, () => new Error(`timed out waiting for ${what}`));
  const replica: World['replica'] = (name, options = {}) => {
    const { handler, ...coordinationOptions } = options;
    const bot = new SparkBot({
      token: me.token,
      ...emulator.botOptions(),
      lastConn: false,
      coordination: redisCoordination({ url: redis.url, replica: name, lease: 600, leaderLease: 600, ...coordinationOptions } as RedisCoordinationOptions),
    });
    const r: Replica = { name, bot, handled: [], warnings: [], errors: [], leaderEvents: [] };
    bot.on('message', async (message) => {
      setImmediate(poke);
      await handler?.(message.text ?? '', r);
      r.handled.push(message.text ?? '');
      setImmediate(poke);
    });
    bot.on('warning', (w) => {
      r.warnings.push(w);
      setImmediate(poke);
    });
    bot.on('error', (e) => {
      r.errors.push(e);
      setImmediate(poke);
    });
    bot.on('leader', ({ isLeader }) => {
      r.leaderEvents.push(isLeader);
      setImmediate(poke);
    });
    defer(t, () => bot.stop({ timeout: 2_000 }));
    return r;
  };
  return { redis, emulator, me, alice, waiters, until, replica };
}

/** Every key and value in the Redis of `url`. */
async function dump(url: string): Promise<Map<string, string>> {
  const client = createClient({ url });
  await client.connect();
  try {
    const out = new Map<string, string>();
    for (const key of await client.keys('*')) {
      const type = await client.type(key);
      out.set(key, type === 'string' ? ((await client.get(key)) ?? '') : type);
    }
    return out;
  } finally {
    await client.close();
  }
}

/**
 * A client whose scripts run 150 ms late while `isSlow()` (a replica far from Redis): its claims come
 * last. `real` is the node-redis client to connect and close.
 */
function slowable(url: string, isSlow: () => boolean): { real: { connect(): Promise<unknown>; close(): Promise<unknown> }; client: RedisClientLike } {
  const real = createClient({ url, disableOfflineQueue: true });
  real.on('error', () => undefined);
  const client = new Proxy(real, {
    get(target, prop) {
      if (prop === 'eval') {
        return async (...args: Parameters<typeof real.eval>) => {
          if (isSlow()) await new Promise((resolve) => setTimeout(resolve, 150));
          return target.eval(...args);
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as unknown as RedisClientLike;
  return { real, client };
}

const all = (replicas: readonly Replica[]) => replicas.flatMap((r) => r.handled);

test('three replicas: every message is handled by exactly one of them, each replica acks every activity on its own socket', async (t) => {
  const w = await world(t);
  if (!w) return;
  const replicas = ['r1', 'r2', 'r3'].map((name) => w.replica(name));
  await Promise.all(replicas.map((r) => r.bot.start()));
  assert.equal(new Set(replicas.map((r) => r.bot.health().deviceId)).size, 3, 'a device each');
  const bob = w.emulator.createUser({ displayName: 'Bob' });
  const texts = Array.from({ length: 30 }, (_, i) => `message ${i}`);
  const ids = texts.map((text, i) => uuidOf(w.emulator.postMessage({ from: i % 2 === 0 ? w.alice : bob, toPerson: w.me, text }).id));
  await w.until(() => all(replicas).length >= texts.length, 'every message handled');
  assert.deepEqual([...all(replicas)].sort(), [...texts].sort(), 'each once');
  // Every replica's socket acked every activity (Webex would redeliver the others).
  const sockets = w.emulator.connections.filter((c) => c.closedAt === undefined).map((c) => c.id);
  assert.equal(sockets.length, 3);
  await w.until(() => sockets.every((socket) => ids.every((id) => w.emulator.acks.some((a) => a.connectionId === socket && w.emulator.deliveries.some((d) => d.envelopeId === a.messageId && d.activityId === id)))), 'acks on every socket');
  // Nothing of the token in Redis: keys, values.
  const stored = await dump(w.redis.url);
  assert.ok(stored.size >= texts.length, 'a done mark per message');
  const text = [...stored].map(([k, v]) => `${k} ${v}`).join('\n');
  assert.deepEqual(secretPieces(text, w.me.token), []);
  assert.equal([...stored.values()].filter((v) => v === 'done').length, texts.length);
  for (const r of replicas) assert.deepEqual(r.errors, [], `${r.name}: no error`);
});

test('a replica that cannot renew its claim (it died) loses the activity to another one when the lease runs out', async (t) => {
  const w = await world(t);
  if (!w) return;
  const lease = 600;
  const clients = new Map<string, RedisClientLike>();
  let holder: Replica | undefined;
  let heldAt = 0;
  const forever = new Promise<void>(() => undefined);
  const replicas = ['r1', 'r2', 'r3'].map((name) => {
    const client = createClient({ url: w.redis.url, disableOfflineQueue: true }) as unknown as RedisClientLike;
    client.on('error', () => undefined);
    clients.set(name, client);
    return w.replica(name, {
      url: undefined,
      client,
      lease,
      handler: async (text, r) => {
        if (text !== 'slow' || holder !== undefined) return;
        holder = r;
        heldAt = Date.now();
        await forever; // this handler never ends: its replica is as good as dead
      },
    });
  });
  for (const client of clients.values()) await client.connect();
  defer(t, async () => {
    for (const client of clients.values()) if (client.isOpen) await client.close?.().catch(() => undefined);
  });
  await Promise.all(replicas.map((r) => r.bot.start()));
  w.emulator.postMessage({ from: w.alice, toPerson: w.me, text: 'slow' });
  await w.until(() => holder !== undefined, 'a replica to start the slow handler');
  // The holder's Redis connection dies: no renewal, no done mark.
  const dead = holder!;
  const killedAt = Date.now();
  clients.get(dead.name)!.destroy?.();
  await w.until(() => all(replicas).includes('slow'), 'another replica to take it over', lease * 10);
  const tookOver = replicas.filter((r) => r.handled.includes('slow'));
  assert.equal(tookOver.length, 1);
  assert.notEqual(tookOver[0]!.name, dead.name);
  const failover = Date.now() - killedAt;
  assert.ok(failover <= lease + 1_000, `failover ${failover} ms, lease ${lease} ms`);
  assert.ok(Date.now() - heldAt >= lease / 3, 'not before the lease could run out');
  // The others meanwhile handled nothing twice; the dead one said its Redis was gone.
  await w.until(() => dead.warnings.some((w) => w.code === 'COORDINATION_ERROR'), 'the warning of the dead replica');
});

test('a replica that stops gives back what it holds: another replica takes it at once, not after the lease', async (t) => {
  const w = await world(t);
  if (!w) return;
  const lease = 5_000;
  let release!: () => void;
  const blocked = new Promise<void>((resolve) => {
    release = resolve;
  });
  let holder: Replica | undefined;
  const replicas = ['r1', 'r2'].map((name) =>
    w.replica(name, {
      lease,
      handler: async (text, r) => {
        if (text === 'long' && holder === undefined) {
          holder = r;
          await blocked;
          throw new Error('stopped'); // (not counted as handled)
        }
      },
    }),
  );
  defer(t, () => release());
  await Promise.all(replicas.map((r) => r.bot.start()));
  w.emulator.postMessage({ from: w.alice, toPerson: w.me, text: 'long' });
  await w.until(() => holder !== undefined, 'a replica to hold it');
  const other = replicas.find((r) => r !== holder)!;
  const stoppedAt = Date.now();
  await holder!.bot.stop({ timeout: 200 });
  await w.until(() => other.handled.includes('long'), 'the other replica to take it', lease);
  assert.ok(Date.now() - stoppedAt < lease, 'given back, not waited out');
  release();
});

test('Redis unreachable: replicas ack and keep what arrives, handle nothing, then handle every message once when it is back', async (t) => {
  // A Redis that keeps its data (append-only file), as one for replicas should: see docs/scaling.md.
  const w = await world(t, { persist: true });
  if (!w) return;
  // A lease longer than the outage: the done mark of 'before', if Redis went away first, still lands in time
  // (an outage longer than the lease while a done mark is pending is the at-least-once window: docs/scaling.md).
  const replicas = ['r1', 'r2'].map((name) => w.replica(name, { lease: 10_000 }));
  await Promise.all(replicas.map((r) => r.bot.start()));
  w.emulator.postMessage({ from: w.alice, toPerson: w.me, text: 'before' });
  await w.until(() => all(replicas).length === 1, 'the first message');
  await w.redis.kill();
  const texts = Array.from({ length: 10 }, (_, i) => `while down ${i}`);
  const ids = texts.map((text) => uuidOf(w.emulator.postMessage({ from: w.alice, toPerson: w.me, text }).id));
  const acked = (id: string) => {
    const deliveries = w.emulator.deliveries.filter((d) => d.activityId === id);
    return deliveries.length >= 2 && deliveries.every((d) => w.emulator.acks.some((a) => a.messageId === d.envelopeId));
  };
  await w.until(() => ids.every(acked), 'every activity acked by both replicas');
  await w.until(() => replicas.every((r) => r.warnings.some((x) => x.code === 'COORDINATION_ERROR')), 'a warning on each replica');
  assert.deepEqual(all(replicas), ['before'], 'nothing handled without Redis');
  await w.redis.start();
  await w.until(() => all(replicas).length === texts.length + 1, 'every message once Redis is back').catch((error: Error) => {
    throw new Error(`${error.message}; handled: ${replicas.map((r) => `${r.name} [${r.handled.join(', ')}] warnings [${r.warnings.map((x) => x.message).join(' | ')}] errors [${r.errors.map((x) => x.message).join(' | ')}]`).join('; ')}`);
  });
  assert.deepEqual(all(replicas).filter((x) => x !== 'before').sort(), [...texts].sort(), replicas.map((r) => `${r.name}: ${r.handled.join(', ')}`).join('; '));
  for (const r of replicas) assert.equal(r.warnings.filter((x) => x.code === 'COORDINATION_ERROR').length, 1, `${r.name}: one warning for the outage`);
});

test('a 429 met by one replica pauses the REST calls of the others for its Retry-After', async (t) => {
  const w = await world(t);
  if (!w) return;
  const [a, b] = ['r1', 'r2'].map((name) => w.replica(name));
  await Promise.all([a!.bot.start(), b!.bot.start()]);
  const room = w.emulator.createRoom({ title: 'Pause', members: [w.alice, w.me] });
  w.emulator.failNext('POST /v1/messages', { status: 429, retryAfter: 2 });
  const first = a!.bot.say(room.id, 'first');
  await w.until(() => w.emulator.faultHits.some((h) => h.status === 429), 'the 429');
  const limitedAt = w.emulator.faultHits.find((h) => h.status === 429)!.at;
  // b learns of the pause through Redis; then its call waits for it.
  await w.until(() => b!.bot.health().heldUntil !== null, 'the pause to reach the other replica');
  const second = b!.bot.say(room.id, 'second');
  await Promise.all([first, second]);
  const posts = w.emulator.requests.filter((r) => r.method === 'POST' && r.path === '/v1/messages' && r.status === 200);
  assert.equal(posts.length, 2);
  for (const post of posts) assert.ok(post.startedAt >= limitedAt + 1_900, `a post ${post.startedAt - limitedAt} ms after the 429`);
});

test('one leader at a time among the replicas; when it stops or dies, another one leads', async (t) => {
  const w = await world(t);
  if (!w) return;
  const replicas = ['r1', 'r2', 'r3'].map((name) => w.replica(name, { leaderLease: 600 }));
  await Promise.all(replicas.map((r) => r.bot.start()));
  const leaders = () => replicas.filter((r) => r.bot.isLeader);
  await w.until(() => leaders().length === 1, 'a leader');
  const first = leaders()[0]!;
  assert.equal(first.bot.health().isLeader, true);
  assert.equal(first.bot.health().replica, first.name);
  const stoppedAt = Date.now();
  await first.bot.stop();
  assert.deepEqual(first.leaderEvents, [true, false]);
  await w.until(() => leaders().length === 1, 'another leader');
  assert.ok(Date.now() - stoppedAt < 600, 'at once: the leadership was given back');
  const second = leaders()[0]!;
  assert.notEqual(second, first);
  for (const r of replicas) assert.ok(r.leaderEvents.filter((x) => x).length <= 1, `${r.name} led once at most`);
});

test('redisStorage: values shared by replicas, and update() atomic across them', async (t) => {
  const redis = await startRedis(t);
  if (!redis) return;
  const adapters = [redisStorage({ url: redis.url, prefix: 'test' }), redisStorage({ url: redis.url, prefix: 'test' })];
  defer(t, () => Promise.all(adapters.map((a) => a.close())));
  const [one, two] = adapters.map((adapter) => createStorage(adapter));
  await one!.room('room-1').set('topic', { title: 'stand-up' });
  assert.deepEqual(await two!.room('room-1').get('topic'), { title: 'stand-up' });
  await Promise.all(
    Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? one! : two!).update<number>('count', async (n) => {
      await new Promise((resolve) => setImmediate(resolve));
      return (n ?? 0) + 1;
    })),
  );
  assert.equal(await one!.get('count'), 40);
  await two!.room('room-1').delete('topic');
  assert.equal(await one!.room('room-1').get('topic'), undefined);
});

test('without coordination a bot is the leader from start() to stop()', async (t) => {
  const emulator = await startEmulator(t);
  const person = emulator.createBot({ displayName: 'Alone' });
  const bot = new SparkBot({ token: person.token, ...emulator.botOptions(), lastConn: false });
  const events: boolean[] = [];
  bot.on('leader', ({ isLeader }) => events.push(isLeader));
  assert.equal(bot.isLeader, false);
  await bot.start();
  assert.equal(bot.isLeader, true);
  assert.equal(bot.health().replica, null);
  await bot.stop();
  assert.equal(bot.isLeader, false);
  assert.deepEqual(events, [true, false]);
});

test('options: clear errors for bad coordination options; the Redis password never shows', () => {
  const bad: Array<[string, () => unknown, RegExp]> = [
    ['neither', () => redisCoordination({}), /either url .* or client/],
    ['both', () => redisCoordination({ url: 'redis://x', client: {} as RedisClientLike }), /not both/],
    ['url', () => redisCoordination({ url: 'http://x' }), /redis:\/\//],
    ['replica', () => redisCoordination({ url: 'redis://x', replica: 'a b' }), /replica/],
    ['lease', () => redisCoordination({ url: 'redis://x', lease: 10 }), /lease .* at least 100/],
    ['maxWaiting', () => redisCoordination({ url: 'redis://x', maxWaiting: 0 }), /maxWaiting/],
    ['storage', () => redisStorage({ client: { get: 1 } as unknown as RedisClientLike }), /node-redis client/],
    ['coordination', () => new SparkBot({ token: 'x'.repeat(64), coordination: {} as never }), /coordination must be/],
  ];
  for (const [name, make, message] of bad) {
    assert.throws(make, (error: SparkBotError) => error.code === 'INVALID_OPTION' && message.test(error.message), name);
  }
  // A URL that does not parse is refused without itself (its password) in the error or a cause.
  for (const url of ['redis://user:sekret-password@127.0.0.1:99999', 'redis://:sekret-password@[bad']) {
    assert.throws(
      () => redisCoordination({ url }),
      (error: SparkBotError) => error.code === 'INVALID_OPTION' && !inspect(error, { depth: 10 }).includes('sekret') && error.cause === undefined,
    );
    assert.throws(() => redisStorage({ url }), (error: SparkBotError) => error.code === 'INVALID_OPTION' && !inspect(error, { depth: 10 }).includes('sekret'));
  }
  const coordination = redisCoordination({ url: 'redis://:sekret-password@127.0.0.1:6399', replica: 'r1' });
  assert.doesNotMatch(inspect(coordination, { depth: 5 }), /sekret/);
  assert.doesNotMatch(JSON.stringify(coordination), /sekret/);
});

test("ctx.ask on a replica: the answer reaches the replica that asked, never another one's routes", async (t) => {
  const w = await world(t);
  if (!w) return;
  const answers: Array<[replica: string, text: string]> = [];
  const strays: string[] = [];
  // Each replica's Redis client can be made slow: the asker's claims then come last, as from a replica far from Redis.
  const slow = new Set<string>();
  const clients: Array<{ close(): Promise<unknown>; connect(): Promise<unknown> }> = [];
  const replicas = ['r1', 'r2', 'r3'].map((name) => {
    const { real, client } = slowable(w.redis.url, () => slow.has(name));
    clients.push(real);
    const r = w.replica(name, { url: undefined, client });
    r.bot.command('quiz', async (ctx) => {
      slow.add(name);
      const answer = await ctx.ask('Your favourite colour?', { timeout: 10_000 });
      slow.delete(name);
      answers.push([name, answer.text ?? '']);
      await ctx.reply(`${name} heard ${answer.text ?? ''}`);
    });
    r.bot.otherwise((ctx) => {
      strays.push(`${name}: ${ctx.text}`);
    });
    return r;
  });
  for (const client of clients) await client.connect();
  defer(t, () => Promise.all(clients.map((c) => c.close().catch(() => undefined))));
  await Promise.all(replicas.map((r) => r.bot.start()));
  const alice = w.emulator.createUser({ displayName: 'Quiz Taker' }) as EmulatedPerson & { says(where: EmulatedPerson, text: string): Promise<{ text?: string }> };
  for (let round = 0; round < 3; round += 1) {
    const question = await alice.says(w.me, '/quiz');
    assert.equal(question.text, 'Your favourite colour?');
    const reply = await alice.says(w.me, `colour ${round}`);
    assert.deepEqual(strays, [], 'no answer went to another replica as a new message');
    assert.match(reply.text ?? '', new RegExp(`^r\\d heard colour ${round}$`));
  }
  assert.equal(answers.length, 3);
});

test('replicas started while Redis is down connect, wait, and subscribe and handle everything once it comes up', async (t) => {
  const w = await world(t, { persist: true });
  if (!w) return;
  await w.redis.kill();
  const replicas = ['r1', 'r2'].map((name) => w.replica(name));
  await Promise.all(replicas.map((r) => r.bot.start()));
  const texts = ['one', 'two', 'three'];
  for (const text of texts) w.emulator.postMessage({ from: w.alice, toPerson: w.me, text });
  await w.until(() => replicas.every((r) => r.warnings.some((x) => x.code === 'COORDINATION_ERROR')), 'the warnings');
  assert.deepEqual(all(replicas), []);
  await w.redis.start();
  await w.until(() => all(replicas).length === texts.length, 'every message once Redis is up');
  assert.deepEqual([...all(replicas)].sort(), [...texts].sort());
  const client = createClient({ url: w.redis.url });
  await client.connect();
  defer(t, () => client.close());
  const channel = (await client.pubSubChannels()).find((c) => c.endsWith(':events'));
  assert.ok(channel !== undefined, 'the replicas subscribed once Redis was up');
  const subscribers = await client.pubSubNumSub(channel);
  assert.equal(Object.values(subscribers as Record<string, number>)[0], 2);
});

test('a replica that stops with an activity of another replica still queued reports nothing lost: the other one has it', async (t) => {
  const w = await world(t);
  if (!w) return;
  let release!: () => void;
  const blocked = new Promise<void>((resolve) => {
    release = resolve;
  });
  defer(t, () => release());
  const slow = new Set<string>();
  const clients: Array<{ close(): Promise<unknown>; connect(): Promise<unknown> }> = [];
  let holder: Replica | undefined;
  const replicas = ['r1', 'r2'].map((name) => {
    const { real, client } = slowable(w.redis.url, () => slow.has(name));
    clients.push(real);
    return w.replica(name, {
      url: undefined,
      client,
      lease: 5_000,
      handler: async (text, r) => {
        if (text === 'first' && holder === undefined) {
          holder = r;
          slow.add(name); // its next claims come late: the other replica takes 'second'
          await blocked;
        }
      },
    });
  });
  for (const client of clients) await client.connect();
  defer(t, () => Promise.all(clients.map((c) => c.close().catch(() => undefined))));
  await Promise.all(replicas.map((r) => r.bot.start()));
  w.emulator.postMessage({ from: w.alice, toPerson: w.me, text: 'first' });
  await w.until(() => holder !== undefined, 'a replica to hold the first message');
  // The second message of the room: the other replica claims it; on the holder it queues behind the first.
  const second = uuidOf(w.emulator.postMessage({ from: w.alice, toPerson: w.me, text: 'second' }).id);
  const other = replicas.find((r) => r !== holder)!;
  const reader = createClient({ url: w.redis.url });
  await reader.connect();
  defer(t, () => reader.close());
  let claimedBy: string | null = null;
  const claimKey = `sparkbot:{${w.me.uuid}}:a:${second}`;
  await w.until(() => {
    void reader.get(claimKey).then((value) => (claimedBy = value));
    return claimedBy !== null;
  }, 'the second message claimed');
  assert.ok(claimedBy!.startsWith(`${other.name}#`), `claimed by the other replica: ${claimedBy}`);
  // The holder stops while its handler runs: the second message, queued behind it, is the other replica's.
  await holder!.bot.stop({ timeout: 100 });
  // The cut handler ends; its room's queue then reaches the second message, which is not this replica's.
  release();
  await w.until(() => holder!.handled.includes('first'), 'the cut handler to end');
  await w.until(() => other.handled.includes('second'), 'the other replica to handle the second message, once the first is taken over');
  const reports = holder!.errors.map((e) => `${e.code}: ${e.message}`);
  assert.ok(reports.some((r) => r.startsWith('HANDLER_ERROR')), `the cut handler is reported: ${reports.join(' | ')}`);
  assert.deepEqual(reports.filter((r) => r.startsWith('CANCELLED')), [], 'no CANCELLED report for what the other replica handles');
});
