/**
 * The replica chaos engine, shared by test/replicas/replicas.test.ts (a short run) and
 * scripts/soak-replicas.ts (a long one): one bot run as several replicas — each a child process
 * (replica.ts) with its own device and socket on the emulator (in this process), all coordinated
 * through a real redis-server — while users post continuously and a seeded schedule (schedule.ts)
 * kills replicas (SIGKILL, preferring the one running a handler), stops them gracefully, restarts
 * redis-server, kills it for a while, and drops replicas' sockets.
 *
 * Each replica reports over IPC when a handler starts and ends (the message's text is its number),
 * and its leader changes. From those, once the run is quiet again:
 *
 * - completed: messages whose handler reported 'end'; lost: sent, never completed;
 * - every run of a handler is classified (see `story`): the first; a failover (each run before it
 *   was cut before it started); after a kill right after an end — the first run ended on a replica
 *   SIGKILLed within DONE_MARK_WINDOW ms after it, between the handler's end and its done mark:
 *   the window any lease-based scheme has, counted apart as `endedAtKill`; or extra: a run while
 *   the message was done, or running, elsewhere. `ranTwice`: messages with an extra run (cut or
 *   not); `duplicated`: …that completed twice;
 * - interrupted: runs cut by a kill (or a stop) before their 'end'; each must be re-run exactly
 *   once, by another replica;
 * - failover: for each kill that interrupted a handler, from the kill to another replica's 'start'
 *   of that message (the lease, plus the claim machine's margin);
 * - leaders: any moment at which two replicas said they were the leader (a killed replica stops
 *   being one when it is killed, a stopped one at the latest when it exits);
 * - replies the emulator recorded, per message: one per completed message, two at most for a
 *   message interrupted after its reply;
 * - no handler may start, while redis-server is down, for a message posted after it went down.
 *
 * Timing: real processes, real timers. Waits are for what a step must cause (an IPC report, an
 * emulator record, an exit), each bounded so that a hang fails. The only fixed pauses are the
 * schedule's own (gaps between faults, how long Redis stays down, when a killed replica comes
 * back) and, at the end, a settle window of two leases in which a late duplicate would show: a
 * lease running out is the only thing that could start one.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Waiters } from '../../src/emulator/waiters.js';
import { WebexEmulator, type EmulatedMessage, type EmulatedPerson } from '../../src/emulator/index.js';
import { parseHydraId } from '../../src/index.js';
import { launchRedis, type RedisServer } from '../support/redis-server.js';
import { playChaos, Stuck } from '../chaos/engine.js';
import { Random } from '../chaos/schedule.js';
import type { ParentCommand, ReplicaEvent } from './protocol.js';
import { describeFault, REPLICA_FAULT_KINDS, replicaSchedule, type ReplicaFault, type ReplicaFaultKind } from './schedule.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const REPLICA_SCRIPT = join(HERE, 'replica.ts');

/** Upper bound of any single wait: a step that takes longer is stuck. */
const STUCK_AFTER = 30_000;
/** A replica process must start (tsx, bot.start()) within this. */
const OPEN_BOUND = 30_000;
/** A graceful stop must end within this (the bot's stopTimeout is 5 s). */
const STOP_BOUND = 15_000;
/** After the faults stop, every message must complete within this. */
export const QUIESCE_BOUND_MS = 60_000;
/** A duplicate whose first run ended this close before its replica was SIGKILLed is the at-least-once window, not a bug. */
export const DONE_MARK_WINDOW = 100;
/** Users posting: one message every 20–100 ms, in their direct rooms with the bot. */
const USERS = ['Alice', 'Bob', 'Carol', 'Dan', 'Erin'] as const;
const REPLY = /^done #(\d+) by (\S+)$/;

export interface ReplicaChaosOptions {
  readonly seed: number;
  /** Run this many faults (the test)… */
  readonly steps?: number;
  /** …or keep drawing faults until this many ms have passed (the soak). */
  readonly durationMs?: number;
  /** Replica processes. Default 3. */
  readonly replicas?: number;
  /** The claim lease (ms). Default 1000. */
  readonly lease?: number;
  /** A redis-server to use (a test's startRedis(t)); without it one is launched and stopped here. */
  readonly redis?: RedisServer;
  readonly progress?: (line: string) => void;
  /** Print every trace line as it happens. */
  readonly verbose?: boolean;
  /** Replicas report every claim decided, traced (for a duplicate's story). */
  readonly traceClaims?: boolean;
  /** Deal only these kinds of fault (default: every kind). */
  readonly kinds?: readonly ReplicaFaultKind[];
}

export interface KillRecord {
  readonly replica: string;
  readonly at: number;
  /** Messages whose handler ran on it when it died (started, no 'end' — after its last reports were read). */
  readonly interrupted: readonly number[];
  /** For each interrupted message: ms from the kill to another replica's 'start' (undefined: never re-run). */
  readonly failovers: ReadonlyArray<number | undefined>;
}

