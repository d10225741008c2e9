/**
 * Interop: real Webex clients, unchanged, against sparkbot's emulator.
 *
 *   npm run interop        (= node --import tsx interop/run.ts)
 *
 * The emulator runs in this process (imported from the project's source: no build needed); each
 * client runs in a child process of its own (interop/sdk/client.cjs, interop/framework/client.cjs, each with its own node_modules) that takes commands over IPC
 * and reports what it saw. Every step has a timeout; the run prints a summary and exits non-zero
 * when any step failed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebexEmulator } from '../src/emulator/index.js';
import { ensureInstalled } from '../scripts/install-peer.js';

const here = dirname(fileURLToPath(import.meta.url));
const STEP_TIMEOUT = 15_000;
const RUN_TIMEOUT = 5 * 60_000;

// ------------------------------------------------------------------ waiting without guessed times

const checks = new Set<() => void>();
/** Something changed (the emulator, a client): re-checks every waiting predicate. */
const poke = () => {
  for (const check of [...checks]) check();
};
/** What the running step waits for, for its timeout message. */
let waitingFor = 'the step';

/** Resolves with the first truthy value of `probe`, checked now and on every change; rejects if `probe` throws. */
function until<T>(probe: () => T | undefined | null | false, what: string): Promise<T> {
  waitingFor = what;
  return new Promise((resolve, reject) => {
    const check = () => {
      try {
        const value = probe();
        if (!value) return;
        checks.delete(check);
        resolve(value);
      } catch (error) {
        checks.delete(check);
        reject(error);
      }
    };
    checks.add(check);
    check();
  });
}

// ------------------------------------------------------------------ clients, one process each

interface Report {
  readonly event?: string;
  readonly re?: number;
  readonly ok?: boolean;
  readonly value?: any;
  readonly error?: string;
  readonly [key: string]: any;
}

class Client {
  readonly events: Report[] = [];
  private readonly child: ChildProcess;
  private readonly replies = new Map<number, Report>();
  private nextId = 1;
  private stderrTail = '';
  exited: string | undefined;

