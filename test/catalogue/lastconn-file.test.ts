/**
 * Bad input: what can sit at a last-connection path besides a good file. Only regular files are
 * read and replaced; a named pipe, a device, a socket or a directory is left alone and the store
 * stays in memory. A symlink is followed (its target is read and replaced, the link stays) unless
 * another user owns it. Temp files have unpredictable names and are created exclusively.
 * (Corrupt files: test/connection/store.test.ts; an unwritable path: catalogue/store.test.ts.)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { chmod, lchown, lstat, mkdir, open, readdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { createStore, SecureJSONFile, type LastConnection } from '../../src/actors/store.js';
import { defer, harness, tempDir } from '../support/helpers.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** A FIFO; at the end of the test it is opened for writing once, so that a reader blocked on it (the bug) wakes up. */
async function mkfifo(t: TestContext, path: string): Promise<void> {
  await run('mkfifo', ['-m', '0600', path]);
  defer(t, async () => {
    const writer = await open(path, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined);
    await writer?.close();
  });
}

async function mksocket(t: TestContext, path: string): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, resolve);
  });
  defer(t, () => new Promise<void>((resolve) => server.close(() => resolve())));
}

/** The entries of `dir`, sorted, so that a file moved aside or a leftover temp file shows. */
async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

const record = (seen: number, tag: string): LastConnection => ({
  version: 1,
  device: null,
  seen: Array.from({ length: seen }, (_, i) => `${tag}-${i}-${'x'.repeat(40)}`),
});

test('a named pipe at lastConn: start() connects, one STORE_ERROR warning names the pipe, the pipe is left alone', async (t) => {
  const dir = await tempDir(t);
  const lastConn = join(dir, 'last-connection.json');
  const { bot, emulator, warnings, until } = await harness(t, { lastConn });
  await mkfifo(t, lastConn); // its cleanup runs before the bot's stop

  await Promise.all([bot.start(), until(() => bot.state === 'open', 'the connection')]);
  await bot.stop();

  assert.equal(warnings.length, 1, `one warning: ${warnings.map((w) => w.message).join(' | ')}`);
  const [warning] = warnings;
  assert.equal(warning?.code, 'STORE_ERROR');
  assert.ok(warning?.message.includes(lastConn), 'the message names the file');
  assert.match(warning?.message ?? '', /is a named pipe, not a regular file/);
  assert.match(warning?.message ?? '', /point lastConn at a regular file, or set it to false/);
  assert.ok((await lstat(lastConn)).isFIFO(), 'the pipe is still there');
  assert.deepEqual(await entries(dir), ['last-connection.json'], 'nothing moved aside or written next to it');
  assert.equal(emulator.registrations.length, 1);
});

test('a character device at lastConn (root) is neither renamed nor replaced', { skip: !isRoot && 'mknod needs root' }, async (t) => {
  const dir = await tempDir(t);
  const lastConn = join(dir, 'last-connection.json');
  try {
    await run('mknod', [lastConn, 'c', '1', '3']); // like /dev/null
  } catch (error) {
    t.skip(`mknod failed here: ${(error as Error).message}`);
    return;
  }
  const { bot, warnings } = await harness(t, { lastConn });
  await bot.start();
  await bot.stop();

  assert.equal(warnings.length, 1, `one warning: ${warnings.map((w) => w.message).join(' | ')}`);
  assert.match(warnings[0]?.message ?? '', /is a character device, not a regular file/);
  assert.ok((await lstat(lastConn)).isCharacterDevice(), 'the device node is still there');
  assert.deepEqual(await entries(dir), ['last-connection.json']);
});

for (const [kind, make] of [
  ['socket', (t: TestContext, path: string) => mksocket(t, path)],
  ['directory', (_t: TestContext, path: string) => mkdir(path).then(() => undefined)],
] as const) {
  test(`a ${kind} at lastConn is neither renamed nor replaced; the bot runs with its device in memory`, async (t) => {
    const dir = await tempDir(t);
    const lastConn = join(dir, 'last-connection.json');
    await make(t, lastConn);
    const { bot, emulator, warnings } = await harness(t, { lastConn });
    await bot.start();
    emulator.dropConnections({ code: 1011 });
    await bot.stop();
    await bot.start();
    await bot.stop();

    assert.equal(warnings.length, 1, `one warning: ${warnings.map((w) => w.message).join(' | ')}`);
    assert.match(warnings[0]?.message ?? '', new RegExp(`is a ${kind}, not a regular file`));
    assert.equal(emulator.registrations.length, 1, 'the restarted bot reused the device from memory');
    const stats = await lstat(lastConn);
    assert.ok(kind === 'socket' ? stats.isSocket() : stats.isDirectory(), `the ${kind} is still there`);
    assert.deepEqual(await entries(dir), ['last-connection.json']);
  });
}