export interface ReplicaChaosReport {
  readonly seed: number;
  readonly steps: number;
  readonly replicas: number;
  readonly lease: number;
  readonly wallMs: number;
  readonly faults: Readonly<Record<ReplicaFaultKind, number>>;
  readonly sent: number;
  readonly completed: number;
  /** Messages completed more than once (not counting endedAtKill). */
  readonly duplicated: number;
  /** Messages whose handler ran when it should not have (done, or running elsewhere), completed or cut: includes `duplicated`. */
  readonly ranTwice: number;
  /** …of which the extra run started within two leases after redis-server came back empty. */
  readonly duplicatedAfterRedisRestart: number;
  /** Completed twice because the first run's replica was killed right after its end (before its done mark could be sure). */
  readonly endedAtKill: number;
  readonly lost: number;
  /** Handlers cut by a kill (or a stop) before their end (not counting extra runs). */
  readonly interrupted: number;
  /** Extra runs (see ranTwice) that a kill cut. */
  readonly interruptedExtra: number;
  /** …re-run exactly once by another replica. */
  readonly rerunOnce: number;
  readonly notRerun: number;
  readonly rerunMore: number;
  /** Kills that cut a running handler that was not an extra run (failover measured). */
  readonly killsWithHandler: number;
  readonly kills: readonly KillRecord[];
  readonly failoverMaxMs: number;
  readonly failoverMedianMs: number;
  /** Failovers longer than the lease + 50 ms. */
  readonly failoversOverLease50: number;
  readonly leaderChanges: number;
  /** Times two replicas said they led at once, and the longest such time. */
  readonly leaderOverlaps: number;
  readonly leaderOverlapMaxMs: number;
  readonly replies: number;
  /** Completed messages by how many replies the emulator recorded for them: 0, 1, 2, more. */
  readonly replyCounts: readonly [number, number, number, number];
  readonly redisRestarts: number;
  readonly redisDownMs: number;
  /** Handler starts, while Redis was down, of messages posted after it went down. */
  readonly handledWhileRedisDown: number;
  readonly processes: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly warnings: Readonly<Record<string, number>>;
  readonly violations: readonly string[];
  readonly trace: readonly string[];
}

interface Run {
  readonly inc: Incarnation;
  readonly at: number;
  readonly work?: number;
}

interface Sent {
  readonly seq: number;
  readonly id: string;
  readonly user: number;
  readonly postedAt: number;
  readonly starts: Run[];
  readonly ends: Run[];
  replies: number;
}

/** One process of a replica: `r2/3` is the third process named r2. */
interface Incarnation {
  readonly name: string;
  readonly label: string;
  readonly child: ChildProcess;
  readonly spawnedAt: number;
  openAt: number | undefined;
  deviceId: string | null;
  /** Handlers running: message number → its start. */
  readonly running: Map<number, Run>;
  isLeader: boolean;
  killedAt: number | undefined;
  stopAskedAt: number | undefined;
  stoppedReported: boolean;
  exitedAt: number | undefined;
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  /** Resolves once the process exited and its IPC channel closed (every report read). */
  readonly gone: Promise<void>;
}

interface StoryRun {
  readonly inc: Incarnation;
  readonly start: number;
  readonly end: number | undefined;
  readonly cutAt: number | undefined;
  readonly kind: 'first' | 'failover' | 'afterKillEnd' | 'extra';
}

interface Story {
  readonly sent: Sent;
  readonly runs: readonly StoryRun[];
}

interface LeaderMark {
  readonly label: string;
  readonly isLeader: boolean;
  readonly at: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function runReplicaChaos(options: ReplicaChaosOptions): Promise<ReplicaChaosReport> {
  return playChaos(new ReplicaRun(options));
}

class ReplicaRun {
  private readonly seed: number;
  private readonly replicas: number;
  private readonly lease: number;
  private readonly started = Date.now();
  private readonly waiters = new Waiters();
  private emulator!: WebexEmulator;
  private botPerson!: EmulatedPerson;
  private users: EmulatedPerson[] = [];
  private redis: RedisServer | undefined;
  private ownRedis = false;
  private token = '';

  /** Every process started, in order; `live` the current one of each name. */
  private readonly incarnations: Incarnation[] = [];
  private readonly live = new Map<string, Incarnation>();
  private readonly generation = new Map<string, number>();
  private readonly sent: Sent[] = [];
  /** Sent messages by the uuid of their activity (claims name activities). */
  private readonly byUuid = new Map<string, Sent>();
  private readonly kills: Array<{ inc: Incarnation; at: number; interrupted: number[] }> = [];
  /** Handlers a graceful stop left unfinished (a violation: stop waits for them). */
  private readonly cutByStop: Array<{ inc: Incarnation; seq: number }> = [];
  private readonly leaderMarks: LeaderMark[] = [];
  private readonly redisDown: Array<{ from: number; to: number }> = [];
  /** When redis-server came back (empty) after a restart or an outage. */
  private readonly redisUps: number[] = [];
  private readonly errors: Record<string, number> = {};
  private readonly warnings: Record<string, number> = {};
  private readonly violations: string[] = [];
  private readonly traceLines: string[] = [];
  private readonly faults = Object.fromEntries(REPLICA_FAULT_KINDS.map((k) => [k, 0])) as Record<ReplicaFaultKind, number>;
  private stepIndex = -1;
  private currentStep = 'set-up';
  private stopPosting = false;
  private tearingDown = false;
  private posting: Promise<void> | undefined;
  private redisRestarts = 0;
  private handledWhileDown = 0;
  private readonly killAll = () => {
    for (const inc of this.live.values()) inc.child.kill('SIGKILL');
  };

  constructor(private readonly options: ReplicaChaosOptions) {
    this.seed = options.seed;
    this.replicas = options.replicas ?? 3;
    this.lease = options.lease ?? 1_000;
  }

  // ---------------------------------------------------------------- set-up and tear-down