  constructor(
    readonly name: string,
    script: string,
    env: Record<string, string>,
  ) {
    mkdirSync(join(here, 'logs'), { recursive: true });
    const log = createWriteStream(join(here, 'logs', `${name}.log`));
    this.child = fork(join(here, script), [], {
      cwd: dirname(join(here, script)),
      env: { ...process.env, ...env },
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child.stdout!.pipe(log);
    this.child.stderr!.on('data', (chunk: Buffer) => {
      log.write(chunk);
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-1500);
    });
    this.child.on('message', (msg: Report) => {
      if (msg.re !== undefined) this.replies.set(msg.re, msg);
      else this.events.push(msg);
      poke();
    });
    this.child.on('exit', (code, signal) => {
      this.exited = `${name} process exited (code ${code}, signal ${signal})${this.stderrTail ? `; stderr ends: ${this.stderrTail.trim().split('\n').slice(-6).join(' | ')}` : ''}`;
      poke();
    });
  }

  private alive(): void {
    if (this.exited) throw new Error(this.exited);
  }

  /** Runs a command in the client; resolves with its value, rejects with its error. */
  async call(cmd: string, args: Record<string, unknown> = {}): Promise<any> {
    this.alive();
    const id = this.nextId++;
    this.child.send({ id, cmd, args });
    const reply = await until(() => (this.alive(), this.replies.get(id)), `${this.name}: ${cmd}() to settle`);
    if (!reply.ok) throw new Error(`${cmd}() failed: ${reply.error}`);
    return reply.value;
  }

  /** The first event (reported so far or later) that matches. */
  event(match: (e: Report) => boolean, what: string): Promise<Report> {
    return until(() => this.events.find(match) ?? (this.alive(), undefined), `${this.name}: ${what}`);
  }

  /** Unhandled rejections and uncaught exceptions the client reported. */
  errors(): Report[] {
    return this.events.filter((e) => e.event === 'unhandledRejection' || e.event === 'uncaughtException');
  }

  stop(): void {
    if (!this.exited) this.child.kill();
  }
}

// ------------------------------------------------------------------ steps

interface Result {
  readonly client: string;
  readonly step: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly ms: number;
}
const results: Result[] = [];

async function step(client: string, name: string, run: () => Promise<string | void>, timeout = STEP_TIMEOUT): Promise<boolean> {
  const started = Date.now();
  waitingFor = 'the step';
  let timer: NodeJS.Timeout | undefined;
  let result: Result;
  try {
    const detail = await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeout / 1000} s waiting for ${waitingFor}`)), timeout);
      }),
    ]);
    result = { client, step: name, ok: true, detail: detail ?? '', ms: Date.now() - started };
  } catch (error) {
    result = { client, step: name, ok: false, detail: error instanceof Error ? error.message : String(error), ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
    checks.clear();
  }
  results.push(result);
  console.log(`${result.ok ? 'PASS' : 'FAIL'} ${client} ${name} (${result.ms} ms)${result.detail ? `: ${result.detail}` : ''}`);
  return result.ok;
}

function check(condition: unknown, message: string | undefined): asserts condition {
  if (!condition) throw new Error(message ?? 'check failed');
}

// ------------------------------------------------------------------ the official SDK 3.12.0

async function sdkSteps(emulator: WebexEmulator): Promise<void> {
  const bot = emulator.createBot({ displayName: 'Interop SDK Bot' });
  const alice = emulator.createUser({ displayName: 'Alice Sdk' });
  const sdk = new Client('sdk', 'sdk/client.cjs', { TOKEN: bot.token, U2C_URL: emulator.u2cUrl, HYDRA_URL: emulator.apiUrl });
  const S = 'sdk';
  let device = '';
  const connectionsOf = (uuid: string) => emulator.connections.filter((c) => c.deviceUuid === uuid);
  const registrationsOf = () => emulator.registrations.filter((r) => r.personUuid === bot.uuid);
  const text = (tag: string) => `hello ${tag} ${Date.now()}`;

  try {
    await step(S, 'register', async () => {
      await sdk.call('register');
      device = (await until(() => registrationsOf()[0], 'a device registration by the bot')).deviceUuid;
      return `device ${device}`;
    });

    await step(S, 'connect', async () => {
      await sdk.call('connect');
      const conn = await until(() => connectionsOf(device).find((c) => c.authorizedAt), 'an authorized socket on the device');
      return `connection ${conn.id} authorized`;
    });

    await step(S, 'activity received and acked', async () => {
      const since = emulator.deliveries.length;
      emulator.postMessage({ from: alice, toPerson: bot, text: text('ack') });
      const ids = new Set(connectionsOf(device).map((c) => c.id));
      const delivery = await until(() => emulator.deliveries.slice(since).find((d) => ids.has(d.connectionId)), 'a delivery to the device');
      await until(() => emulator.acks.find((a) => a.messageId === delivery.envelopeId), `an ack of envelope ${delivery.envelopeId}`);
      return `envelope ${delivery.envelopeId} acked`;
    });

    await step(S, 'messages.listen() created', async () => {
      await sdk.call('listen');
      const message = emulator.postMessage({ from: alice, toPerson: bot, text: text('listen') });
      const created = await sdk.event((e) => e.event === 'created' && e.data?.id === message.id, `a 'created' event for message ${message.id}`);
      check(created.data.text === message.text, `created.data.text is ${JSON.stringify(created.data.text)}, expected ${JSON.stringify(message.text)}`);
      return `'created' with the message (${JSON.stringify(message.text)})`;
    });

    await step(S, 'people.get(id)', async () => {
      const person = await sdk.call('peopleGet', { id: alice.id });
      check(person.id === alice.id && person.displayName === alice.displayName, `got ${JSON.stringify(person)}`);
      return `${person.displayName}`;
    });

    await step(S, 'messages.create', async () => {
      const body = text('from sdk');
      const sent = await sdk.call('createMessage', { toPersonId: alice.id, text: body });
      await until(() => [...emulator.messages.values()].find((m) => m.personUuid === bot.uuid && m.text === body), 'the message in the emulator');
      return `message ${sent.id}`;
    });

    await step(S, 'reconnect to the same device', async () => {
      const registered = registrationsOf().length;
      const last = Math.max(0, ...emulator.connections.map((c) => c.id));
      emulator.dropConnections({ terminate: true });
      const conn = await until(
        () => emulator.connections.find((c) => c.id > last && c.authorizedAt && registrationsOf().some((r) => r.deviceUuid === c.deviceUuid)),
        'a new authorized socket of the bot',
      );
      check(conn.deviceUuid === device, `reconnected on another device ${conn.deviceUuid} (was ${device})`);
      check(registrationsOf().length === registered, `registered again (${registrationsOf().length - registered} new registrations)`);
      const message = emulator.postMessage({ from: alice, toPerson: bot, text: text('after reconnect') });
      await sdk.event((e) => e.event === 'created' && e.data?.id === message.id, 'a created event after the reconnect');
      return `connection ${conn.id} on the same device, no new registration, messages flow`;
    });

    await step(S, 'disconnect 1000 + unregister', async () => {
      const open = connectionsOf(device).filter((c) => c.closedAt === undefined);
      check(open.length === 1, `${open.length} open sockets on the device before disconnect`);
      const conn = open[0]!;
      await sdk.call('disconnect');
      await until(() => conn.closedAt !== undefined, 'the socket to close');
      check(conn.closeCode === 1000 && conn.closedBy === 'client', `closed with ${conn.closeCode} by ${conn.closedBy}`);
      await until(() => emulator.deviceDeletions.find((d) => d.deviceUuid === device), 'DELETE of the device');
      return `closed 1000 ${JSON.stringify(conn.closeReason)} by the client, device deleted`;
    });

    await step(S, 'no unhandled rejection / uncaught exception', async () => {
      const errors = sdk.errors();
      check(!sdk.exited, sdk.exited);
      check(errors.length === 0, errors.map((e) => `${e.event}: ${e.error} ${firstFrame(e.stack)}`).join('; '));
    });
  } finally {
    sdk.stop();
  }
}

/** The uuid inside a Hydra id (`ciscospark://us/<TYPE>/<uuid>`, base64, padded or not). */
function hydraUuid(id: unknown): string {
  return Buffer.from(String(id), 'base64').toString('utf8').split('/').pop() ?? '';
}

/** The first stack frame inside node_modules, to say where an error came from. */
function firstFrame(stack: unknown): string {
  const frame = String(stack ?? '').split('\n').find((l) => l.includes('node_modules'));
  return frame ? `(${frame.trim().replace(/^at /, '').replace(/.*interop\/node_modules\//, '')})` : '';
}

// ------------------------------------------------------------------ webex-node-bot-framework 2.3.14

async function frameworkSteps(emulator: WebexEmulator): Promise<void> {
  const bot = emulator.createBot({ displayName: 'Interop Framework Bot' });
  const alice = emulator.createUser({ displayName: 'Alice Framework' });
  const carol = emulator.createUser({ displayName: 'Carol Framework' });
  const fw = new Client('framework', 'framework/client.cjs', { TOKEN: bot.token, U2C_SERVICE_URL: emulator.u2cUrl, HYDRA_SERVICE_URL: emulator.apiUrl });
  const F = 'framework';
  const hears = (id: string, what: string) => fw.event((e) => e.event === 'hears' && e.messageId === id, `hears() on ${what} (message ${id})`);
  const spawned = (roomId: string, what: string) => fw.event((e) => e.event === 'spawn' && e.roomId === roomId, `spawn in ${what}`);
  const mention = (text: string) => `${bot.displayName} ${text}`;
  const added = emulator.createRoom({ title: 'Interop added', members: [alice, carol] });
  let created = added;
  const devicesOfBot = () => new Set(emulator.registrations.filter((r) => r.personUuid === bot.uuid).map((r) => r.deviceUuid));
  const lastConnectionId = () => Math.max(0, ...emulator.connections.map((c) => c.id));
  const newSocketOfBot = (after: number) => emulator.connections.find((c) => c.id > after && c.authorizedAt && devicesOfBot().has(c.deviceUuid));
  /** Answered GETs of one message (any spelling of its Hydra id). */
  const fetchesOf = (uuid: string) =>
    emulator.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/messages/') && hydraUuid(r.path.slice('/v1/messages/'.length)) === uuid).length;

  try {
    await step(F, 'start() initialized', async () => {
      await fw.call('start');
      await fw.event((e) => e.event === 'initialized', "the 'initialized' event");
    }, 30_000);

    await step(F, 'hears() in a direct room', async () => {
      const message = emulator.postMessage({ from: alice, toPerson: bot, text: 'hello direct' });
      await hears(message.id, 'a direct message');
    });

    await step(F, 'spawn when added to a room', async () => {
      emulator.addMember(added, bot, alice);
      const spawn = await spawned(added.id, 'the room the bot was added to');
      return `addedBy ${hydraUuid(spawn.addedBy) === alice.uuid ? 'Alice' : spawn.addedBy}`;
    });

    await step(F, 'spawn when a room is created with it', async () => {
      created = emulator.createRoom({ title: 'Interop created', members: [alice, bot] });
      await spawned(created.id, 'the room created with the bot');
    });

    await step(F, 'hears() on a group @mention', async () => {
      const message = emulator.postMessage({ from: alice, room: created, text: mention('hello group'), mentions: [bot] });
      await hears(message.id, 'a group @mention');
    });

    await step(F, 'no hears() on an unmentioned group message', async () => {
      const unmentioned = emulator.postMessage({ from: alice, room: created, text: 'hello everyone, no mention' });
      const mentioned = emulator.postMessage({ from: alice, room: created, text: mention('hello again'), mentions: [bot] });
      await hears(mentioned.id, 'the mentioned message that follows the unmentioned one');
      const wrongly = fw.events.find((e) => e.event === 'hears' && e.messageId === unmentioned.id);
      check(!wrongly, `hears() fired on the unmentioned message ${JSON.stringify(wrongly?.text)}`);
    });

    await step(F, 'bot.say() reaches the emulator', async () => {
      const body = `said by the framework ${Date.now()}`;
      await fw.call('say', { roomId: created.id, text: body });
      const message = await until(() => [...emulator.messages.values()].find((m) => m.personUuid === bot.uuid && m.text === body), 'the message in the emulator');
      // The bot gets its own message back and fetches it twice (webex's messages.listen(), then
      // the framework, which then ignores it); let that settle before the server goes away below.
      await until(() => fetchesOf(message.uuid) >= 2, 'the bot to fetch its own message twice');
    });

    await step(F, 'survives a socket terminate (no error handler)', async () => {
      const last = lastConnectionId();
      emulator.dropConnections({ terminate: true });
      const conn = await until(() => newSocketOfBot(last), 'a new authorized socket of the bot');
      const message = emulator.postMessage({ from: alice, toPerson: bot, text: 'hello after terminate' });
      await hears(message.id, 'a direct message after the terminate');
      check(!fw.exited, fw.exited);
      return `reconnected (connection ${conn.id}), hears again, process alive`;
    }, 30_000);

    await step(F, 'survives a server restart (no error handler)', async () => {
      const last = lastConnectionId();
      await emulator.restart(200);
      const conn = await until(() => newSocketOfBot(last), 'a new authorized socket of the bot');
      const message = emulator.postMessage({ from: alice, toPerson: bot, text: 'hello after restart' });
      await hears(message.id, 'a direct message after the restart');
      check(!fw.exited, fw.exited);
      return `reconnected (connection ${conn.id}), hears again, process alive`;
    }, 30_000);

    await step(F, 'stop()', async () => {
      const devices = new Set(emulator.registrations.filter((r) => r.personUuid === bot.uuid).map((r) => r.deviceUuid));
      const result = await fw.call('stop');
      check(result.stopped === true, `stop() resolved ${JSON.stringify(result.stopped)}`);
      const deleted = await until(() => emulator.deviceDeletions.find((d) => devices.has(d.deviceUuid)), 'DELETE of the bot device');
      const conns = emulator.connections.filter((c) => c.deviceUuid === deleted.deviceUuid);
      const lastConn = conns[conns.length - 1];
      return `device deleted; its last socket ${lastConn?.closedAt === undefined ? 'still open' : `closed ${lastConn.closeCode} by ${lastConn.closedBy}`}`;
    });

    await step(F, 'process alive, no crash', async () => {
      check(!fw.exited, fw.exited);
    });
  } finally {
    fw.stop();
  }
}

// ------------------------------------------------------------------ main

async function main(): Promise<number> {
  ensureInstalled(join(here, 'sdk'), 'interop');
  ensureInstalled(join(here, 'framework'), 'interop');
  const watchdog = setTimeout(() => {
    console.error(`interop: the whole run took more than ${RUN_TIMEOUT / 1000} s; giving up`);
    process.exit(2);
  }, RUN_TIMEOUT);
  const emulator = await WebexEmulator.start();
  emulator.on('change', poke);
  try {
    await sdkSteps(emulator);
    await frameworkSteps(emulator);
  } finally {
    // What the emulator saw, for reading a failure: every request and socket, in order.
    const seen = [
      ...emulator.requests.map((r) => ({ kind: 'request', ...r, at: r.startedAt, answeredAt: r.at })),
      ...emulator.connections.map((c) => ({ at: c.openedAt, kind: 'socket', ...c })),
    ].sort((a, b) => a.at - b.at);
    writeFileSync(join(here, 'logs', 'emulator.log'), seen.map((x) => JSON.stringify(x)).join('\n') + '\n');
    await emulator.close();
    clearTimeout(watchdog);
  }

  const failed = results.filter((r) => !r.ok);
  const width = Math.max(...results.map((r) => `${r.client} ${r.step}`.length));
  console.log(`\n${'step'.padEnd(width)}  result  ms`);
  for (const r of results) console.log(`${`${r.client} ${r.step}`.padEnd(width)}  ${r.ok ? 'PASS' : 'FAIL'}    ${r.ms}`);
  console.log(`\n${results.length - failed.length}/${results.length} steps passed${failed.length ? `; failed: ${failed.map((r) => `${r.client} ${r.step}`).join(', ')}` : ''}`);
  console.log('client logs: interop/logs/');
  return failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error('interop: run failed:', error);
    process.exit(1);
  },
);
