/**
 * The chaos engine, shared by test/chaos/chaos.test.ts (a short run in `npm test`) and
 * scripts/soak.ts (a long one): a real SparkBot (an echo bot) on the real emulator over loopback,
 * with real timers at small settings, played a seeded schedule (schedule.ts) of user messages and
 * faults, with its invariants checked as events happen and once more at the end:
 *
 * - every user message is handled exactly once: its activity reaches 'activity' once, and it
 *   reaches 'message' once — or, when 429s outlived the retries of its fetch, is reported on
 *   'error' (RATE_LIMITED) with its activity id instead (never both, never neither, never twice;
 *   a 5xx or a cut connection is tried again and must not cost the message);
 * - per room, activities and messages arrive in the order the users posted them;
 * - at most one socket of the bot is open at any moment (checked at the emulator on every
 *   'connection' and 'authorized');
 * - a garbage or binary frame costs a warning, never the socket; an oversized one closes it with
 *   1009 (and the bot reconnects);
 * - the bot never ends in `failed`, reports no error other than the REST failures the faults
 *   caused, and never registers more devices than the stale-device faults forced;
 * - each echo reply is posted at most once, and is missing only when its POST failed (reported);
 * - once the faults stop, the bot is `open` again within a bounded time and a bounded number of
 *   handshakes.
 *
 * Timing: real timers, because races between the machine's timers and real I/O are what chaos is
 * for. No step sleeps for a guessed time: each waits for what the fault must cause (a close, a
 * ping, a warning, a registration, a state) with a generous bound that turns a hang into a
 * failure. The schedule is a pure function of the seed, so a seed replays the same faults.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Waiters } from '../../src/emulator/waiters.js';
import { WebexEmulator, type ConnectionRecord, type EmulatedMessage, type EmulatedPerson, type EmulatedRoom } from '../../src/emulator/index.js';
import { SparkBot, parseHydraId, type Activity, type ConnectionStateName, type SparkBotError } from '../../src/index.js';
import { describeStep, FAULT_KINDS, type DropHow, type Fault, type FaultKind, type Post, ROOMS, schedule, type Step, USERS } from './schedule.js';

/** The bot's settings: the defaults scaled down so that a fault costs milliseconds, not minutes. */
export const CHAOS_TIMINGS = {
  pingEvery: 200,
  pingWait: 600,
  reconnectSleep: 10,
  reconnectSleepMax: 200,
  connectTimeout: 500,
  retryTimeout: 50,
  stableAfter: 300,
  closeTimeout: 300,
  requestTimeout: 5_000,
  stopTimeout: 5_000,
} as const;

/** The bot's maxPayload (its default, 4 MiB): the oversized frames go just over it. */
export const MAX_PAYLOAD = 4 * 1024 * 1024;

/** Upper bound of any single wait: a step that takes longer is stuck, and the run fails. */
const STUCK_AFTER = 20_000;
/** No outage may last longer, whatever the faults (the longest fault of the mix costs about 3 s). */
export const OUTAGE_BOUND_MS = 10_000;
/** After the faults stop, the bot must be open again within this many ms… */
export const RECOVERY_BOUND_MS = 5_000;
/** …and within this many socket handshakes. */
export const RECOVERY_HANDSHAKES = 3;

export interface ChaosOptions {
  readonly seed: number;
  /** Run this many steps (the test)… */
  readonly steps?: number;
  /** …or keep drawing steps until this many ms have passed (the soak). */
  readonly durationMs?: number;
  /** Progress lines (the soak prints one per minute or so). */
  readonly progress?: (line: string) => void;
  /** Print every trace line as it happens. */
  readonly verbose?: boolean;
}

export interface ChaosReport {
  readonly seed: number;
  readonly steps: number;
  readonly wallMs: number;
  /** Faults injected, by kind. */
  readonly faults: Readonly<Record<FaultKind, number>>;
  /** Requests the emulator answered with an armed fault, by route and status. */
  readonly faultHits: Readonly<Record<string, number>>;
  readonly sent: number;
  /** User messages whose activity reached the bot ('activity'). */
  readonly delivered: number;
  /** …of which reached 'message'. */
  readonly messages: number;
  /** …of which could not be fetched (a REST fault) and were reported on 'error' instead. */
  readonly enrichFailed: number;
  /** User messages handled more than once (activity or message). */
  readonly duplicated: number;
  /** User messages never handled. */
  readonly lost: number;
  readonly outOfOrder: number;
  readonly echoes: number;
  readonly echoFailed: number;
  /** Envelopes delivered again on a new socket because their ack never arrived (the bot must skip them). */
  readonly redeliveries: number;
  /** Envelopes that waited for the bot's next socket (sent while it had none). */
  readonly queued: number;
  /** Times the bot lost its link and went back to reconnecting (all bot instances). */
  readonly reconnects: number;
  readonly sockets: number;
  readonly registrations: number;
  readonly maxOpenSockets: number;
  /** The same, counting sockets whose client had already sent its FIN (the server still closing them). */
  readonly maxOpenSocketsRaw: number;
  readonly invalidFrameWarnings: number;
  /** Longest time the bot was not connected (from leaving open/awaitingPong to open again). */
  readonly longestOutageMs: number;
  /** From the faults stopping to `open`. */
  readonly recoveryMs: number;
  /** Socket handshakes the bot made after the faults stopped. */
  readonly recoveryHandshakes: number;
  readonly violations: readonly string[];
  /** The last lines of the run's trace (for a failure). */
  readonly trace: readonly string[];
}