  async setUp(): Promise<void> {
    // Children never outlive this process: killed at its exit (and they exit when their IPC channel closes).
    process.on('exit', this.killAll);
    this.emulator = await WebexEmulator.start();
    this.emulator.on('change', () => this.poke());
    this.botPerson = this.emulator.createBot({ displayName: 'Replica Bot' });
    this.token = this.botPerson.token;
    this.users = USERS.map((displayName) => this.emulator.createUser({ displayName }));
    for (const user of this.users) this.emulator.directRoom(user, this.botPerson);
    this.emulator.on('message', (message: EmulatedMessage) => {
      if (message.personUuid !== this.botPerson.uuid) return;
      const match = REPLY.exec(message.text ?? '');
      const sent = match ? this.sent[Number(match[1]) - 1] : undefined;
      if (sent) sent.replies += 1;
      else this.violation(`the bot posted a message that answers no user message: ${JSON.stringify(message.text)}`);
    });
    if (this.options.redis) this.redis = this.options.redis;
    else {
      // A Redis that keeps its data across restarts (append-only file, synced on every write), as one
      // for replicas should be (docs/scaling.md): restarts and kills of it lose no claim, no done mark.
      this.redis = await launchRedis({ persist: true });
      this.ownRedis = true;
    }
    this.trace(`redis-server on port ${this.redis.port}; emulator on ${this.emulator.url}`);
    const names = Array.from({ length: this.replicas }, (_, i) => `r${i + 1}`);
    await Promise.all(names.map((name) => this.startReplica(name)));
  }

  async tearDown(): Promise<void> {
    this.tearingDown = true;
    this.stopPosting = true;
    await this.posting?.catch(() => undefined);
    for (const inc of this.live.values()) {
      if (inc.exitedAt === undefined) {
        inc.child.kill('SIGKILL');
        await inc.gone;
      }
    }
    process.off('exit', this.killAll);
    await this.emulator?.close();
    if (this.ownRedis) await this.redis?.stop();
  }

  // ---------------------------------------------------------------- replica processes

  private spawn(name: string): Incarnation {
    const n = (this.generation.get(name) ?? 0) + 1;
    this.generation.set(name, n);
    const label = `${name}/${n}`;
    const options = this.emulator.botOptions();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      REPLICA_TOKEN: this.token,
      REPLICA_WDM_URL: options.wdmUrl,
      REPLICA_API_URL: options.apiUrl,
      REPLICA_U2C_URL: options.u2cUrl,
      REPLICA_REDIS_URL: (this.redis as RedisServer).url,
      REPLICA_NAME: name,
      REPLICA_LEASE: String(this.lease),
      REPLICA_SEED: String(this.seed),
      REPLICA_TRACE_CLAIMS: this.options.traceClaims ? '1' : '0',
    };
    // A child of `node --test` must not think it reports to the test runner.
    delete env.NODE_TEST_CONTEXT;
    const child = fork(REPLICA_SCRIPT, [], { cwd: ROOT, env, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' });
    let exited = false;
    let disconnected = false;
    let markGone: () => void = () => undefined;
    const gone = new Promise<void>((resolve) => (markGone = resolve));
    const inc: Incarnation = {
      name,
      label,
      child,
      spawnedAt: Date.now(),
      openAt: undefined,
      deviceId: null,
      running: new Map(),
      isLeader: false,
      killedAt: undefined,
      stopAskedAt: undefined,
      stoppedReported: false,
      exitedAt: undefined,
      exitCode: null,
      exitSignal: null,
      gone,
    };
    const check = () => {
      if (exited && disconnected) {
        markGone();
        this.poke();
      }
    };
    child.on('message', (event: ReplicaEvent) => this.onEvent(inc, event));
    child.on('disconnect', () => {
      disconnected = true;
      check();
    });
    child.on('exit', (code, signal) => {
      exited = true;
      inc.exitedAt = Date.now();
      inc.exitCode = code;
      inc.exitSignal = signal;
      this.trace(`${label} exited (${signal ?? `code ${code}`})`);
      if (inc.killedAt === undefined && inc.stopAskedAt === undefined && !this.tearingDown) {
        this.violation(`${label} exited on its own (${signal ?? `code ${code}`})`);
      }
      // A channel that never opened never closes.
      if (!child.connected) disconnected = true;
      check();
    });
    child.on('error', (error) => this.trace(`${label}: process error ${error.message}`));
    const lines = (stream: NodeJS.ReadableStream | null, what: string) => {
      let partial = '';
      stream?.on('data', (chunk: Buffer) => {
        const parts = (partial + chunk.toString()).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) if (line.trim() !== '') this.trace(`${label} ${what}: ${this.scrub(line)}`);
      });
    };
    lines(child.stdout, 'out');
    lines(child.stderr, 'err');
    this.incarnations.push(inc);
    this.live.set(name, inc);
    this.trace(`${label} spawned (pid ${child.pid ?? '?'})`);
    return inc;
  }

  /** Starts a process for replica `name` and waits for its 'open'. */
  private async startReplica(name: string): Promise<Incarnation> {
    const inc = this.spawn(name);
    await this.until(() => inc.openAt !== undefined || inc.exitedAt !== undefined, `${inc.label} open`, OPEN_BOUND);
    if (inc.openAt === undefined) throw new Stuck(`${inc.label} exited before it was open (${inc.exitSignal ?? `code ${inc.exitCode}`})`);
    return inc;
  }

