/**
 * A real `redis-server` for tests, soak and bench: started on 127.0.0.1 on a free port in a temp
 * dir, without persistence, and ready (it answered PING) when the promise resolves. It can be
 * stopped, killed, restarted on the same port, and never outlives this process. Tests use
 * `startRedis(t)`, which skips them when the binary is missing (and fails them in CI).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, rmSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';
import { defer, tempDir } from './helpers.js';

export interface RedisServer {
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** SIGTERM, then waits for the exit; SIGKILL after 5 s. Does nothing when it is not running. */
  stop(): Promise<void>;
  /** stop(), then start() on the same port and dir: resolves once it accepts connections again (with no data). */
  restart(): Promise<void>;
  /** SIGKILL, then waits for the exit. Does nothing when it is not running. */
  kill(): Promise<void>;
  /** Starts it again after stop() or kill(), on the same port and dir. Does nothing when it is running. */
  start(): Promise<void>;
}

const READY_TIMEOUT = 10_000;
const STOP_GRACE = 5_000;
const ATTEMPTS = 5;
const OUTPUT_LINES = 20;
const SKIP_MESSAGE = 'redis-server not installed (apt-get install redis-server): Redis tests skipped';

/** The path of the `redis-server` binary, the first on PATH (Debian's is /usr/bin/redis-server); undefined when there is none. */
export function findRedisServer(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'redis-server');
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

// Every running child, killed on this process's `exit` event (a test that
// forgot to stop it, an uncaught exception, process.exit()).
const running = new Set<ChildProcess>();
// Dirs launchRedis made itself (none given): removed at exit, once their server is gone.
const ownDirs = new Set<string>();
let exitHook = false;
function hookExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
    for (const dir of ownDirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  });
}

/** A port free right now: the kernel picks one for a listener on port 0, which is then closed. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** True when something on `port` answers `PING` with `+PONG` within `timeout` ms. */
function ping(port: number, timeout = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeout);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class Instance implements RedisServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private lines: string[] = [];

  constructor(
    private readonly binary: string,
    public port: number,
    public readonly dir: string,
    private readonly persist = false,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** One attempt: spawns redis-server on this.port; 'in-use' when the port was taken, otherwise throws on failure. */
  async spawnOnce(): Promise<'ready' | 'in-use'> {
    this.lines = [];
    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--protected-mode', 'no',
      '--save', '',
      // persist: every write in the append-only file before it is answered, so a kill or restart loses nothing (as a production Redis should).
      '--appendonly', this.persist ? 'yes' : 'no',
      ...(this.persist ? ['--appendfsync', 'always'] : []),
      '--dir', this.dir,
      '--daemonize', 'no',
      '--logfile', '',
    ];
    const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    running.add(child);
    let partial = '';
    let ready = false;
    const collect = (chunk: Buffer) => {
      const text = partial + chunk.toString();
      if (/ready to accept connections/i.test(text)) ready = true;
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      this.lines.push(...parts.filter((line) => line.trim() !== ''));
      if (this.lines.length > OUTPUT_LINES) this.lines.splice(0, this.lines.length - OUTPUT_LINES);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    let exit: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | undefined;
    this.exited = new Promise<void>((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
        if (exit) return;
        exit = { code, signal, ...(error ? { error } : {}) };
        if (partial.trim() !== '') this.lines.push(partial);
        running.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      };
      child.on('exit', (code, signal) => finish(code, signal));
      // spawn failures (ENOENT, EACCES) emit 'error' and no 'exit'.
      child.on('error', (error) => finish(null, null, error));
    });
    const deadline = Date.now() + READY_TIMEOUT;
    while (Date.now() < deadline) {
      if (exit) {
        if (this.output().includes('Address already in use')) return 'in-use';
        const how = exit.error ? exit.error.message : exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
        throw new Error(`redis-server on port ${this.port} exited (${how}) before accepting connections. Its last output:\n${this.output() || '(none)'}`);
      }
      // Its own PONG, not another server's: it said it listens, and it answers.
      if (ready && (await ping(this.port, 500)) && !exit) return 'ready';
      await sleep(20);
    }
    await this.kill();
    throw new Error(`redis-server on port ${this.port} did not accept connections within ${READY_TIMEOUT / 1000} s; it was killed. Its last output:\n${this.output() || '(none)'}`);
  }

  /** Starts it: on this.port, retried a few times when the port is taken (on a fresh port when `anyPort`). */
  async launch(anyPort: boolean): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if ((await this.spawnOnce()) === 'ready') return;
      if (attempt >= ATTEMPTS) {
        throw new Error(`redis-server could not listen on 127.0.0.1:${this.port} after ${ATTEMPTS} attempts: Address already in use. Its last output:\n${this.output()}`);
      }
      if (anyPort) this.port = await freePort();
      else await sleep(100 * attempt);
    }
  }

  private output(): string {
    return this.lines.slice(-OUTPUT_LINES).join('\n');
  }

  async start(): Promise<void> {
    if (this.child) return;
    await this.launch(false);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE);
    await this.exited;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

/**
 * Starts `redis-server` on 127.0.0.1, on `port` or on a free one, in `dir` or a fresh temp dir
 * (removed when this process exits; a given dir is left alone), without persistence unless `persist`
 * (an append-only file synced on every write: restarts and kills lose nothing). Resolves
 * once it answers PING; throws with its last output when it does not within 10 s. Callers
 * stop() it; it is killed anyway when this process exits.
 */
export async function launchRedis(options: { dir?: string; port?: number; persist?: boolean } = {}): Promise<RedisServer> {
  const binary = findRedisServer();
  if (!binary) throw new Error('redis-server is not installed (apt-get install redis-server)');
  hookExit();
  let dir = options.dir;
  if (!dir) {
    dir = await mkdtemp(join(tmpdir(), 'sparkbot-redis-'));
    ownDirs.add(dir);
  }
  const server = new Instance(binary, options.port ?? (await freePort()), dir, options.persist === true);
  await server.launch(options.port === undefined);
  return server;
}

let skipNoted = false;

/**
 * A redis-server for test `t`, stopped and its temp dir removed after the test. Without the
 * binary: fails in CI (CI=true), otherwise skips the test and resolves undefined (the test then
 * returns), saying so once per process.
 */
export async function startRedis(t: TestContext, options: { persist?: boolean } = {}): Promise<RedisServer | undefined> {
  if (!findRedisServer()) {
    if (process.env.CI === 'true') throw new Error('redis-server is not installed: CI needs it (apt-get install redis-server)');
    t.skip(SKIP_MESSAGE);
    if (!skipNoted) {
      skipNoted = true;
      console.log(SKIP_MESSAGE);
    }
    return undefined;
  }
  // tempDir registers the dir's removal first, so it runs after stop() (last registered runs first).
  const dir = await tempDir(t);
  const server = await launchRedis({ dir, ...options });
  defer(t, () => server.stop());
  return server;
}
