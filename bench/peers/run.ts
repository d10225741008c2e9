/**
 * sparkbot side by side with the official Webex SDK 3.12, webex-node-bot-framework 2.3 and a bare
 * ws + node:http client, against the emulator (`npm run bench:peers`; docs/benchmarks.md).
 *
 *   npm run bench:peers [-- --rounds N | --quick] [--json] [--install-only] [--no-build]
 *                          [--messages N] [--activities N] [--bots N]
 *
 * The emulator runs in a process of its own (bench/peers/emulator.mjs, pinned to core 0), each client
 * in another (its driver: sparkbot.mjs, sdk/client.cjs, framework/client.cjs, bare.cjs, pinned to
 * core 1); this runner drives both over IPC. Clients are interleaved round by round; every number
 * printed is the median over the rounds. bench/peers/{sdk,framework}/node_modules are installed here,
 * on demand, never by the project's own `npm install`.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureInstalled } from '../../scripts/install-peer.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const ROUNDS = flag('--quick') ? 1 : option('--rounds', 5);
const MESSAGES = option('--messages', 1000);
const ACTIVITIES = option('--activities', 2000);
const BOTS = option('--bots', 100);
const LOADS = 3; // cold-load processes per client and round

// ------------------------------------------------------------------ the clients

interface Peer {
  readonly key: 'sparkbot' | 'sdk' | 'framework' | 'bare';
  readonly title: string;
  /** Where the driver and the cold-load process run (their node_modules). */
  readonly cwd: string;
  readonly driver: string;
  /** Code for `node -e`: load the client as its users do. */
  readonly load: string;
}

const loaded = 'console.log(performance.now())';
const peers: readonly Peer[] = [
  { key: 'sparkbot', title: 'sparkbot', cwd: root, driver: join(here, 'sparkbot.mjs'), load: `import('sparkbot').then(() => ${loaded})` },
  {
    key: 'sdk',
    title: 'official SDK 3.12',
    cwd: join(here, 'sdk'),
    driver: join(here, 'sdk/client.cjs'),
    load: `${['webex-core', 'internal-plugin-device', 'internal-plugin-mercury', 'internal-plugin-metrics', 'plugin-people', 'plugin-messages'].map((p) => `require('@webex/${p}');`).join(' ')} ${loaded}`,
  },
  { key: 'framework', title: 'webex-node-bot-framework 2.3', cwd: join(here, 'framework'), driver: join(here, 'framework/client.cjs'), load: `require('webex-node-bot-framework'); ${loaded}` },
  { key: 'bare', title: 'bare ws + node:http client', cwd: here, driver: join(here, 'bare.cjs'), load: `require('ws'); require('node:http'); ${loaded}` },
];

// ------------------------------------------------------------------ build

/** Newest modification time of the files under `dir`. */
function newest(dir: string): number {
  return Math.max(0, ...readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => statSync(join(e.parentPath, e.name)).mtimeMs));
}

/** sparkbot is measured as users get it, from dist/: rebuilt when src/ or machines/ is newer. */
function ensureBuilt(): void {
  const built = join(root, 'dist/src/index.js');
  if (existsSync(built) && statSync(built).mtimeMs >= Math.max(newest(join(root, 'src')), newest(join(root, 'machines')))) return;
  if (flag('--no-build')) return console.error('bench:peers: dist/ is older than src/, measuring it anyway (--no-build)');
  console.error('bench:peers: dist/ is older than src/: npm run build');
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', process.stderr, 'inherit'] });
}

// ------------------------------------------------------------------ processes

const pin = availableParallelism() >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
/** The command line of a node process, pinned to `core` with taskset when there are 2+ cores. */
const node = (core: number, argv: string[]): [string, string[]] => (pin ? ['taskset', ['-c', String(core), process.execPath, ...argv]] : [process.execPath, argv]);

const logs = join(here, 'logs');
let env: Record<string, string> = {};
const problems: string[] = [];

interface Report {
  readonly event?: string;
  readonly re?: number;
  readonly ok?: boolean;
  readonly [key: string]: any;
}

/** A node process driven over IPC: `call` a command, wait for the `next` report of an event. */
class Child {
  private readonly proc: ChildProcess;
  private lastId = 0;
  private readonly waiting = new Map<number | string, { resolve(value: any): void; reject(error: Error): void }>();
  private exited: string | undefined;

