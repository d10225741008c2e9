/**
 * The `sparkbot` command, run as its users run it: a child process per command line (from the
 * sources through tsx, or built for `new`), its output read as they would read it. `emulator` and
 * `run --emulator` are talked to through what they print: the settings, and the chat page's API.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseCommand, UsageError } from '../src/cli/args.js';
import { watch } from '../src/cli/console.js';
import { dependencySpec, installedFromRegistry, packageRoot } from '../src/cli/package.js';
import { packageName } from '../src/cli/scaffold.js';
import { SparkBot, VERSION, type ConnectionStateName } from '../src/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'src', 'cli.ts');
const builtCli = join(root, 'dist', 'src', 'cli.js');
const tsx = import.meta.resolve('tsx');

/** The environment of a child: no token from the developer's shell, and no node:test context (a `node --test` inside would report to us). */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const name of ['WEBEX_TOKEN', 'NODE_TEST_CONTEXT', 'NODE_OPTIONS']) if (!(name in extra)) delete env[name];
  return env;
}

/** A running command: what it printed so far, a wait for a line, its exit. */
class Run {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly output = new EventEmitter();

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
      this.output.emit('data');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      this.output.emit('data');
    });
    this.exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
    void this.exited.then(() => this.output.emit('data'));
  }

  get all(): string {
    return `--- stdout\n${this.stdout}--- stderr\n${this.stderr}`;
  }

  /** Resolves with the first match of `pattern` in stdout; rejects when the command exits first or after `timeout`. */
  waitFor(pattern: RegExp, timeout = 20_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      let done = false;
      const check = () => {
        if (done) return;
        const match = this.stdout.match(pattern);
        if (match) finish(() => resolve(match));
        else if (this.child.exitCode !== null || this.child.signalCode !== null) finish(() => reject(new Error(`exited before printing ${pattern}\n${this.all}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no ${pattern} within ${timeout} ms\n${this.all}`))), timeout);
      const finish = (settle: () => void) => {
        done = true;
        clearTimeout(timer);
        this.output.off('data', check);
        settle();
      };
      this.output.on('data', check);
      check();
    });
  }

  /** Sends a signal and resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** `sparkbot …` from the sources; killed when the test ends, if it still runs. */