interface Sent {
  readonly seq: number;
  readonly uuid: string;
  readonly room: number;
  readonly step: number;
  activities: number;
  messages: number;
  enrichFailed: boolean;
  echoFailed: boolean;
}

/** A wait of a chaos run that did not end in time (reported as `stuck: …`). */
export class Stuck extends Error {}

const ECHO = /^echo #(\d+)$/;

/** What a chaos run (this one, the replicas' in test/replicas) does, in order. */
export interface ChaosPlay<Report> {
  setUp(): Promise<void>;
  play(): Promise<void>;
  finish(): Promise<void>;
  tearDown(): Promise<void>;
  violation(message: string): void;
  report(): Report;
}

/** Plays a run to its report: whatever it throws is a violation of it, and it is torn down whatever happened. */
export async function playChaos<Report>(run: ChaosPlay<Report>): Promise<Report> {
  try {
    await run.setUp();
    await run.play();
    await run.finish();
  } catch (error) {
    run.violation(error instanceof Stuck ? `stuck: ${error.message}` : `the run threw: ${(error as Error)?.stack ?? String(error)}`);
  } finally {
    await run.tearDown();
  }
  return run.report();
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  return playChaos(new ChaosRun(options));
}

class ChaosRun {
  private readonly seed: number;
  private emulator!: WebexEmulator;
  private dir!: string;
  private botPerson!: EmulatedPerson;
  private users: EmulatedPerson[] = [];
  private rooms: EmulatedRoom[] = [];
  private bot: SparkBot | undefined;
  private retiredReconnects = 0;
  /** Bots stopped on purpose (a bot restart): their states and start() no longer count. */
  private readonly retired = new Set<SparkBot>();
  private readonly started = Date.now();
  private readonly waiters = new Waiters();

  private readonly sent: Sent[] = [];
  private readonly byUuid = new Map<string, Sent>();
  private readonly echoCounts = new Map<number, number>();
  private readonly lastActivitySeq = new Map<number, number>();
  private readonly lastMessageSeq = new Map<number, number>();
  private readonly violations: string[] = [];
  private readonly traceLines: string[] = [];
  private readonly faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  private stepIndex = -1;
  private currentStep = 'set-up';
  private duplicated = 0;
  private outOfOrder = 0;
  private invalidFrames = 0;
  private maxOpen = 0;
  private maxOpenRaw = 0;
  private staleFaults = 0;
  private connected = false;
  private outageSince: number | undefined;
  private longestOutage = 0;
  private recoveryMs = -1;
  private recoveryHandshakes = -1;
  private stopping = false;

  constructor(private readonly options: ChaosOptions) {
    this.seed = options.seed;
  }

  // ---------------------------------------------------------------- set-up and tear-down