  private onEvent(inc: Incarnation, event: ReplicaEvent): void {
    switch (event.event) {
      case 'start': {
        const sent = this.sent[event.seq - 1];
        if (!sent || sent.id !== event.id) {
          this.violation(`${inc.label} started a handler for a message no user posted: #${event.seq} ${event.id}`);
          break;
        }
        const run: Run = { inc, at: event.at, work: event.work };
        if (sent.starts.length > 0 || sent.ends.length > 0) {
          const before = sent.starts.map((s) => `${s.inc.label}${s.inc.killedAt !== undefined ? ' (killed)' : ''}`).join(', ');
          this.trace(`#${sent.seq} started again on ${inc.label} (before: ${before}; ${sent.ends.length} end(s))`);
        }
        sent.starts.push(run);
        inc.running.set(sent.seq, run);
        for (const window of this.redisDown) {
          if (sent.postedAt > window.from && event.at > window.from && event.at < window.to) {
            this.handledWhileDown += 1;
            this.violation(`${inc.label} started #${sent.seq} while redis-server was down (posted ${sent.postedAt - window.from} ms after it went down)`);
          }
        }
        if (this.currentRedisDownSince !== undefined && sent.postedAt > this.currentRedisDownSince) {
          this.handledWhileDown += 1;
          this.violation(`${inc.label} started #${sent.seq} while redis-server was down (posted ${sent.postedAt - this.currentRedisDownSince} ms after it went down)`);
        }
        break;
      }
      case 'end': {
        const sent = this.sent[event.seq - 1];
        if (!sent || sent.id !== event.id) break;
        sent.ends.push({ inc, at: event.at });
        inc.running.delete(sent.seq);
        if (sent.ends.length > 1) this.trace(`#${sent.seq} completed again, on ${inc.label} (${sent.ends.length} times)`);
        break;
      }
      case 'open':
        inc.openAt = event.at;
        inc.deviceId = event.deviceId;
        this.trace(`${inc.label} open (device ${event.deviceId?.slice(0, 8) ?? '?'}${event.isLeader ? ', leader' : ''}) ${event.at - inc.spawnedAt} ms after its spawn`);
        break;
      case 'leader':
        inc.isLeader = event.isLeader;
        this.leaderMarks.push({ label: inc.label, isLeader: event.isLeader, at: event.at });
        this.trace(`${inc.label} ${event.isLeader ? 'is the leader' : 'is no longer the leader'}`);
        if (!event.agrees) this.violation(`${inc.label}: 'leader' said isLeader ${event.isLeader} while bot.isLeader said ${!event.isLeader}`);
        break;
      case 'error':
      case 'warning': {
        const counts = event.event === 'error' ? this.errors : this.warnings;
        counts[event.code] = (counts[event.code] ?? 0) + 1;
        this.trace(`${inc.label} ${event.event} ${event.code}: ${this.nameActivities(this.scrub(event.message))}`);
        if (['UNCAUGHT', 'UNHANDLED_REJECTION', 'START_FAILED', 'STOP_FAILED'].includes(event.code)) this.violation(`${inc.label} ${event.code}: ${this.scrub(event.message).split('\n')[0]}`);
        break;
      }
      case 'state':
        // Pings (open ⇄ awaitingPong) are noise; the rest tells how a replica reconnected.
        if (!(['open', 'awaitingPong'].includes(event.state) && ['open', 'awaitingPong'].includes(event.previous))) this.trace(`${inc.label} ${event.previous} → ${event.state}`);
        break;
      case 'claim': {
        const sent = this.byUuid.get(event.activityId);
        const what = sent ? `#${sent.seq}` : `activity ${event.activityId.slice(0, 8)}`;
        this.trace(`${inc.label} claim of ${what}: ${event.claimed ? 'claimed' : event.aborted ? 'given back (stopping)' : 'not this replica'} after ${event.waitedMs} ms`);
        break;
      }
      case 'stopped':
        inc.stoppedReported = true;
        this.trace(`${inc.label} stopped in ${event.tookMs} ms`);
        break;
    }
    this.poke();
  }

  private currentRedisDownSince: number | undefined;