  constructor(
    readonly name: string,
    core: number,
    script: string,
    cwd: string,
  ) {
    mkdirSync(logs, { recursive: true });
    const log = openSync(join(logs, `${name}.log`), 'a');
    const [command, argv] = node(core, ['--expose-gc', script]);
    this.proc = spawn(command, argv, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', log, log, 'ipc'] });
    this.proc.on('message', (m: Report) => {
      if (m.event === 'error') problems.push(`${name}: ${m.error}`);
      const key = m.re ?? m.event ?? '';
      const waiter = this.waiting.get(key);
      if (!waiter) return;
      this.waiting.delete(key);
      if (m.re !== undefined && !m.ok) waiter.reject(new Error(`${name}: ${m.error}`));
      else waiter.resolve(m.re !== undefined ? m.value : m);
    });
    this.proc.on('exit', (code, signal) => {
      this.exited = `${name} exited (${signal ?? code}); see ${relative(root, join(logs, `${name}.log`))}`;
      for (const waiter of this.waiting.values()) waiter.reject(new Error(this.exited));
      this.waiting.clear();
    });
  }

  private wait<T>(key: number | string, what: string, timeout: number): Promise<T> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no answer to ${what} within ${timeout / 1000} s`)), timeout);
      const done = (f: (v: any) => void) => (v: any) => (clearTimeout(timer), f(v));
      this.waiting.set(key, { resolve: done(resolve), reject: done(reject) });
    });
  }

  call<T = any>(cmd: string, args: object = {}, timeout = 120_000): Promise<T> {
    const id = ++this.lastId;
    const answer = this.wait<T>(id, cmd, timeout);
    this.proc.send({ id, cmd, args });
    return answer;
  }

  next(event: string, timeout = 120_000): Promise<Report> {
    return this.wait<Report>(event, `'${event}'`, timeout);
  }

  stop(): Promise<void> {
    if (this.exited) return Promise.resolve();
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.kill();
    const hard = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
    return gone.finally(() => clearTimeout(hard));
  }
}

// ------------------------------------------------------------------ the measures

type Cpu = { user: number; system: number };
const cpuUs = (from: Cpu, to: Cpu) => to.user + to.system - from.user - from.system;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

interface Sample {
  loadMs: number[];
  freshMs: number;
  warmMs: number;
  messagesPerSecond: number;
  cpuPerMessageUs: number;
  cpuPerActivityUs: number;
  heapPerBotKiB: number;
}

/** A fresh `node -e` that loads the client: ms from the process's start to loaded (Node's own start included). */
function coldLoad(cwd: string, code: string): number {
  const [command, argv] = node(1, ['-e', code]);
  const out = execFileSync(command, argv, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return Number(out.trim().split('\n').pop());
}

/** n messages posted at once by 4 users; the client GETs each and its handler sees it. */
async function messages(client: Child, emulator: Child, uuid: string, n: number) {
  const { cpu } = await client.call('arm', { n });
  const done = client.next('done', 60_000);
  const posted = await emulator.call('post', { uuid, n });
  const end = await done.catch(async (error: Error) => {
    throw new Error(`${error.message} (it handled ${(await client.call('cpu')).seen} of ${n})`);
  });
  return { perSecond: n / ((end.at - posted.at) / 1000), cpuPerMessageUs: cpuUs(cpu, end.cpu) / n };
}

/**
 * Warm-up: batches of n messages until the client handled a whole batch (the framework drops what
 * comes to a direct room while it spawns its bot there: of the first 100, it handles 4).
 */
async function warmUp(client: Child, emulator: Child, uuid: string, n: number): Promise<void> {
  for (let batch = 1; ; batch += 1) {
    await client.call('arm', { n: 0 });
    await emulator.call('post', { uuid, n });
    let seen = 0;
    for (let last = -1; seen < n && seen !== last; ) {
      last = seen;
      await new Promise((resolve) => setTimeout(resolve, 500));
      seen = (await client.call('cpu')).seen;
    }
    if (seen === n) return;
    if (batch === 5) throw new Error(`${client.name}: handled ${seen} of ${n} warm-up messages, 5 times`);
  }
}

/** n `acknowledge` activities (no REST call in any client): client CPU until the last is acked. */
async function activities(client: Child, emulator: Child, uuid: string, n: number) {
  const { cpu: before } = await client.call('cpu');
  await emulator.call('activities', { uuid, n });
  const { cpu: after } = await client.call('cpu');
  return cpuUs(before, after) / n;
}

async function measure(peer: Peer): Promise<Sample> {
  const loadMs = Array.from({ length: LOADS }, () => coldLoad(peer.cwd, peer.load));
  const emulator = new Child('emulator', 0, join(here, 'emulator.mjs'), here);
  try {
    await emulator.next('loaded');
    const urls = await emulator.call('urls');
    env = { U2C_URL: urls.u2cUrl, API_URL: urls.apiUrl, WDM_URL: urls.wdmUrl, U2C_SERVICE_URL: urls.u2cUrl, HYDRA_SERVICE_URL: urls.apiUrl };
    const [first, bot] = await emulator.call('bots', { n: 2 });

    const client = new Child(peer.key, 1, peer.driver, peer.cwd);
    const sample: Partial<Sample> = { loadMs };
    try {
      await client.next('loaded');
      sample.freshMs = (await client.call('start', { token: first.token })).ms;
      await client.call('stop');
      sample.warmMs = (await client.call('start', { token: bot.token })).ms;
      await warmUp(client, emulator, bot.uuid, 100); // the framework spawns its bots here
      const m = await messages(client, emulator, bot.uuid, MESSAGES);
      sample.messagesPerSecond = m.perSecond;
      sample.cpuPerMessageUs = m.cpuPerMessageUs;
      await activities(client, emulator, bot.uuid, 100); // warm-up
      sample.cpuPerActivityUs = await activities(client, emulator, bot.uuid, ACTIVITIES);
      await client.call('stop');
    } finally {
      await client.stop();
    }

    const idle = new Child(`${peer.key}-heap`, 1, peer.driver, peer.cwd);
    try {
      await idle.next('loaded');
      const tokens = (await emulator.call('bots', { n: BOTS + 1 })).map((b: { token: string }) => b.token);
      sample.heapPerBotKiB = (await idle.call('heap', { tokens }, 600_000)).perBot / 1024;
    } finally {
      await idle.stop();
    }
    return sample as Sample;
  } finally {
    await emulator.stop();
  }
}

/** Disk taken by the install: apparent bytes (`du -sb`) and number of packages. */
function installSize(peer: Peer): { bytes: number; packages: number } | undefined {
  const du = (paths: string[]) => execFileSync('du', ['-sbc', ...paths], { encoding: 'utf8' }).trim().split('\n').pop()!;
  if (peer.key === 'bare') return undefined;
  if (peer.key === 'sparkbot') {
    // sparkbot's production dependencies, as `npm ls --omit=dev` finds them in the project's node_modules.
    const paths = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8' }).trim().split('\n').slice(1);
    return { bytes: parseInt(du(paths)), packages: new Set(paths).size };
  }
  const modules = join(peer.cwd, 'node_modules');
  const installed = Object.keys(JSON.parse(readFileSync(join(modules, '.package-lock.json'), 'utf8')).packages).filter((p) => p.includes('node_modules/'));
  return { bytes: parseInt(du([modules])), packages: installed.length };
}

// ------------------------------------------------------------------ the table

/** sparkbot's install at the time of the issue (2026-11-30), measured as installSize does. */
const INSTALL_TODAY = { bytes: 4_880_640, packages: 11 };

interface Row {
  readonly measure: string;
  readonly value: (s: Medians) => number | undefined;
  readonly show: (s: Medians) => string;
  /** The goal on sparkbot/SDK, when there is one. */
  readonly goal?: { readonly text: string; readonly pass: (ratio: number, sparkbot: Medians) => boolean };
}

type Medians = Record<keyof Omit<Sample, 'loadMs'> | 'loadMs', number> & { install?: { bytes: number; packages: number } };

const ms = (v: number) => (v < 10 ? v.toFixed(1) : v.toFixed(0));
const rows: Row[] = [
  {
    measure: 'node_modules',
    value: (s) => s.install?.bytes,
    show: (s) => (s.install ? `${(s.install.bytes / 2 ** 20).toFixed(1)} MiB, ${s.install.packages}` : '–'),
    goal: { text: `≤ today (${(INSTALL_TODAY.bytes / 2 ** 20).toFixed(1)} MiB, ${INSTALL_TODAY.packages})`, pass: (_, s) => !!s.install && s.install.bytes <= INSTALL_TODAY.bytes * 1.01 && s.install.packages <= INSTALL_TODAY.packages },
  },
  { measure: 'cold load', value: (s) => s.loadMs, show: (s) => `${ms(s.loadMs)} ms`, goal: { text: '≤ 0.35', pass: (r) => r <= 0.35 } },
  { measure: 'start → open, fresh process / warm', value: (s) => s.freshMs, show: (s) => `${ms(s.freshMs)} / ${ms(s.warmMs)} ms`, goal: { text: 'fresh ≤ 0.75', pass: (r) => r <= 0.75 } },
  { measure: 'enriched messages/s (post → GET /messages/{id} → handler)', value: (s) => s.messagesPerSecond, show: (s) => `${Math.round(s.messagesPerSecond)}`, goal: { text: '≥ 1.5', pass: (r) => r >= 1.5 } },
  { measure: 'client CPU per enriched message', value: (s) => s.cpuPerMessageUs, show: (s) => `${Math.round(s.cpuPerMessageUs)} µs`, goal: { text: '≤ 0.6', pass: (r) => r <= 0.6 } },
  { measure: 'client CPU per activity with no REST call', value: (s) => s.cpuPerActivityUs, show: (s) => `${Math.round(s.cpuPerActivityUs)} µs`, goal: { text: '≤ 0.8', pass: (r) => r <= 0.8 } },
  { measure: `heap per idle connected bot (${BOTS} bots)`, value: (s) => s.heapPerBotKiB, show: (s) => `${Math.round(s.heapPerBotKiB)} KiB`, goal: { text: '≤ 0.35', pass: (r) => r <= 0.35 } },
];

// ------------------------------------------------------------------ main

async function main(): Promise<number> {
  ensureInstalled(join(here, 'sdk'), 'bench:peers');
  ensureInstalled(join(here, 'framework'), 'bench:peers');
  if (flag('--install-only')) return 0;
  ensureBuilt();

  const samples = Object.fromEntries(peers.map((p) => [p.key, [] as Sample[]])) as Record<Peer['key'], Sample[]>;
  for (let round = 1; round <= ROUNDS; round += 1) {
    for (const peer of peers) {
      console.error(`bench:peers: round ${round}/${ROUNDS}, ${peer.title}`);
      samples[peer.key].push(await measure(peer));
    }
  }

  const medians = Object.fromEntries(
    peers.map((p) => {
      const of = (k: keyof Sample) => median(samples[p.key].flatMap((s) => s[k]));
      const m: Medians = { loadMs: of('loadMs'), freshMs: of('freshMs'), warmMs: of('warmMs'), messagesPerSecond: of('messagesPerSecond'), cpuPerMessageUs: of('cpuPerMessageUs'), cpuPerActivityUs: of('cpuPerActivityUs'), heapPerBotKiB: of('heapPerBotKiB') };
      const install = installSize(p);
      return [p.key, install ? { ...m, install } : m];
    }),
  ) as Record<Peer['key'], Medians>;
  const nodeStart = median(Array.from({ length: 5 }, () => coldLoad(root, loaded)));

  const table = rows.map((row) => {
    const ratio = row.value(medians.sparkbot)! / row.value(medians.sdk)!;
    return { row, ratio, pass: row.goal?.pass(ratio, medians.sparkbot) };
  });
  const setting = `${ROUNDS} interleaved round(s); ${MESSAGES} messages, ${ACTIVITIES} activities, ${BOTS} idle bots per round; Node ${process.version}, ${availableParallelism()} cores, ${pin ? 'emulator pinned to core 0, clients to core 1 (taskset)' : 'not pinned (taskset missing or 1 core)'}`;
  if (flag('--json')) {
    console.log(JSON.stringify({ date: new Date().toISOString(), setting, nodeStartMs: nodeStart, medians, ratios: Object.fromEntries(table.map((t) => [t.row.measure, { ratio: t.ratio, goal: t.row.goal?.text, pass: t.pass }])), samples, problems }, null, 2));
  } else {
    console.log(`| measure | ${peers.map((p) => p.title).join(' | ')} | sparkbot/SDK | goal |`);
    console.log(`| --- | ${peers.map(() => '---').join(' | ')} | --- | --- |`);
    for (const { row, ratio, pass } of table) {
      console.log(`| ${row.measure} | ${peers.map((p) => row.show(medians[p.key])).join(' | ')} | ${ratio.toFixed(2)} | ${row.goal ? `${row.goal.text} ${pass ? 'PASS' : 'FAIL'}` : ''} |`);
    }
    console.log(`\nMedians of ${setting}. Cold load includes Node's own start (${ms(nodeStart)} ms for an empty \`node -e\`).`);
    if (problems.length) console.log(`\nClients reported ${problems.length} error(s), e.g.: ${problems.slice(0, 3).join('; ')}`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error('bench:peers: failed:', error);
    process.exit(1);
  },
);