function sparkbot(t: TestContext, args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): Run {
  const child = spawn(process.execPath, ['--import', tsx, cli, ...args], { cwd: options.cwd ?? root, env: childEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
  const run = new Run(child);
  const hung = setTimeout(() => child.kill('SIGKILL'), 60_000);
  t.after(async () => {
    clearTimeout(hung);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await run.exited;
    }
  });
  return run;
}

/** Runs a command to its end. */
async function finished(command: string, args: readonly string[], cwd: string, timeout = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, { cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const run = new Run(child as unknown as ChildProcessWithoutNullStreams);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
  const code = await run.exited;
  clearTimeout(timer);
  return { code, stdout: run.stdout, stderr: run.stderr };
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sparkbot-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The chat page's JSON API (`/ui/api/…`), as the page calls it. */
async function ui<T>(page: string, route: string, body?: Record<string, unknown>): Promise<T> {
  const response = await fetch(new URL(`ui/api/${route}`, page), {
    method: body ? 'POST' : 'GET',
    headers: body ? { 'content-type': 'application/json', 'x-sparkbot-ui': '1' } : {},
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const answer = (await response.json()) as T;
  assert.equal(response.status, 200, `${route}: ${JSON.stringify(answer)}`);
  return answer;
}

interface UiPerson {
  readonly id: string;
  readonly displayName: string;
  readonly type: 'person' | 'bot';
}

/** "You" writes `text` to `bot` in their direct room, through the chat page; resolves with the room's id. */
async function youSay(page: string, text: string, bot: string): Promise<{ roomId: string; you: UiPerson; bot: UiPerson }> {
  const { items } = await ui<{ items: UiPerson[] }>(page, 'people');
  const you = items.find((p) => p.displayName === 'You');
  const other = items.find((p) => p.type === 'bot' && p.displayName === bot);
  assert.ok(you && other, `You and ${bot} on the emulator: ${JSON.stringify(items)}`);
  const room = await ui<{ id: string }>(page, 'direct', { as: you.id, with: other.id });
  await ui(page, 'messages', { as: you.id, roomId: room.id, text });
  return { roomId: room.id, you, bot: other };
}

/** What `sparkbot emulator` printed, read back. */
function settingsOf(output: string) {
  const url = /Webex emulator on (http:\/\/\S+)/.exec(output)?.[1];
  const page = /open (http:\/\/\S+) to chat/.exec(output)?.[1];
  const line = /new SparkBot\(\{ token: '([^']+)', wdmUrl: '([^']+)', apiUrl: '([^']+)', u2cUrl: '([^']+)', allowInsecure: true \}\)/.exec(output);
  const sdk = /Webex\.init\(\{ credentials: \{ access_token: '([^']+)' \}, config: \{ services: \{ discovery: \{ u2c: '([^']+)', hydra: '([^']+)' \} \} \} \}\)/.exec(output);
  const framework = /U2C_SERVICE_URL=(\S+) HYDRA_SERVICE_URL=(\S+)/.exec(output);
  const you = /user "You" <[^>]+> .*\n {2}id {5}(\S+)/.exec(output)?.[1];
  assert.ok(url && page && line && sdk && framework && you, `settings in:\n${output}`);
  const [, token, wdmUrl, apiUrl, u2cUrl] = line as unknown as [string, string, string, string, string];
  return { url, page, token, wdmUrl, apiUrl, u2cUrl, sdk: { token: sdk[1], u2c: sdk[2], hydra: sdk[3] }, framework: { u2c: framework[1], hydra: framework[2] }, you };
}

/** Builds dist/ when dist/src/cli.js is missing or older than a file of src/ (`sparkbot new`'s project runs the built package). */
async function ensureBuilt(t: TestContext): Promise<void> {
  const newest = async (dir: string): Promise<number> => {
    let latest = 0;
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) latest = Math.max(latest, await newest(path));
      else if (entry.name.endsWith('.ts')) latest = Math.max(latest, (await stat(path)).mtimeMs);
    }
    return latest;
  };
  const built = await stat(builtCli).catch(() => undefined);
  if (built && built.mtimeMs >= (await newest(join(root, 'src')))) return;
  t.diagnostic('dist/ is stale: building it (tsc -p tsconfig.build.json)');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = await finished(process.execPath, [tsc, '-p', 'tsconfig.build.json'], root, 120_000);
  // tsc emits even with type errors (someone else's file being edited): go on if it did, and say so.
  if (build.code !== 0) t.diagnostic(`the build reported errors:\n${build.stdout}${build.stderr}`);
  assert.ok(existsSync(builtCli), `the build made no dist/src/cli.js\n${build.stdout}${build.stderr}`);
}

// Every test waits on child processes: they run side by side.
describe('sparkbot', { concurrency: true }, () => {
  describe('the command line', { concurrency: true }, () => {
    test('--help shows every command and option, and says why the emulator prints tokens', async (t) => {
      const run = sparkbot(t, ['--help']);
      assert.equal(await run.exited, 0, run.all);
      for (const word of ['sparkbot demo', 'sparkbot emulator', 'sparkbot run <bot-file>', 'sparkbot new <dir>', '--verbose', '--inspect=stately', '--emulator', '--port', '--host', '--state', '--version', 'WEBEX_TOKEN']) {
        assert.ok(run.stdout.includes(word), `${word} in the help:\n${run.stdout}`);
      }
      assert.match(run.stdout, /printing them\s+is the point/);
      assert.equal(run.stderr, '');
    });

    test('--version prints the version of package.json', async (t) => {
      const run = sparkbot(t, ['--version']);
      assert.equal(await run.exited, 0, run.all);
      const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
      assert.equal(run.stdout.trim(), manifest.version);
      assert.equal(VERSION, manifest.version);
    });

    test('an unknown option or command is refused with the usage on stderr, exit code 2, no stack trace', async (t) => {
      for (const args of [['--frobnicate'], ['frobnicate'], ['demo', '--port', '1'], ['run'], ['emulator', '--port', 'x'], ['demo', '--inspect=chrome']]) {
        const run = sparkbot(t, args);
        assert.equal(await run.exited, 2, `${args.join(' ')}\n${run.all}`);
        assert.equal(run.stdout, '');
        assert.match(run.stderr, /^sparkbot: .+\n\nsparkbot — /, args.join(' '));
        assert.match(run.stderr, /Usage:/);
        assert.doesNotMatch(run.stderr, /^\s+at /m, 'no stack trace');
      }
    });

    test('parses each command and its options', () => {
      assert.deepEqual(parseCommand([]), { name: 'default', verbose: false, inspect: undefined });
      assert.deepEqual(parseCommand(['--inspect']), { name: 'default', verbose: false, inspect: 'local' });
      assert.deepEqual(parseCommand(['demo', '-v', '--inspect=stately']), { name: 'demo', verbose: true, inspect: 'stately' });
      assert.deepEqual(parseCommand(['emulator', '-p', '8123', '--host', '0.0.0.0', '--state', 's.json']), { name: 'emulator', port: 8123, host: '0.0.0.0', state: 's.json' });
      assert.deepEqual(parseCommand(['run', 'bot.js', '--emulator', '--inspect']), { name: 'run', file: 'bot.js', emulator: true, verbose: false, inspect: 'local' });
      assert.deepEqual(parseCommand(['new', 'my-bot']), { name: 'new', dir: 'my-bot' });
      assert.deepEqual(parseCommand(['run', '--help']), { name: 'help' });
      assert.throws(() => parseCommand(['new', 'a', 'b']), UsageError);
      assert.throws(() => parseCommand(['run', 'bot.js', '--inspect', 'stately']), /unexpected argument "stately"/);
      assert.throws(() => parseCommand(['emulator', '--port', '70000']), /--port takes a port number/);
    });

    test('run without WEBEX_TOKEN and without --emulator says what to do, exit code 2', async (t) => {
      const dir = await tempDir(t);
      await writeFile(join(dir, 'bot.js'), 'export default () => {};\n');
      const run = sparkbot(t, ['run', 'bot.js'], { cwd: dir });
      assert.equal(await run.exited, 2, run.all);
      assert.match(run.stderr, /WEBEX_TOKEN is not set/);
      assert.match(run.stderr, /sparkbot run bot\.js --emulator/);
      assert.doesNotMatch(run.stderr, /^\s+at /m);

      const bad = sparkbot(t, ['run', 'bot.js'], { cwd: dir, env: { WEBEX_TOKEN: 'not-a secret-token' } });
      assert.equal(await bad.exited, 2, bad.all);
      assert.match(bad.stderr, /INVALID_OPTION: the token/);
      assert.doesNotMatch(bad.all, /secret/, 'the token is not printed');
    });

    test('--inspect=stately without @statelyai/inspect says how to install it, exit code 2', async (t) => {
      const installed = await import('@statelyai/inspect' as string).then(
        () => true,
        () => false,
      );
      if (installed) return t.skip('@statelyai/inspect is installed here');
      const run = sparkbot(t, ['demo', '--inspect=stately']);
      assert.equal(await run.exited, 2, run.all);
      assert.match(run.stderr, /npm i -D @statelyai\/inspect/);
      assert.doesNotMatch(run.stderr, /^\s+at /m);
    });

    test('run refuses a missing file and a module without a default function, exit code 2', async (t) => {
      const dir = await tempDir(t);
      await writeFile(join(dir, 'named.mjs'), 'export const setup = () => {};\n');
      const missing = sparkbot(t, ['run', 'nope.js', '--emulator'], { cwd: dir });
      const named = sparkbot(t, ['run', 'named.mjs', '--emulator'], { cwd: dir });
      assert.equal(await missing.exited, 2, missing.all);
      assert.match(missing.stderr, /no such file: .*nope\.js/);
      assert.equal(await named.exited, 2, named.all);
      assert.match(named.stderr, /must export a function as its default export/);
    });
  });

  describe('sparkbot emulator', { concurrency: true }, () => {
    test('prints its URL, the bot token and settings that work: a SparkBot connects with them and answers', async (t) => {
      const port = await freePort();
      const run = sparkbot(t, ['emulator', '--port', String(port)]);
      await run.waitFor(/allowInsecure: true[^]*HYDRA_SERVICE_URL=.*\n[^]*nowhere else/);
      const settings = settingsOf(run.stdout);
      assert.equal(settings.url, `http://127.0.0.1:${port}`);
      assert.equal(settings.page, `http://127.0.0.1:${port}/`);
      assert.deepEqual(settings.sdk, { token: settings.token, u2c: settings.u2cUrl, hydra: settings.apiUrl });
      assert.deepEqual(settings.framework, { u2c: settings.u2cUrl, hydra: settings.apiUrl });

      const bot = new SparkBot({ token: settings.token, wdmUrl: settings.wdmUrl, apiUrl: settings.apiUrl, u2cUrl: settings.u2cUrl, allowInsecure: true, lastConn: false });
      bot.command('hello', ({ reply }) => reply('Hello from the test!'));
      t.after(() => bot.stop());
      await bot.start();
      assert.equal(bot.currentUser?.displayName, 'My Bot');
      await youSay(settings.page, '/hello', 'My Bot');
      await run.waitFor(/message {2}My Bot: Hello from the test!/);

      assert.equal(await run.stop(), 0, run.all);
      assert.equal(run.stderr, '');
    });

    test('--state keeps the people, their tokens and the messages across a restart', async (t) => {
      const dir = await tempDir(t);
      const state = join(dir, 'state.json');
      const first = sparkbot(t, ['emulator', '--state', state]);
      await first.waitFor(/nowhere else/);
      const before = settingsOf(first.stdout);
      const { roomId, you } = await youSay(before.page, 'remember me', 'My Bot');
      assert.equal(you.id, before.you);
      assert.equal(await first.stop(), 0, first.all);
      assert.ok(existsSync(state), 'the state file is written');

      const second = sparkbot(t, ['emulator', '--state', state]);
      await second.waitFor(/nowhere else/);
      assert.match(second.stdout, /reloaded/);
      const after = settingsOf(second.stdout);
      assert.equal(after.you, before.you, 'the same user "You"');
      assert.equal(after.token, before.token, 'the same bot, with the same token');
      assert.equal((second.stdout.match(/^bot /gm) ?? []).length, 1, 'no second bot');
      const { items } = await ui<{ items: Array<{ text?: string }> }>(after.page, `messages?as=${encodeURIComponent(after.you)}&roomId=${encodeURIComponent(roomId)}`);
      assert.deepEqual(
        items.map((m) => m.text),
        ['remember me'],
      );
      assert.equal(await second.stop(), 0, second.all);
    });
  });

  describe('sparkbot run', { concurrency: true }, () => {
    for (const [file, source] of [
      ['echo.mjs', "export default (bot) => { bot.command('ping', ({ args, reply }) => reply(`pong ${args.join(' ')}`)); };\n"],
      ['echo.cjs', "module.exports = (bot) => { bot.command('ping', ({ args, reply }) => reply(`pong ${args.join(' ')}`)); };\n"],
    ] as const) {
      test(`--emulator runs ${file} on a fresh emulator, with a chat page where it answers you, and stops on SIGTERM`, async (t) => {
        const dir = await tempDir(t);
        await writeFile(join(dir, file), source);
        const run = sparkbot(t, ['run', file, '--emulator'], { cwd: dir });
        const [, page] = (await run.waitFor(/open (http:\/\/\S+) to chat with your bot/)) as unknown as [string, string];
        await run.waitFor(/ready as Echo Bot/);
        await youSay(page, `/ping ${file}`, 'Echo Bot');
        await run.waitFor(new RegExp(`message {2}Echo Bot: pong ${file.replace('.', '\\.')}`));
        // The chat page shows the bot's machine: the local inspector is registered with the emulator.
        const { items } = await ui<{ items: Array<{ name: string; url: string }> }>(page, 'inspectors');
        assert.deepEqual(
          items.map((i) => i.name),
          ['Echo Bot'],
        );
        assert.equal(await run.stop('SIGTERM'), 0, run.all);
        assert.match(run.stdout, /SIGTERM: stopping[^]*state {4}open → idle[^]*stopped/);
        assert.equal(run.stderr, '');
        assert.doesNotMatch(run.all, /_P0A1_/, 'no token printed');
      });
    }
  });

  describe('sparkbot demo', { concurrency: true }, () => {
    test('prints the chat page, and exits 0 quietly on Ctrl-C at any moment: starting, in backoff, reconnecting', async (t) => {
      const moments = [/demo: Webex emulator on/, /state {4}open → backoff/, /state {4}backoff → fetchingUrl/, /state {4}awaitingPong → backoff/];
      await Promise.all(
        moments.map(async (moment) => {
          const run = sparkbot(t, ['demo']);
          await run.waitFor(moment, 30_000);
          assert.equal(await run.stop('SIGINT'), 0, `${moment}\n${run.all}`);
          assert.equal(run.stderr, '', `${moment}: nothing on stderr\n${run.all}`);
          assert.match(run.stdout, /open http:\/\/127\.0\.0\.1:\d+\/ to chat with the bot and watch its machine/);
          assert.match(run.stdout, /SIGINT: stopping\n.*stopped\n$/s, `${moment}\n${run.all}`);
          assert.doesNotMatch(run.stdout, /^ +[\d.]+s {2}(error|warning|while stopping|stopping takes)/m, `${moment}\n${run.all}`);
        }),
      );
    });

    test('--inspect prints the local inspector, whose page answers', async (t) => {
      const run = sparkbot(t, ['demo', '--inspect']);
      const [, url] = (await run.waitFor(/inspect: (http:\/\/\S+)/)) as unknown as [string, string];
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.match(await response.text(), /<html/i);
      assert.equal(await run.stop(), 0, run.all);
    });

    test('--verbose shows the pings that are answered', async (t) => {
      const run = sparkbot(t, ['demo', '--verbose']);
      await run.waitFor(/demo: recovered[^]*state {4}open → awaitingPong\n.*state {4}awaitingPong → open/, 30_000);
      assert.equal(await run.stop(), 0, run.all);
    });

    test('without --verbose, a ping shows only when its pong does not come', () => {
      const bot = new EventEmitter() as EventEmitter & { health(): { lastError: string | null } };
      bot.health = () => ({ lastError: 'no pong within pingWait (1000 ms)' });
      const lines: string[] = [];
      watch(bot as unknown as SparkBot, (line) => lines.push(line), { verbose: false });
      const go = (previous: ConnectionStateName, state: ConnectionStateName) => bot.emit('state', state, previous);
      go('connecting', 'open');
      go('open', 'awaitingPong');
      go('awaitingPong', 'open');
      go('open', 'awaitingPong');
      go('awaitingPong', 'backoff');
      assert.deepEqual(lines, ['state    connecting → open', 'state    open → awaitingPong', 'state    awaitingPong → backoff   (no pong within pingWait (1000 ms))']);
    });
  });

  describe('sparkbot new', { concurrency: true }, () => {
    test('names the package after the directory, and depends on this sparkbot by path unless it came from a registry', () => {
      assert.equal(packageName('/tmp/My Cool Bot!'), 'my-cool-bot');
      assert.equal(packageName('/tmp/.hidden_'), 'hidden');
      assert.equal(packageName('/tmp/@@@'), 'my-bot');
      assert.equal(installedFromRegistry('/srv/app/node_modules/sparkbot'), true);
      assert.equal(installedFromRegistry(root.replace(/\/$/, '')), false);
      assert.equal(packageRoot(), root.replace(/\/$/, ''));
      assert.equal(dependencySpec(root.replace(/\/$/, '')), `file:${root.replace(/\/$/, '')}`);
      assert.equal(dependencySpec('/srv/app/node_modules/sparkbot'), `^${VERSION}`);
    });

    test('writes a project whose own npm test passes right after npm install, offline; refuses a non-empty directory', { timeout: 180_000 }, async (t) => {
      await ensureBuilt(t);
      const dir = await tempDir(t);
      const project = join(dir, 'Hello Bot');
      const made = await finished(process.execPath, [builtCli, 'new', project], dir);
      assert.equal(made.code, 0, `${made.stdout}${made.stderr}`);
      assert.match(made.stdout, /created hello-bot in /);
      assert.deepEqual((await readdir(project)).sort(), ['.gitignore', 'README.md', 'bot.js', 'bot.test.js', 'package.json']);
      const manifest = JSON.parse(await readFile(join(project, 'package.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(manifest.name, 'hello-bot');
      assert.equal(manifest.type, 'module');
      assert.deepEqual(manifest.scripts, { start: 'sparkbot run bot.js', dev: 'sparkbot run bot.js --emulator', test: 'node --test' });
      assert.deepEqual(manifest.dependencies, { sparkbot: `file:${root.replace(/\/$/, '')}` });
      const readme = await readFile(join(project, 'README.md'), 'utf8');
      for (const word of ['npm run dev', 'npm test', 'WEBEX_TOKEN', '# hello-bot']) assert.ok(readme.includes(word), word);

      // --ignore-scripts: npm would otherwise run the linked sparkbot's `prepare` (its build), done above.
      const install = await finished('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], project, 90_000);
      assert.equal(install.code, 0, `${install.stdout}${install.stderr}`);
      const tested = await finished('npm', ['test'], project, 60_000);
      assert.equal(tested.code, 0, `${tested.stdout}${tested.stderr}`);
      assert.match(tested.stdout, /# pass 3\b/);
      assert.match(tested.stdout, /# fail 0\b/);

      const again = await finished(process.execPath, [builtCli, 'new', project], dir);
      assert.equal(again.code, 2, `${again.stdout}${again.stderr}`);
      assert.match(again.stderr, /is not empty/);
      await mkdir(join(dir, 'empty'));
      const empty = await finished(process.execPath, [builtCli, 'new', 'empty'], dir);
      assert.equal(empty.code, 0, `${empty.stdout}${empty.stderr}`);
    });
  });
});