  /** Kills the process of a replica (SIGKILL), reads its last reports, notes what it left running. */
  private async kill(inc: Incarnation): Promise<{ at: number; interrupted: number[] }> {
    const at = Date.now();
    inc.killedAt = at;
    if (inc.isLeader) this.leaderMarks.push({ label: inc.label, isLeader: false, at });
    inc.child.kill('SIGKILL');
    await this.bounded(inc.gone, STUCK_AFTER, `${inc.label} gone after SIGKILL`);
    const interrupted = [...inc.running.keys()];
    inc.running.clear();
    const record = { inc, at, interrupted };
    this.kills.push(record);
    this.trace(`${inc.label} killed${interrupted.length ? ` while running #${interrupted.join(', #')}` : ' (no handler running)'}`);
    return record;
  }

  /** Asks a replica to stop (bot.stop()), waits for its exit. */
  private async stop(inc: Incarnation): Promise<void> {
    inc.stopAskedAt = Date.now();
    const command: ParentCommand = { type: 'stop' };
    if (inc.child.connected) inc.child.send(command);
    try {
      await this.bounded(inc.gone, STOP_BOUND, `${inc.label} exit after stop`);
    } catch (error) {
      this.violation(`${inc.label} did not stop within ${STOP_BOUND} ms: killed`);
      inc.killedAt = Date.now();
      inc.child.kill('SIGKILL');
      await inc.gone;
      throw error;
    }
    if (inc.exitCode !== 0) this.violation(`${inc.label} exited with ${inc.exitSignal ?? `code ${inc.exitCode}`} after a graceful stop`);
    if (!inc.stoppedReported) this.violation(`${inc.label} exited without reporting its stop`);
    if (inc.isLeader) this.leaderMarks.push({ label: inc.label, isLeader: false, at: inc.exitedAt ?? Date.now() });
    for (const [seq] of inc.running) {
      this.cutByStop.push({ inc, seq });
      this.violation(`a graceful stop of ${inc.label} left the handler of #${seq} unfinished`);
    }
    inc.running.clear();
  }

  // ---------------------------------------------------------------- users

  private async postLoop(): Promise<void> {
    const random = new Random((this.seed ^ 0x5bd1e995) >>> 0);
    while (!this.stopPosting) {
      this.post(random.int(0, this.users.length - 1));
      await sleep(random.int(20, 100));
    }
  }

  private post(user: number): void {
    const seq = this.sent.length + 1;
    const json = this.emulator.postMessage({ from: this.users[user] as EmulatedPerson, toPerson: this.botPerson, text: String(seq) });
    const sent: Sent = { seq, id: String(json.id), user, postedAt: Date.now(), starts: [], ends: [], replies: 0 };
    this.sent.push(sent);
    const uuid = parseHydraId(sent.id)?.uuid;
    if (uuid !== undefined) this.byUuid.set(uuid, sent);
  }

  // ---------------------------------------------------------------- waiting, tracing

  private poke(): void {
    this.waiters.poke();
  }

  private until(predicate: () => boolean, what: string, timeout = STUCK_AFTER): Promise<void> {
    return this.waiters.until(predicate, timeout, () => new Stuck(`${what} did not happen within ${timeout} ms`));
  }

  private bounded(promise: Promise<void>, timeout: number, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      promise,
      new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Stuck(`${what} did not happen within ${timeout} ms`)), timeout);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Activity ids of user messages in a text, named by their number (`[#12]`). */
  private nameActivities(text: string): string {
    return text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, (uuid) => {
      const sent = this.byUuid.get(uuid.toLowerCase());
      return sent ? `${uuid.slice(0, 8)} [#${sent.seq}]` : uuid;
    });
  }

  private scrub(text: string): string {
    return this.token ? text.split(this.token).join('[token]') : text;
  }

  private trace(line: string): void {
    const stamped = `${String(Date.now() - this.started).padStart(7)} ms  ${line}`;
    this.traceLines.push(stamped);
    if (this.traceLines.length > 600) this.traceLines.splice(0, this.traceLines.length - 400);
    if (this.options.verbose) console.log(stamped);
  }

  violation(message: string): void {
    const line = `step ${this.stepIndex} (${this.currentStep}): ${message}`;
    this.violations.push(line);
    this.trace(`VIOLATION ${line}`);
  }

  // ---------------------------------------------------------------- the schedule

  async play(): Promise<void> {
    const steps = replicaSchedule(this.seed, { replicas: this.replicas, lease: this.lease, ...(this.options.kinds ? { kinds: this.options.kinds } : {}) });
    const deadline = this.options.durationMs === undefined ? undefined : this.started + this.options.durationMs;
    this.posting = this.postLoop();
    let lastProgress = Date.now();
    for (;;) {
      if (this.options.steps !== undefined && this.stepIndex + 1 >= this.options.steps) break;
      if (deadline !== undefined && Date.now() >= deadline) break;
      if (this.options.steps === undefined && deadline === undefined) break;
      const step = steps.next().value;
      this.stepIndex += 1;
      this.currentStep = describeFault(step.fault);
      await sleep(step.gap);
      this.trace(`— step ${this.stepIndex}: ${this.currentStep}`);
      this.faults[step.fault.kind] += 1;
      await this.inject(step.fault);
      if (this.options.progress && Date.now() - lastProgress >= 30_000) {
        lastProgress = Date.now();
        const completed = this.sent.filter((s) => s.ends.length > 0).length;
        const twice = this.stories().filter((st) => st.runs.some((r) => r.kind === 'extra')).length;
        this.options.progress(
          `${Math.round((Date.now() - this.started) / 1000)} s: step ${this.stepIndex}, ${this.sent.length} sent, ${completed} completed, ${twice} run twice, ${this.violations.length} other violations so far`,
        );
      }
    }
  }

  private liveReplicas(): Incarnation[] {
    return [...this.live.values()];
  }