  async setUp(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'sparkbot-chaos-'));
    this.emulator = await WebexEmulator.start();
    this.emulator.on('change', () => this.poke());
    this.botPerson = this.emulator.createBot({ displayName: 'Chaos Echo' });
    this.users = USERS.map((displayName) => this.emulator.createUser({ displayName }));
    // Rooms exist before the bot has a device: their create/add activities go nowhere.
    this.rooms = ROOMS.map((spec) =>
      spec.type === 'direct'
        ? this.emulator.directRoom(this.users[spec.members[0] as number] as EmulatedPerson, this.botPerson)
        : this.emulator.createRoom({ title: spec.name, members: [...spec.members.map((m) => this.users[m] as EmulatedPerson), this.botPerson] }),
    );
    this.emulator.on('message', (message: EmulatedMessage) => {
      const seq = message.personUuid === this.botPerson.uuid ? ECHO.exec(message.text ?? '')?.[1] : undefined;
      if (seq !== undefined) this.echoCounts.set(Number(seq), (this.echoCounts.get(Number(seq)) ?? 0) + 1);
    });
    this.emulator.on('connection', () => this.checkSockets('connection'));
    this.emulator.on('authorized', () => this.checkSockets('authorized'));
    this.emulator.on('close', (record: ConnectionRecord) => {
      if (this.isBotDevice(record.deviceUuid)) this.trace(`socket ${record.id} closed ${record.closeCode ?? '?'}${record.closeReason ? ` "${record.closeReason}"` : ''} by ${record.closedBy ?? 'link'}`);
    });
    this.emulator.on('ready', (record: ConnectionRecord) => {
      if (this.isBotDevice(record.deviceUuid)) this.trace(`socket ${record.id} of ${record.deviceUuid.slice(0, 8)} ready (${this.emulator.devices.get(record.deviceUuid)?.pending.size ?? 0} envelopes to redeliver)`);
    });
    this.emulator.on('registration', (device: { uuid: string; ownerUuid: string }) => {
      if (device.ownerUuid === this.botPerson.uuid) this.trace(`device ${device.uuid.slice(0, 8)} registered`);
    });
    this.emulator.on('deviceDeleted', (uuid: string) => this.trace(`device ${uuid.slice(0, 8)} deleted`));
    this.emulator.on('fault', (hit: { route: string; status: number }) => this.trace(`fault hit: ${hit.route} → ${hit.status}`));
    this.bot = this.newBot();
    await this.until(() => this.bot?.state === 'open', 'the first open');
  }

  async tearDown(): Promise<void> {
    this.stopping = true;
    try {
      await this.bot?.stop();
    } catch (error) {
      this.violation(`stop() threw: ${(error as Error).message}`);
    }
    await this.emulator?.close();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  private newBot(): SparkBot {
    const bot = new SparkBot({
      token: this.botPerson.token,
      ...this.emulator.botOptions(),
      lastConn: join(this.dir, 'last-connection.json'),
      maxPayload: MAX_PAYLOAD,
      ...CHAOS_TIMINGS,
    });
    this.attach(bot);
    void bot.start().catch((error: unknown) => {
      if (!this.stopping && !this.retired.has(bot)) this.violation(`start() rejected: ${(error as SparkBotError).code} ${(error as Error).message}`);
    });
    return bot;
  }

  // ---------------------------------------------------------------- the bot under test

  private attach(bot: SparkBot): void {
    const mine = () => this.bot === bot && !this.retired.has(bot) && !this.stopping;
    bot.on('state', (state: ConnectionStateName, previous: ConnectionStateName) => {
      this.trace(`state ${previous} → ${state}${state === 'backoff' || state === 'rateLimited' ? ` (${bot.health().lastError ?? ''})` : ''}`);
      if (state === 'failed') this.violation(`the bot ended in failed: ${bot.health().lastError ?? '?'}`);
      if (mine()) this.setConnected(state === 'open' || state === 'awaitingPong');
      this.pokeSoon();
    });
    bot.on('activity', (activity: Activity) => {
      const sent = this.byUuid.get(activity.id);
      if (sent && activity.verb === 'post') {
        sent.activities += 1;
        if (sent.activities > 1) this.duplicate(sent, `activity of message #${sent.seq} handled ${sent.activities} times`);
        this.checkOrder(this.lastActivitySeq, sent, 'activity');
      }
      this.pokeSoon();
    });
    bot.on('message', async (message) => {
      const uuid = parseHydraId(message.id)?.uuid;
      const sent = uuid === undefined ? undefined : this.byUuid.get(uuid);
      if (!sent) {
        this.violation(`'message' for a message no user posted: ${message.id}`);
        return;
      }
      sent.messages += 1;
      if (sent.messages > 1) this.duplicate(sent, `message #${sent.seq} delivered ${sent.messages} times`);
      if (sent.enrichFailed) this.duplicate(sent, `message #${sent.seq} delivered after its fetch was reported failed`);
      this.checkOrder(this.lastMessageSeq, sent, 'message');
      this.pokeSoon();
      await message.reply(`echo #${sent.seq}`);
    });
    bot.on('error', (error: SparkBotError) => {
      const sent = error.context?.activityId === undefined ? undefined : this.byUuid.get(error.context.activityId);
      // A fetch given up on is allowed only after 429s outlived retryCount: a 5xx or a cut is tried
      // again three times, more than any fault of the schedule lasts.
      if (sent && error.code === 'RATE_LIMITED') {
        this.trace(`message #${sent.seq} could not be fetched: ${error.message}`);
        if (sent.messages > 0 || sent.enrichFailed) this.duplicate(sent, `message #${sent.seq} reported failed after it was handled`);
        sent.enrichFailed = true;
      } else if (sent && error.code === 'HANDLER_ERROR') {
        this.trace(`echo of #${sent.seq} failed: ${error.message}`);
        sent.echoFailed = true;
      } else {
        this.violation(`unexpected error ${error.code}: ${error.message}`);
      }
      this.pokeSoon();
    });
    bot.on('warning', (warning: SparkBotError) => {
      if (warning.code === 'INVALID_FRAME') this.invalidFrames += 1;
      else if (warning.code !== 'CONNECT_FAILED') this.violation(`unexpected warning ${warning.code}: ${warning.message}`);
      this.pokeSoon();
    });
  }

  private setConnected(connected: boolean): void {
    if (connected === this.connected) return;
    this.connected = connected;
    const now = Date.now();
    if (!connected) this.outageSince = now;
    else if (this.outageSince !== undefined) {
      const outage = now - this.outageSince;
      this.longestOutage = Math.max(this.longestOutage, outage);
      this.outageSince = undefined;
      if (outage > OUTAGE_BOUND_MS) this.violation(`the bot was not connected for ${outage} ms (at most ${OUTAGE_BOUND_MS})`);
    }
  }

  private checkOrder(last: Map<number, number>, sent: Sent, what: string): void {
    const previous = last.get(sent.room) ?? 0;
    if (sent.seq <= previous) {
      if (sent.activities <= 1 && sent.messages <= 1) {
        this.outOfOrder += 1;
        this.violation(`${what} of message #${sent.seq} in ${ROOMS[sent.room]?.name} came after #${previous}`);
      }
      return;
    }
    last.set(sent.room, sent.seq);
  }

  private duplicate(sent: Sent, why: string): void {
    this.duplicated += 1;
    this.violation(why);
  }

  private isBotDevice(deviceUuid: string): boolean {
    return this.emulator.registrations.some((r) => r.deviceUuid === deviceUuid && r.personUuid === this.botPerson.uuid);
  }

  private botSockets(): ConnectionRecord[] {
    return this.emulator.openConnections().filter((c) => this.isBotDevice(c.deviceUuid));
  }

  /**
   * At most one socket of the bot open. A socket whose client already ended its side (the server
   * read its FIN) counts as closed: the bot let go of it, and the server is only finishing its own
   * close (ws emits 'close' a few ticks later, possibly after the next socket's upgrade).
   */
  private checkSockets(on: string): void {
    const raw = this.botSockets();
    this.maxOpenRaw = Math.max(this.maxOpenRaw, raw.length);
    const open = raw.filter((c) => c.peerEndedAt === undefined);
    this.maxOpen = Math.max(this.maxOpen, open.length);
    if (open.length > 1) {
      const now = Date.now();
      const describe = (c: ConnectionRecord) =>
        `${c.id} (opened ${now - c.openedAt} ms ago${c.readyAt ? ', ready' : ''}${c.peerEndedAt ? `, client gone ${now - c.peerEndedAt} ms ago` : ''})`;
      this.violation(`${open.length} sockets of the bot open at once (on '${on}'): ${open.map(describe).join(', ')}`);
    }
    this.poke();
  }

  // ---------------------------------------------------------------- waiting, tracing

  private poke(): void {
    this.waiters.poke();
  }

  /** After a bot event, once every listener of it has run. */
  private pokeSoon(): void {
    setImmediate(() => this.poke());
  }

  /** Resolves once `predicate` holds, checked after every change the emulator or the bot reports. */
  private until(predicate: () => boolean, what: string, timeout = STUCK_AFTER): Promise<void> {
    return this.waiters.until(predicate, timeout, () => new Stuck(`${what} did not happen within ${timeout} ms (bot ${this.bot?.state ?? 'none'})`));
  }

  private trace(line: string): void {
    const stamped = `${String(Date.now() - this.started).padStart(6)} ms  ${line}`;
    this.traceLines.push(stamped);
    if (this.traceLines.length > 400) this.traceLines.splice(0, this.traceLines.length - 300);
    if (this.options.verbose) console.log(stamped);
  }

  violation(message: string): void {
    const line = `step ${this.stepIndex} (${this.currentStep}): ${message}`;
    this.violations.push(line);
    this.trace(`VIOLATION ${line}`);
  }

  // ---------------------------------------------------------------- the schedule

  async play(): Promise<void> {
    const steps = schedule(this.seed, { connectTimeout: CHAOS_TIMINGS.connectTimeout, maxPayload: MAX_PAYLOAD });
    const deadline = this.options.durationMs === undefined ? undefined : this.started + this.options.durationMs;
    let lastProgress = Date.now();
    for (;;) {
      if (this.options.steps !== undefined && this.stepIndex + 1 >= this.options.steps) break;
      if (deadline !== undefined && Date.now() >= deadline) break;
      if (this.options.steps === undefined && deadline === undefined) break;
      const step = steps.next().value;
      this.stepIndex += 1;
      this.currentStep = describeStep(step);
      this.trace(`— step ${this.stepIndex}: ${this.currentStep}`);
      await this.runStep(step);
      if (this.options.progress && Date.now() - lastProgress >= 30_000) {
        lastProgress = Date.now();
        this.options.progress(`${Math.round((Date.now() - this.started) / 1000)} s: step ${this.stepIndex}, ${this.sent.length} sent, ${this.violations.length} violations`);
      }
    }
  }

  private async runStep(step: Step): Promise<void> {
    if (step.kind === 'posts') {
      await this.postAll(step.posts);
      return;
    }
    this.faults[step.fault.kind] += 1;
    await this.inject(step.fault, step.during);
  }

  /** Posts as the users; while the bot has no device at all (a stale one was forgotten), waits for its new one. */
  private async postAll(posts: readonly Post[]): Promise<void> {
    for (const post of posts) await this.post(post);
  }

  private async post(post: Post): Promise<void> {
    // A device the server forgot takes its undelivered events with it, and events sent while the
    // bot has none go nowhere: a real loss the bot cannot prevent, so users wait for the new one.
    await this.until(() => this.emulator.devicesOf(this.botPerson).length > 0, 'a device of the bot');
    const room = this.rooms[post.room] as EmulatedRoom;
    const spec = ROOMS[post.room] as (typeof ROOMS)[number];
    const from = this.users[post.user] as EmulatedPerson;
    const seq = this.sent.length + 1;
    const text = spec.type === 'group' ? `${this.botPerson.displayName} #${seq} ${post.words}` : `#${seq} ${post.words}`;
    const mentions = spec.type === 'group' ? [this.botPerson, ...(post.alsoMention === undefined ? [] : [this.users[post.alsoMention] as EmulatedPerson])] : undefined;
    const json = this.emulator.postMessage({ from, room, text, ...(mentions ? { mentions } : {}) });
    const uuid = parseHydraId(String(json.id))?.uuid;
    if (uuid === undefined) throw new Error(`the emulator answered a message id that is not a Hydra id: ${String(json.id)}`);
    const sent: Sent = { seq, uuid, room: post.room, step: this.stepIndex, activities: 0, messages: 0, enrichFailed: false, echoFailed: false };
    this.sent.push(sent);
    this.byUuid.set(uuid, sent);
  }

  private async whenOpen(): Promise<ConnectionRecord> {
    await this.until(() => this.bot?.state === 'open' && this.botSockets().some((c) => c.readyAt !== undefined), 'the bot open');
    return this.botSockets()[0] as ConnectionRecord;
  }

  private closed(record: ConnectionRecord, what: string): Promise<void> {
    return this.until(() => record.closedAt !== undefined, what);
  }

  private drop(how: DropHow, record: ConnectionRecord): void {
    if ('terminate' in how) this.emulator.dropConnections({ terminate: true, deviceUuid: record.deviceUuid });
    else this.emulator.dropConnections({ code: how.code, reason: how.reason, deviceUuid: record.deviceUuid });
  }

  private async dropAndWait(how: DropHow, what: string): Promise<void> {
    const record = await this.whenOpen();
    this.drop(how, record);
    await this.closed(record, what);
  }

  private async inject(fault: Fault, during: readonly Post[]): Promise<void> {
    const emulator = this.emulator;
    switch (fault.kind) {
      case 'close1011':
      case 'close1001':
      case 'close4000': {
        const record = await this.whenOpen();
        emulator.dropConnections({ code: fault.code, reason: fault.reason, deviceUuid: record.deviceUuid });
        await this.postAll(during);
        await this.closed(record, `the close ${fault.code}`);
        return;
      }
      case 'terminate': {
        const record = await this.whenOpen();
        emulator.dropConnections({ terminate: true, deviceUuid: record.deviceUuid });
        await this.postAll(during);
        await this.closed(record, 'the cut link');
        return;
      }
      case 'pongIgnore':
      case 'pongMismatch': {
        await this.whenOpen();
        const pings = emulator.pings.length;
        emulator.setPongMode(fault.kind === 'pongIgnore' ? 'ignore' : 'mismatch');
        try {
          await this.postAll(during);
          // The window lasts until the bot noticed: a ping went unanswered (or answered wrong) and the bot gave that socket up.
          const gaveUp = () =>
            emulator.pings.slice(pings).some((p) => emulator.connections.find((c) => c.id === p.connectionId)?.closedAt !== undefined);
          await this.until(gaveUp, 'a ping unanswered and its socket given up');
        } finally {
          emulator.setPongMode('normal');
        }
        return;
      }
      case 'restGet':
      case 'restPost': {
        emulator.failNext(fault.kind === 'restGet' ? 'GET /v1/messages/*' : 'POST /v1/messages', httpFault(fault));
        await this.postAll(during);
        return;
      }
      case 'registration': {
        emulator.failNext('POST /wdm/api/v1/devices', httpFault(fault));
        await this.forgetDevice(fault.drop, during);
        return;
      }
      case 'staleDevice':
        await this.forgetDevice(fault.drop, during);
        return;
      case 'deviceList': {
        emulator.failNext('GET /wdm/api/v1/devices', httpFault(fault));
        if (fault.trigger === 'botRestart') await this.restartBot(during);
        else {
          // Three failed handshakes in a row make the bot check its device with WDM before reuse.
          emulator.failNext('WS /mercury/*', { status: fault.status === 429 ? 503 : fault.status, times: 3 });
          await this.dropAndWait(fault.drop, 'the drop before failed handshakes');
          await this.postAll(during);
        }
        return;
      }
      case 'handshake': {
        emulator.failNext('WS /mercury/*', httpFault(fault));
        await this.dropAndWait(fault.drop, 'the drop before a refused handshake');
        await this.postAll(during);
        return;
      }
      case 'slowHandshake': {
        const latencies = [...fault.latencies];
        emulator.setLatency('WS /mercury/*', () => latencies.shift() ?? 0);
        try {
          const record = await this.whenOpen();
          this.drop(fault.drop, record);
          await this.closed(record, 'the drop before slow handshakes');
          await this.postAll(during);
          // Over once the bot is open again on a new socket, through as many slow handshakes as it took.
          await this.until(() => this.bot?.state === 'open' && this.botSockets().some((c) => c.id > record.id && c.readyAt !== undefined), 'open again after slow handshakes');
        } finally {
          emulator.setLatency('WS /mercury/*', 0);
        }
        return;
      }
      case 'slowRest': {
        const latencies = [...fault.latencies];
        emulator.setLatency('GET /v1/messages/*', () => latencies.shift() ?? 0);
        await this.postAll(during);
        // The latency stays until the next slowRest or the end; it is spent by then (0 after the list).
        return;
      }
      case 'garbage':
      case 'binary': {
        const record = await this.whenOpen();
        const warnings = this.invalidFrames;
        let expected = 0;
        if (fault.kind === 'garbage') {
          for (const frame of fault.frames) {
            emulator.sendRaw(frame.text, { deviceUuid: record.deviceUuid });
            if (frame.warns) expected += 1;
          }
        } else {
          for (const size of fault.sizes) emulator.sendRaw(Buffer.alloc(size, 0xa5), { deviceUuid: record.deviceUuid });
          expected = fault.sizes.length;
        }
        await this.postAll(during);
        await this.until(() => this.invalidFrames >= warnings + expected || record.closedAt !== undefined, 'a warning per unusable frame');
        if (record.closedAt !== undefined && record.closedBy === 'client') this.violation(`an unusable frame made the bot close its socket (${record.closeCode ?? '?'})`);
        if (this.invalidFrames < warnings + expected) this.trace('the socket closed before every garbage frame was reported');
        return;
      }
      case 'oversized': {
        const record = await this.whenOpen();
        emulator.sendRaw('x'.repeat(MAX_PAYLOAD + fault.over), { deviceUuid: record.deviceUuid });
        await this.postAll(during);
        await this.closed(record, 'the close after an oversized frame');
        if (record.closeCode !== 1009 || record.closedBy !== 'client') this.violation(`an oversized frame closed the socket with ${record.closeCode ?? '?'} by ${record.closedBy ?? 'link'}, not 1009 by the bot`);
        return;
      }
      case 'ackLoss': {
        const record = await this.whenOpen();
        const first = this.sent.length;
        emulator.setAckMode('ignore');
        try {
          await this.postAll(during);
          const fresh = this.sent.slice(first);
          // Handled and acked — but the acks are lost: the server still holds them for the device.
          await this.until(() => fresh.every((s) => s.activities > 0) || record.closedAt !== undefined, 'the posts handled while acks are lost');
          if (record.closedAt === undefined) this.drop(fault.drop, record);
        } finally {
          emulator.setAckMode('normal');
        }
        await this.closed(record, 'the drop after lost acks');
        return;
      }
      case 'emulatorRestart': {
        const restarting = emulator.restart(fault.downFor);
        await this.postAll(during);
        await restarting;
        return;
      }
      case 'botRestart':
        await this.restartBot(during);
        return;
    }
  }

  /** The server forgets the bot's device and drops its socket: the handshake answers 404 and the bot registers anew. */
  private async forgetDevice(how: DropHow, during: readonly Post[]): Promise<void> {
    const record = await this.whenOpen();
    const device = this.emulator.devices.get(record.deviceUuid);
    // Events not acked yet would go with the device; users wait for the bot to have taken them.
    await this.until(() => device === undefined || device.pending.size === 0 || record.closedAt !== undefined, 'the device drained');
    if (record.closedAt !== undefined) return;
    this.staleFaults += 1;
    this.emulator.markDeviceStale(record.deviceUuid);
    this.drop(how, record);
    await this.postAll(during);
    await this.closed(record, 'the drop of a forgotten device');
  }

  /**
   * Stops the bot gracefully and starts another on the same last-connection file, while it is open
   * (a stop during a registration has a test of its own: test/chaos/findings.test.ts).
   */
  private async restartBot(during: readonly Post[]): Promise<void> {
    await this.whenOpen();
    const old = this.bot as SparkBot;
    this.retired.add(old);
    await old.stop();
    this.retiredReconnects += old.health().reconnects;
    await this.postAll(during);
    // The planned downtime is not an outage; reconnecting the new bot is.
    this.connected = false;
    this.outageSince = Date.now();
    this.bot = this.newBot();
  }

  // ---------------------------------------------------------------- the end

  async finish(): Promise<void> {
    const emulator = this.emulator;
    this.currentStep = 'the faults stop';
    this.trace('— faults stop');
    emulator.clearFaults();
    emulator.setLatency('WS /mercury/*', 0);
    emulator.setLatency('GET /v1/messages/*', 0);
    emulator.setPongMode('normal');
    emulator.setAckMode('normal');
    const stoppedAt = Date.now();
    const handshakes = emulator.requests.filter((r) => r.method === 'WS').length;
    await this.until(() => this.bot?.state === 'open', 'open after the faults stopped', RECOVERY_BOUND_MS).catch((error: unknown) => {
      this.violation(`not open within ${RECOVERY_BOUND_MS} ms after the faults stopped: ${(error as Error).message}`);
    });
    this.recoveryMs = Date.now() - stoppedAt;
    this.recoveryHandshakes = emulator.requests.filter((r) => r.method === 'WS').length - handshakes;
    if (this.recoveryHandshakes > RECOVERY_HANDSHAKES) this.violation(`${this.recoveryHandshakes} handshakes to recover after the faults stopped (at most ${RECOVERY_HANDSHAKES})`);

    this.currentStep = 'the last messages';
    await this.until(() => this.sent.every((s) => s.activities > 0 && (s.messages > 0 || s.enrichFailed)), 'every message handled').catch((error: unknown) => {
      this.violation((error as Error).message);
    });
    // Every envelope acked (nothing left to redeliver) and every echo posted or reported failed.
    await this.until(() => this.emulator.devicesOf(this.botPerson).every((d) => d.pending.size === 0), 'every envelope acked').catch((error: unknown) => this.violation((error as Error).message));
    await this.until(() => {
      const echoes = this.echoes();
      return this.sent.every((s) => s.messages === 0 || s.echoFailed || (echoes.get(s.seq) ?? 0) > 0);
    }, 'every echo posted').catch((error: unknown) => this.violation((error as Error).message));
    this.stopping = true;
    await this.bot?.stop();

    for (const s of this.sent) {
      if (s.activities === 0) this.violation(`message #${s.seq} (step ${s.step}, ${ROOMS[s.room]?.name}) was lost`);
      else if (s.messages === 0 && !s.enrichFailed) this.violation(`message #${s.seq} reached 'activity' but neither 'message' nor 'error'`);
    }
    for (const [seq, n] of this.echoes()) if (n > 1) this.violation(`message #${seq} was echoed ${n} times`);
    const registrations = emulator.registrations.filter((r) => r.personUuid === this.botPerson.uuid).length;
    if (registrations > 1 + this.staleFaults) this.violation(`${registrations} device registrations for ${this.staleFaults} forgotten devices`);
  }

  /** Echo replies the emulator stored, by message number (counted as they are posted). */
  private echoes(): ReadonlyMap<number, number> {
    return this.echoCounts;
  }

  report(): ChaosReport {
    const emulator = this.emulator;
    const faultHits: Record<string, number> = {};
    for (const hit of emulator?.faultHits ?? []) {
      const key = `${hit.route} ${hit.status}`;
      faultHits[key] = (faultHits[key] ?? 0) + 1;
    }
    const botDevices = new Set((emulator?.registrations ?? []).filter((r) => r.personUuid === this.botPerson?.uuid).map((r) => r.deviceUuid));
    const botConnections = new Set((emulator?.connections ?? []).filter((c) => botDevices.has(c.deviceUuid)).map((c) => c.id));
    const delivered = this.sent.filter((s) => s.activities > 0).length;
    return {
      seed: this.seed,
      steps: this.stepIndex + 1,
      wallMs: Date.now() - this.started,
      faults: { ...this.faults },
      faultHits,
      sent: this.sent.length,
      delivered,
      messages: this.sent.filter((s) => s.messages > 0).length,
      enrichFailed: this.sent.filter((s) => s.enrichFailed).length,
      duplicated: this.duplicated,
      lost: this.sent.length - delivered,
      outOfOrder: this.outOfOrder,
      echoes: [...this.echoes().values()].reduce((a, b) => a + b, 0),
      echoFailed: this.sent.filter((s) => s.echoFailed).length,
      ...redeliveries((emulator?.deliveries ?? []).filter((d) => botConnections.has(d.connectionId))),
      reconnects: this.retiredReconnects + (this.bot?.health().reconnects ?? 0),
      sockets: botConnections.size,
      registrations: botDevices.size,
      maxOpenSockets: this.maxOpen,
      maxOpenSocketsRaw: this.maxOpenRaw,
      invalidFrameWarnings: this.invalidFrames,
      longestOutageMs: this.longestOutage,
      recoveryMs: this.recoveryMs,
      recoveryHandshakes: this.recoveryHandshakes,
      violations: [...this.violations],
      trace: this.traceLines.slice(-120),
    };
  }
}