test('a store refused for a non-regular file keeps the device in memory and writes nothing', async (t) => {
  const dir = await tempDir(t);
  const lastConn = join(dir, 'last-connection.json');
  await mkdir(lastConn);
  const warnings: string[] = [];
  const store = createStore(lastConn, { log: () => undefined, warn: (message) => warnings.push(message) });
  const device = { url: 'https://wdm.example/devices/1', webSocketUrl: 'wss://mercury.example/1' };

  assert.equal(await store.loadDevice(), null);
  assert.equal(await store.saveDevice(device), false, 'nothing was written');
  assert.deepEqual(await store.loadDevice(), device, 'kept in memory');
  assert.equal(await store.saveSeen([['a', 1], ['b', 2]]), false);
  assert.deepEqual(await store.loadSeen(), [['a', 1], ['b', 2]]);
  assert.equal(await store.forgetDevice(), false);
  await store.flush();
  assert.equal(warnings.length, 1, warnings.join(' | '));
  assert.deepEqual(await entries(dir), ['last-connection.json']);
  assert.deepEqual(await readdir(lastConn), [], 'nothing written into the directory');
});

test('a symlink at lastConn is followed: the target is written and the link stays a link', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'real'));
  await mkdir(join(dir, 'links'));
  const target = join(dir, 'real', 'state.json');
  const lastConn = join(dir, 'last-connection.json');
  // A chain of two links, the first one relative.
  await symlink(join(dir, 'links', 'second'), lastConn);
  await symlink('../real/state.json', join(dir, 'links', 'second'));

  const first = await harness(t, { lastConn });
  await first.bot.start();
  await first.bot.stop();
  assert.ok((await lstat(lastConn)).isSymbolicLink(), 'the link stays a link');
  assert.equal(await readlink(join(dir, 'links', 'second')), '../real/state.json', 'the second link is untouched');
  const saved = JSON.parse(await readFile(target, 'utf8')) as LastConnection;
  assert.equal(saved.device?.url, first.emulator.devicesOf(first.person)[0]?.url, 'the target (created: the link was dangling) holds the device');
  assert.equal((await stat(target)).mode & 0o777, 0o600);
  assert.deepEqual(await entries(join(dir, 'real')), ['state.json'], 'no temp file left in the target directory');

  const second = await harness(t, { lastConn, emulator: first.emulator, person: first.person });
  await second.bot.start();
  await second.bot.stop();
  assert.equal(first.emulator.registrations.length, 1, 'the restart read the device through the link');
  assert.ok((await lstat(lastConn)).isSymbolicLink());
  assert.equal(first.warnings.length + second.warnings.length, 0);
});

test('a corrupt file behind a symlink is moved aside next to its target, and the link stays a link', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'real'));
  const target = join(dir, 'real', 'state.json');
  const lastConn = join(dir, 'last-connection.json');
  await writeFile(target, '{"version":1,"device":');
  await symlink(target, lastConn);
  const { bot, warnings } = await harness(t, { lastConn });
  await bot.start();
  await bot.stop();

  assert.equal(warnings.length, 1);
  assert.match(warnings[0]?.message ?? '', /could not be used .* moved to .*real\/state\.json\.corrupt-/);
  assert.ok((await lstat(lastConn)).isSymbolicLink(), 'the link stays a link');
  assert.deepEqual(await entries(dir), ['last-connection.json', 'real']);
  const files = await entries(join(dir, 'real'));
  assert.equal(files.length, 2, files.join(', '));
  assert.equal(await readFile(join(dir, 'real', files.find((f) => f.includes('.corrupt-')) ?? ''), 'utf8'), '{"version":1,"device":');
  assert.ok((JSON.parse(await readFile(target, 'utf8')) as LastConnection).device, 'the target was replaced');
});