  private async inject(fault: ReplicaFault): Promise<void> {
    switch (fault.kind) {
      case 'killReplica': {
        // The victim: a replica whose handler has at least 40 ms of work left (so that the kill cuts it).
        const busy = () =>
          this.liveReplicas().find((inc) => inc.exitedAt === undefined && [...inc.running.values()].some((r) => r.at + (r.work ?? 0) - Date.now() > 40));
        let victim: Incarnation | undefined;
        await this.until(() => (victim = busy()) !== undefined, 'a replica running a handler', 5_000).catch(() => undefined);
        const chosen = victim ?? (this.liveReplicas()[fault.fallback % this.replicas] as Incarnation);
        const { at, interrupted } = await this.kill(chosen);
        const comeBack = (async () => {
          await sleep(fault.restartAfter);
          await this.startReplica(chosen.name);
        })();
        // Failover: another replica starts each interrupted message (the lease, plus a margin).
        // (Or it turns out that another replica had completed it: the cut run was an extra one.)
        const rerun = (seq: number) => {
          const sent = this.sent[seq - 1] as Sent;
          return sent.starts.some((s) => s.inc !== chosen && s.at >= at) || sent.ends.some((e) => e.inc !== chosen);
        };
        await this.until(() => interrupted.every(rerun), `the re-run of #${interrupted.join(', #')} after ${chosen.label} was killed`, 3 * this.lease + 10_000).catch((error: unknown) =>
          this.violation((error as Error).message),
        );
        await comeBack;
        return;
      }
      case 'stopReplica': {
        const inc = this.liveReplicas()[fault.replica % this.replicas] as Incarnation;
        await this.stop(inc);
        await sleep(fault.restartAfter);
        await this.startReplica(inc.name);
        return;
      }
      case 'restartRedis': {
        const redis = this.redis as RedisServer;
        await redis.restart();
        this.redisUps.push(Date.now());
        this.redisRestarts += 1;
        this.trace(`redis-server restarted (empty)`);
        return;
      }
      case 'redisOutage': {
        const redis = this.redis as RedisServer;
        await redis.kill();
        const from = Date.now();
        this.currentRedisDownSince = from;
        this.trace(`redis-server killed; down for ${fault.downFor} ms`);
        await sleep(fault.downFor);
        await redis.start();
        const to = Date.now();
        this.currentRedisDownSince = undefined;
        this.redisDown.push({ from, to });
        this.redisUps.push(to);
        this.redisRestarts += 1;
        this.trace(`redis-server up again after ${to - from} ms (empty)`);
        return;
      }
      case 'dropSocket': {
        const inc = this.liveReplicas()[fault.replica % this.replicas] as Incarnation;
        const device = inc.deviceId;
        const record = this.emulator.openConnections().find((c) => c.deviceUuid === device && c.readyAt !== undefined);
        if (!device || !record) {
          this.violation(`${inc.label} has no ready socket on the emulator (device ${device ?? 'unknown'})`);
          return;
        }
        if (fault.how === 'terminate') this.emulator.dropConnections({ terminate: true, deviceUuid: device });
        else this.emulator.dropConnections({ code: fault.how, reason: 'chaos', deviceUuid: device });
        await this.until(() => this.emulator.connections.some((c) => c.deviceUuid === device && c.id > record.id && c.readyAt !== undefined), `${inc.label} connected again after its socket was dropped`);
        this.trace(`${inc.label} connected again`);
        return;
      }
    }
  }

  // ---------------------------------------------------------------- the end

  async finish(): Promise<void> {
    this.currentStep = 'the faults stop';
    this.trace('— faults stop, users stop posting');
    this.stopPosting = true;
    await this.posting;
    await (this.redis as RedisServer).start();
    this.currentStep = 'quiescence';
    const quiet = () => this.sent.every((s) => s.ends.length > 0) && this.liveReplicas().every((inc) => inc.running.size === 0);
    await this.until(quiet, 'every message completed', QUIESCE_BOUND_MS).catch((error: unknown) => this.violation((error as Error).message));
    // A late duplicate could only come from a lease running out: two leases, and it would have shown.
    const settledAt = Date.now();
    await sleep(2 * this.lease + 250);
    this.trace(`settled for ${Date.now() - settledAt} ms; stopping the replicas`);
    this.currentStep = 'stopping the replicas';
    for (const inc of this.liveReplicas()) if (inc.exitedAt === undefined) await this.stop(inc).catch((error: unknown) => this.violation((error as Error).message));
    this.currentStep = 'the count';
    this.check();
  }

  /** When the run of `seq` on `inc` was cut: its kill, or the stop that left it unfinished. */
  private cutAt(inc: Incarnation, seq: number): number | undefined {
    const kill = this.kills.find((k) => k.inc === inc && k.interrupted.includes(seq));
    if (kill) return kill.at;
    if (this.cutByStop.some((c) => c.inc === inc && c.seq === seq)) return inc.stopAskedAt;
    return undefined;
  }

  /**
   * Every run of a message's handler, in order, each classified: the first; a failover (every run
   * before it was cut, before it started); after a kill right after an end (the done-mark window);
   * or extra — a run that should not have happened (the message was done, or running elsewhere).
   */
  private story(sent: Sent): Story {
    const runs: StoryRun[] = [];
    for (const start of [...sent.starts].sort((a, b) => a.at - b.at)) {
      const end = sent.ends.find((e) => e.inc === start.inc)?.at;
      const cut = end === undefined ? this.cutAt(start.inc, sent.seq) : undefined;
      const earlier = runs;
      const cutBefore = (r: StoryRun) => r.cutAt !== undefined && r.cutAt <= start.at;
      const killedAfterEnd = (r: StoryRun) => {
        const killed = r.inc.killedAt;
        return r.end !== undefined && killed !== undefined && killed - r.end >= 0 && killed - r.end <= DONE_MARK_WINDOW && killed <= start.at;
      };
      const kind: StoryRun['kind'] =
        earlier.length === 0 ? 'first' : earlier.every(cutBefore) ? 'failover' : earlier.every((r) => cutBefore(r) || killedAfterEnd(r)) ? 'afterKillEnd' : 'extra';
      runs.push({ inc: start.inc, start: start.at, end, cutAt: cut, kind });
    }
    return { sent, runs };
  }

  private stories(): Story[] {
    return this.sent.map((s) => this.story(s));
  }