/** Deliveries on a socket's start: again (delivered before, ack lost) or for the first time (queued while away). */
function redeliveries(deliveries: ReadonlyArray<{ envelopeId: string; redelivery: boolean }>): { redeliveries: number; queued: number } {
  const seen = new Set<string>();
  let again = 0;
  let queued = 0;
  for (const d of deliveries) {
    if (d.redelivery) {
      if (seen.has(d.envelopeId)) again += 1;
      else queued += 1;
    }
    seen.add(d.envelopeId);
  }
  return { redeliveries: again, queued };
}

function httpFault(fault: { status: number; times: number; retryAfter: number | undefined }): { status: number; times: number; retryAfter?: number } {
  return { status: fault.status, times: fault.times, ...(fault.retryAfter === undefined ? {} : { retryAfter: fault.retryAfter }) };
}

/** The report as the soak prints it. */
export function formatReport(report: ChaosReport): string {
  const rows: Array<[string, string | number]> = [
    ['seed', report.seed],
    ['steps', report.steps],
    ['wall time', `${(report.wallMs / 1000).toFixed(1)} s`],
    ['messages sent', report.sent],
    ['  delivered (activity)', report.delivered],
    ['  as message', report.messages],
    ['  fetch failed, reported', report.enrichFailed],
    ['  duplicated', report.duplicated],
    ['  lost', report.lost],
    ['  out of order', report.outOfOrder],
    ['envelopes redelivered (ack lost)', report.redeliveries],
    ['envelopes queued while offline', report.queued],
    ['echo replies', `${report.echoes} (${report.echoFailed} failed, reported)`],
    ['reconnects', report.reconnects],
    ['sockets opened', report.sockets],
    ['devices registered', report.registrations],
    ['most sockets open at once', `${report.maxOpenSockets} (${report.maxOpenSocketsRaw} with closing ones)`],
    ['unusable-frame warnings', report.invalidFrameWarnings],
    ['longest outage', `${report.longestOutageMs} ms`],
    ['recovery after faults stop', `${report.recoveryMs} ms, ${report.recoveryHandshakes} handshake(s)`],
    ['invariant violations', report.violations.length],
  ];
  const faultRows = FAULT_KINDS.map((kind) => [kind, report.faults[kind]] as [string, number]);
  const hitRows = Object.entries(report.faultHits).sort(([a], [b]) => a.localeCompare(b));
  const width = 34;
  const line = (label: string, value: string | number) => `| ${label.padEnd(width)} | ${String(value).padStart(18)} |`;
  const rule = `|${'-'.repeat(width + 2)}|${'-'.repeat(20)}|`;
  return [
    line('faults injected, by kind', 'count'),
    rule,
    ...faultRows.map(([k, v]) => line(k, v)),
    line('total', faultRows.reduce((n, [, v]) => n + v, 0)),
    rule,
    line('requests answered by a fault', 'count'),
    rule,
    ...hitRows.map(([k, v]) => line(k, v)),
    rule,
    ...rows.map(([k, v]) => line(k, v)),
  ].join('\n');
}