test('a symlink owned by another user is refused', { skip: !isRoot && 'lchown needs root' }, async (t) => {
  const dir = await tempDir(t);
  const target = join(dir, 'victim.json');
  const lastConn = join(dir, 'last-connection.json');
  await writeFile(target, 'not yours\n', { mode: 0o644 });
  await symlink(target, lastConn);
  await lchown(lastConn, NOBODY, NOBODY);
  const { bot, emulator, warnings } = await harness(t, { lastConn });
  await bot.start();
  await bot.stop();

  assert.equal(warnings.length, 1, `one warning: ${warnings.map((w) => w.message).join(' | ')}`);
  assert.match(warnings[0]?.message ?? '', new RegExp(`is a symbolic link owned by another user \\(uid ${NOBODY}\\)`));
  assert.ok(warnings[0]?.message.includes(lastConn));
  assert.equal(await readFile(target, 'utf8'), 'not yours\n', 'the target is untouched');
  assert.ok((await lstat(lastConn)).isSymbolicLink(), 'the link is left alone');
  assert.deepEqual(await entries(dir), ['last-connection.json', 'victim.json']);
  assert.equal(emulator.registrations.length, 1);
});

test('a loop of symbolic links at lastConn is refused, not moved aside', async (t) => {
  const dir = await tempDir(t);
  const lastConn = join(dir, 'last-connection.json');
  await symlink(join(dir, 'other'), lastConn);
  await symlink(lastConn, join(dir, 'other'));
  const { bot, warnings } = await harness(t, { lastConn });
  await bot.start();
  await bot.stop();

  assert.equal(warnings.length, 1, `one warning: ${warnings.map((w) => w.message).join(' | ')}`);
  assert.match(warnings[0]?.message ?? '', /more than 8 symbolic links/);
  assert.deepEqual(await entries(dir), ['last-connection.json', 'other']);
  assert.ok((await lstat(lastConn)).isSymbolicLink());
});

test('a symlink planted at a temp name is never followed', async (t) => {
  const dir = await tempDir(t);
  const victim = join(dir, 'victim');
  await writeFile(victim, 'precious\n');
  const lastConn = join(dir, 'last-connection.json');
  const planted = join(dir, `.last-connection.json.${process.pid}.tmp`); // the old predictable name
  await symlink(victim, planted);
  const file = new SecureJSONFile<LastConnection>(lastConn);
  await file.write(record(3, 'a'));
  await file.write(record(4, 'b'));

  assert.equal(await readFile(victim, 'utf8'), 'precious\n', 'the victim is untouched');
  assert.ok((await lstat(planted)).isSymbolicLink(), 'the planted link is left as it was');
  assert.ok((await lstat(lastConn)).isFile(), 'lastConn is a regular file, not the planted link');
  assert.equal((await file.read())?.seen?.length, 4);
  assert.deepEqual(await entries(dir), ['.last-connection.json.' + process.pid + '.tmp', 'last-connection.json', 'victim']);
});

test('a pre-existing world-writable file in the directory does not make lastConn world-readable', async (t) => {
  const dir = await tempDir(t);
  const lastConn = join(dir, 'last-connection.json');
  const planted = join(dir, `.last-connection.json.${process.pid}.tmp`);
  await writeFile(planted, 'planted');
  await chmod(planted, 0o666);
  await writeFile(lastConn, '{"version":1,"device":null}');
  await chmod(lastConn, 0o666);
  const file = new SecureJSONFile<LastConnection>(lastConn);
  await file.write(record(1, 'a'));

  assert.equal((await stat(lastConn)).mode & 0o777, 0o600);
  assert.equal(await readFile(planted, 'utf8'), 'planted', 'the planted file is not used');
});

test('two writers on one path never leave a torn or empty file', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'shared.json');
  const a = new SecureJSONFile<LastConnection>(path);
  const b = new SecureJSONFile<LastConnection>(path);
  const reader = new SecureJSONFile<LastConnection>(path);
  await a.write(record(500, 'start'));
  const reads: Array<LastConnection | null> = [];
  const writes: Array<Promise<void>> = [];
  for (let round = 0; round < 40; round += 1) {
    writes.push(a.write(record(500 + round, `a${round}`)), b.write(record(500 + round, `b${round}`)));
    reads.push(await reader.read()); // each read parses: it throws on a torn or empty file
  }
  const results = await Promise.allSettled(writes);
  assert.deepEqual(
    results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
    [],
    'every write succeeded',
  );
  assert.ok(reads.every((r) => r?.version === 1));
  const final = JSON.parse(await readFile(path, 'utf8')) as LastConnection;
  assert.equal(final.seen?.length, 539);
  assert.match(final.seen?.[0] ?? '', /^[ab]39-0-/);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual(await entries(dir), ['shared.json'], 'no temp file left behind');
});