  /** A duplicate of a message posted before redis-server came back empty, whose extra run started within two leases after that. */
  private afterRedisRestart(story: Story): boolean {
    const extra = story.runs.find((r) => r.kind === 'extra');
    if (!extra) return false;
    return this.redisUps.some((up) => story.sent.postedAt < up && extra.start >= up - 50 && extra.start <= up + 2 * this.lease);
  }

  /**
   * Cut runs that were not themselves extra, with how many completed runs of another replica
   * started after the cut. A cut run that an extra run was already doubling (started before the
   * cut, and completed) is left out: the message counts as run twice, not as interrupted.
   */
  private interruptions(stories: readonly Story[]): Array<{ story: Story; run: StoryRun; reruns: number; failover: number | undefined }> {
    const doubled = (story: Story, run: StoryRun) => story.runs.some((r) => r.kind === 'extra' && r.inc !== run.inc && r.start < (run.cutAt as number) && r.end !== undefined);
    return stories.flatMap((story) =>
      story.runs
        .filter((run) => run.cutAt !== undefined && run.kind !== 'extra' && !doubled(story, run))
        .map((run) => {
          const cut = run.cutAt as number;
          const later = story.runs.filter((r) => r.inc !== run.inc && r.start >= cut);
          const first = later[0];
          return { story, run, reruns: later.filter((r) => r.end !== undefined).length, failover: first === undefined ? undefined : first.start - cut };
        }),
    );
  }

  private describeRuns(story: Story): string {
    return story.runs
      .map((r) => `${r.inc.label} ${r.start - this.started}–${r.end !== undefined ? `${r.end - this.started}` : r.cutAt !== undefined ? `cut at ${r.cutAt - this.started}` : '?'} ms${r.kind === 'extra' ? ' (extra)' : ''}`)
      .join(', ');
  }

  private check(): void {
    const stories = this.stories();
    for (const story of stories) {
      const s = story.sent;
      if (s.ends.length === 0) this.violation(`#${s.seq} was never completed (runs: ${this.describeRuns(story) || 'none'})`);
      if (story.runs.some((r) => r.kind === 'extra')) {
        const hint = this.afterRedisRestart(story) ? ', the extra one right after redis-server came back empty' : '';
        this.violation(`#${s.seq} ran ${story.runs.length} times, completed ${s.ends.length} times (runs: ${this.describeRuns(story)})${hint}`);
      }
      // One reply per run that completed, plus one per run cut after its reply.
      const allowed = story.runs.filter((r) => r.end !== undefined || r.cutAt !== undefined).length;
      if (s.replies > allowed) this.violation(`#${s.seq} got ${s.replies} replies from ${allowed} run(s)`);
      if (s.ends.length > 0 && s.replies === 0) this.violation(`#${s.seq} completed but the emulator recorded no reply`);
    }
    for (const { story, run, reruns } of this.interruptions(stories)) {
      if (reruns === 0) this.violation(`#${story.sent.seq}, cut on ${run.inc.label}, was never re-run`);
      else if (reruns > 1) this.violation(`#${story.sent.seq}, cut on ${run.inc.label}, was re-run ${reruns} times`);
    }
    for (const overlap of this.leaderOverlaps()) {
      const up = this.redisUps.filter((at) => at <= overlap.from).pop();
      const hint = up === undefined ? '' : ` (redis-server had come back empty ${overlap.from - up} ms before)`;
      this.violation(`${overlap.labels.join(' and ')} were both the leader for ${overlap.ms} ms from ${overlap.from - this.started} ms on${hint}`);
    }
  }

  /** Times at which two or more replicas said they led, from the leader marks in time order. */
  private leaderOverlaps(): Array<{ labels: string[]; from: number; ms: number }> {
    const marks = [...this.leaderMarks].sort((a, b) => a.at - b.at || Number(a.isLeader) - Number(b.isLeader));
    const leaders = new Set<string>();
    const overlaps: Array<{ labels: string[]; from: number; ms: number }> = [];
    let since: number | undefined;
    let labels: string[] = [];
    for (const mark of marks) {
      if (mark.isLeader) leaders.add(mark.label);
      else leaders.delete(mark.label);
      if (leaders.size > 1 && since === undefined) {
        since = mark.at;
        labels = [...leaders];
      } else if (leaders.size > 1) labels = [...new Set([...labels, ...leaders])];
      else if (since !== undefined) {
        overlaps.push({ labels, from: since, ms: mark.at - since });
        since = undefined;
      }
    }
    if (since !== undefined) overlaps.push({ labels, from: since, ms: Date.now() - since });
    return overlaps;
  }

