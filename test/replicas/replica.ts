/**
 * One replica of the replica chaos run (engine.ts), in its own process:
 * `node --import tsx test/replicas/replica.ts`, forked with an IPC channel.
 *
 * A SparkBot on the parent's emulator with `redisCoordination()`; its message handler reports
 * `start`, works for 20–200 ms (a duration drawn from the message id, so a re-run works as long),
 * replies (the emulator records the reply), then reports `end`. It reports `open` once started,
 * every leader change, every error and warning (code and message, the token scrubbed), and its
 * state changes (for the trace). The parent's `{ type: 'stop' }` stops the bot gracefully, then the
 * process exits 0; if the parent goes away (its IPC channel closes), the process exits at once.
 *
 * Settings come from the environment (never from argv, which `ps` shows): REPLICA_TOKEN,
 * REPLICA_WDM_URL, REPLICA_API_URL, REPLICA_U2C_URL, REPLICA_REDIS_URL, REPLICA_NAME,
 * REPLICA_LEASE (ms), REPLICA_SEED; REPLICA_TRACE_CLAIMS=1 reports every claim (see `traced`).
 */
import { SparkBot } from '../../src/index.js';
import { redisCoordination } from '../../src/redis/index.js';
import type { Coordination } from '../../src/coordination.js';
import { prng } from '../chaos/schedule.js';
import type { ReplicaEvent, ParentCommand } from './protocol.js';

function setting(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    console.error(`replica: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const token = setting('REPLICA_TOKEN');
const replica = setting('REPLICA_NAME');
const lease = Number(setting('REPLICA_LEASE'));
const seed = Number(process.env.REPLICA_SEED ?? 0);
const redisUrl = setting('REPLICA_REDIS_URL');
// Nothing a child says may carry the token: not its own env (a child of its own would inherit it).
delete process.env.REPLICA_TOKEN;

/** The token never leaves this process: not in events, not on stderr. */
function scrub(text: string): string {
  return text.split(token).join('[token]');
}

function send(event: ReplicaEvent): void {
  if (!process.connected) return;
  try {
    process.send?.(event);
  } catch {
    // the parent is gone: 'disconnect' ends this process
  }
}

/** The handler's work, 20–200 ms, drawn from the message id (and the run's seed): a re-run works as long. */
function workFor(id: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return 20 + Math.floor(prng(h >>> 0)() * 181);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const bot = new SparkBot({
  token,
  wdmUrl: setting('REPLICA_WDM_URL'),
  apiUrl: setting('REPLICA_API_URL'),
  u2cUrl: setting('REPLICA_U2C_URL'),
  allowInsecure: true,
  lastConn: false,
  // The chaos engine's scale: a dropped socket costs milliseconds.
  pingEvery: 500,
  pingWait: 1_000,
  reconnectSleep: 10,
  reconnectSleepMax: 200,
  // Three processes starting at once on a busy machine: the first handshake may be slow.
  connectTimeout: 3_000,
  retryTimeout: 50,
  stableAfter: 300,
  closeTimeout: 300,
  requestTimeout: 5_000,
  stopTimeout: 5_000,
  coordination: traced(redisCoordination({ url: redisUrl, replica, lease })),
});

/**
 * With REPLICA_TRACE_CLAIMS=1, every claim the bot asks is reported ('claim': the activity id,
 * claimed or not, and how long it took to decide) — for a trace that explains a duplicate.
 */
function traced(coordination: Coordination): Coordination {
  if (process.env.REPLICA_TRACE_CLAIMS !== '1') return coordination;
  const claim: Coordination['claim'] = async (id, signal, ...rest) => {
    const asked = Date.now();
    const claimed = await coordination.claim(id, signal, ...rest);
    send({ event: 'claim', replica, activityId: id, claimed: claimed !== undefined, aborted: signal.aborted, waitedMs: Date.now() - asked, at: Date.now() });
    return claimed;
  };
  // Everything else as it is (bound: the coordination's private fields need their own `this`).
  return new Proxy(coordination, {
    get(target, property) {
      if (property === 'claim') return claim;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

bot.on('message', async (message) => {
  const seq = Number((message.text ?? '').trim());
  const work = workFor(message.id);
  send({ event: 'start', id: message.id, seq, replica, pid: process.pid, work, at: Date.now() });
  await sleep(work);
  let replied = true;
  try {
    await message.reply(`done #${seq} by ${replica}`);
  } catch (error) {
    replied = false;
    send({ event: 'error', replica, code: 'REPLY_FAILED', message: scrub(`reply to #${seq}: ${(error as Error).message}`), at: Date.now() });
  }
  send({ event: 'end', id: message.id, seq, replica, pid: process.pid, replied, at: Date.now() });
});

bot.on('leader', ({ isLeader }: { isLeader: boolean }) => {
  const at = Date.now();
  send({ event: 'leader', replica, pid: process.pid, isLeader, agrees: bot.isLeader === isLeader, at });
});
bot.on('error', (error) => send({ event: 'error', replica, code: error.code, message: scrub(error.message), at: Date.now() }));
bot.on('warning', (warning) => send({ event: 'warning', replica, code: warning.code, message: scrub(warning.message), at: Date.now() }));
bot.on('state', (state, previous) => send({ event: 'state', replica, state, previous, at: Date.now() }));

let stopping = false;

process.on('message', (command: ParentCommand) => {
  if (command?.type !== 'stop' || stopping) return;
  stopping = true;
  const asked = Date.now();
  bot.stop().then(
    () => finish({ event: 'stopped', replica, pid: process.pid, tookMs: Date.now() - asked, at: Date.now() }, 0),
    (error: unknown) => finish({ event: 'error', replica, code: 'STOP_FAILED', message: scrub(String((error as Error)?.message ?? error)), at: Date.now() }, 1),
  );
});

/** Sends the last word, then exits (once it is written: a send is asynchronous). */
function finish(event: ReplicaEvent, code: number): void {
  if (!process.connected) process.exit(code);
  process.send?.(event, () => process.exit(code));
}

// The parent went away (killed, crashed): this replica must not outlive it.
process.on('disconnect', () => process.exit(stopping ? 0 : 3));

process.on('uncaughtException', (error) => {
  const line = scrub(error.stack ?? String(error));
  console.error(line);
  finish({ event: 'error', replica, code: 'UNCAUGHT', message: line, at: Date.now() }, 4);
});
process.on('unhandledRejection', (reason) => {
  send({ event: 'error', replica, code: 'UNHANDLED_REJECTION', message: scrub(String((reason as Error)?.stack ?? reason)), at: Date.now() });
});

try {
  await bot.start();
  send({ event: 'open', replica, pid: process.pid, deviceId: bot.health().deviceId, isLeader: bot.isLeader, at: Date.now() });
} catch (error) {
  finish({ event: 'error', replica, code: 'START_FAILED', message: scrub(`${(error as { code?: string }).code ?? ''} ${(error as Error).message}`), at: Date.now() }, 5);
}