test('a last-connection file over 16 MiB is moved aside, not read', async (t) => {
  const dir = await tempDir(t);
  const lastConn = join(dir, 'last-connection.json');
  // Valid JSON (trailing blanks), so only its size can make it unusable.
  const big = `{"version":1,"device":null}${' '.repeat(16 * 1024 * 1024)}`;
  await writeFile(lastConn, big);
  const { bot, emulator, person, warnings } = await harness(t, { lastConn });
  await bot.start();
  await bot.stop();

  assert.equal(warnings.length, 1, `one warning: ${warnings.map((w) => w.message).join(' | ')}`);
  assert.match(warnings[0]?.message ?? '', /could not be used \(the file is larger than 16 MiB: \d+ bytes\); it was moved to .*\.corrupt-/);
  const files = await entries(dir);
  const aside = files.find((f) => f.startsWith('last-connection.json.corrupt-'));
  assert.ok(aside, files.join(', '));
  assert.equal((await stat(join(dir, aside))).size, Buffer.byteLength(big), 'the old bytes are kept');
  const saved = JSON.parse(await readFile(lastConn, 'utf8')) as LastConnection;
  assert.equal(saved.device?.url, emulator.devicesOf(person)[0]?.url);
});

test('a named pipe that appears at lastConn after the first read is not replaced: the store keeps to memory', async (t) => {
  const dir = await tempDir(t);
  const lastConn = join(dir, 'last-connection.json');
  const warnings: string[] = [];
  const store = createStore(lastConn, { log: () => undefined, warn: (message) => warnings.push(message) });
  const device = { url: 'https://wdm.example/devices/1', webSocketUrl: 'wss://mercury.example/1' };
  assert.equal(await store.loadDevice(), null, 'no file yet');
  await mkfifo(t, lastConn);

  assert.equal(await store.saveDevice(device), false, 'not written');
  assert.deepEqual(await store.loadDevice(), device, 'kept in memory');
  assert.equal(await store.saveSeen([['x', 1]]), false);
  assert.equal(warnings.length, 1, warnings.join(' | '));
  assert.match(warnings[0] ?? '', /is a named pipe, not a regular file; it was left alone/);
  assert.ok((await lstat(lastConn)).isFIFO(), 'the pipe was not renamed over');
  assert.deepEqual(await entries(dir), ['last-connection.json'], 'no temp file left');
});

test('a chain of 8 symbolic links is followed; a ninth link is refused', async (t) => {
  const dir = await tempDir(t);
  const target = join(dir, 'state.json');
  const link = (i: number) => join(dir, `link${i}`);
  await symlink(target, link(8));
  for (let i = 7; i >= 0; i -= 1) await symlink(link(i + 1), link(i));

  await new SecureJSONFile<LastConnection>(link(1)).write(record(1, 'eight'));
  assert.equal((JSON.parse(await readFile(target, 'utf8')) as LastConnection).seen?.length, 1, 'written through 8 links');
  const tooFar = new SecureJSONFile<LastConnection>(link(0));
  await assert.rejects(tooFar.read(), { name: 'NotRegularFileError', kind: 'symbolic link loop' });
  await assert.rejects(tooFar.write(record(2, 'nine')), { name: 'NotRegularFileError', kind: 'symbolic link loop' });
  assert.ok((await lstat(link(0))).isSymbolicLink(), 'the first link is still a link');
  assert.equal((JSON.parse(await readFile(target, 'utf8')) as LastConnection).seen?.length, 1, 'the target is unchanged');
});

test('the size of a last-connection file is checked before it is read', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'huge.json');
  const handle = await open(path, 'w');
  await handle.truncate(4 * 1024 * 1024 * 1024); // sparse: no disk space, but reading it would take 4 GiB
  await handle.close();
  await assert.rejects(new SecureJSONFile<LastConnection>(path).read(), { message: 'the file is larger than 16 MiB: 4294967296 bytes' });
});

test('a SecureJSONFile does not write what it would refuse to read', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'small.json');
  const file = new SecureJSONFile<LastConnection>(path, { maxBytes: 1024 });
  await file.write(record(1, 'fits'));
  await assert.rejects(file.write(record(100, 'too-big')), /cannot write .*small\.json: the data is \d+ bytes, more than the 1024 bytes a read accepts/);
  assert.equal((await file.read())?.seen?.length, 1, 'the file written before is kept');
  assert.deepEqual(await entries(dir), ['small.json']);
});