  report(): ReplicaChaosReport {
    const stories = this.stories();
    const interruptions = this.interruptions(stories);
    const kills: KillRecord[] = this.kills.map(({ inc, at, interrupted }) => ({
      replica: inc.label,
      at: at - this.started,
      interrupted,
      failovers: interruptions.filter((i) => i.run.inc === inc && i.run.cutAt === at).map((i) => i.failover),
    }));
    const failovers = kills.flatMap((k) => k.failovers.filter((f): f is number => f !== undefined)).sort((a, b) => a - b);
    const completed = stories.filter((st) => st.sent.ends.length > 0);
    const extra = stories.filter((st) => st.runs.some((r) => r.kind === 'extra'));
    const replyCounts: [number, number, number, number] = [0, 0, 0, 0];
    for (const st of completed) replyCounts[Math.min(3, st.sent.replies) as 0 | 1 | 2 | 3] += 1;
    const overlaps = this.leaderOverlaps();
    return {
      seed: this.seed,
      steps: this.stepIndex + 1,
      replicas: this.replicas,
      lease: this.lease,
      wallMs: Date.now() - this.started,
      faults: { ...this.faults },
      sent: this.sent.length,
      completed: completed.length,
      duplicated: extra.filter((st) => st.sent.ends.length > 1).length,
      ranTwice: extra.length,
      duplicatedAfterRedisRestart: extra.filter((st) => this.afterRedisRestart(st)).length,
      endedAtKill: stories.filter((st) => st.runs.some((r) => r.kind === 'afterKillEnd') && !st.runs.some((r) => r.kind === 'extra')).length,
      lost: this.sent.length - completed.length,
      interrupted: interruptions.length,
      interruptedExtra: stories.reduce((n, st) => n + st.runs.filter((r) => r.kind === 'extra' && r.cutAt !== undefined).length, 0),
      rerunOnce: interruptions.filter((i) => i.reruns === 1).length,
      notRerun: interruptions.filter((i) => i.reruns === 0).length,
      rerunMore: interruptions.filter((i) => i.reruns > 1).length,
      killsWithHandler: kills.filter((k) => k.failovers.length > 0).length,
      kills,
      failoverMaxMs: failovers.length ? (failovers[failovers.length - 1] as number) : -1,
      failoverMedianMs: failovers.length ? (failovers[Math.floor((failovers.length - 1) / 2)] as number) : -1,
      failoversOverLease50: failovers.filter((f) => f > this.lease + 50).length,
      leaderChanges: this.leaderMarks.filter((m) => m.isLeader).length,
      leaderOverlaps: overlaps.length,
      leaderOverlapMaxMs: overlaps.reduce((max, o) => Math.max(max, o.ms), 0),
      replies: completed.reduce((n, st) => n + st.sent.replies, 0),
      replyCounts,
      redisRestarts: this.redisRestarts,
      redisDownMs: this.redisDown.reduce((n, w) => n + (w.to - w.from), 0),
      handledWhileRedisDown: this.handledWhileDown,
      processes: this.incarnations.length,
      errors: { ...this.errors },
      warnings: { ...this.warnings },
      violations: [...this.violations],
      trace: this.traceLines.slice(-200),
    };
  }
}

/** The report as the soak prints it. */
export function formatReplicaReport(report: ReplicaChaosReport): string {
  const codes = (counts: Readonly<Record<string, number>>) =>
    Object.entries(counts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([code, n]) => `${code} ${n}`)
      .join(', ') || 'none';
  const rows: Array<[string, string | number]> = [
    ['seed', report.seed],
    ['faults (steps)', report.steps],
    ['replicas, lease', `${report.replicas}, ${report.lease} ms`],
    ['wall time', `${(report.wallMs / 1000).toFixed(1)} s`],
    ['replica processes started', report.processes],
    ['messages sent', report.sent],
    ['  completed', report.completed],
    ['  lost', report.lost],
    ['  duplicated (completed twice)', report.duplicated],
    ['  ran twice (completed or cut)', report.ranTwice],
    ['    right after Redis came back empty', report.duplicatedAfterRedisRestart],
    ['  completed again: killed after end', report.endedAtKill],
    ['handlers interrupted', report.interrupted],
    ['  extra runs cut (not counted above)', report.interruptedExtra],
    ['  re-run exactly once', report.rerunOnce],
    ['  never re-run', report.notRerun],
    ['  re-run more than once', report.rerunMore],
    ['kills that cut a handler', `${report.killsWithHandler} of ${report.faults.killReplica}`],
    ['failover max', report.failoverMaxMs < 0 ? 'n/a' : `${report.failoverMaxMs} ms`],
    ['failover median', report.failoverMedianMs < 0 ? 'n/a' : `${report.failoverMedianMs} ms`],
    ['failovers over lease + 50 ms', report.failoversOverLease50],
    ['leader changes', report.leaderChanges],
    ['two leaders at once', report.leaderOverlaps === 0 ? 0 : `${report.leaderOverlaps} (max ${report.leaderOverlapMaxMs} ms)`],
    ['replies (per completed: 0/1/2/3+)', `${report.replies} (${report.replyCounts.join('/')})`],
    ['redis-server restarts', report.redisRestarts],
    ['redis-server down (killed)', `${report.redisDownMs} ms`],
    ['handled while Redis was down', report.handledWhileRedisDown],
    ['invariant violations', report.violations.length],
  ];
  const faultRows = REPLICA_FAULT_KINDS.map((kind) => [kind, report.faults[kind]] as [string, number]);
  const width = 36;
  const valueWidth = 24;
  const line = (label: string, value: string | number) => `| ${label.padEnd(width)} | ${String(value).padStart(valueWidth)} |`;
  const rule = `|${'-'.repeat(width + 2)}|${'-'.repeat(valueWidth + 2)}|`;
  return [
    line('faults injected, by kind', 'count'),
    rule,
    ...faultRows.map(([k, v]) => line(k, v)),
    line('total', faultRows.reduce((n, [, v]) => n + v, 0)),
    rule,
    ...rows.map(([k, v]) => line(k, v)),
    rule,
    `errors reported by replicas: ${codes(report.errors)}`,
    `warnings reported by replicas: ${codes(report.warnings)}`,
  ].join('\n');
}
