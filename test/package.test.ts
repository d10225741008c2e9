import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { VERSION } from '../src/version.js';

const root = new URL('../', import.meta.url);

test("the built package resolves as 'sparkbot' through its exports map, with type declarations", async () => {
  const pkg = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as { name: string; version: string; exports: Record<string, { types: string; import: string }> };
  assert.equal(pkg.name, 'sparkbot');
  assert.equal(pkg.version, VERSION, 'src/version.ts follows package.json');
  for (const entry of Object.values(pkg.exports)) {
    if (typeof entry === 'string') continue;
    await stat(new URL(entry.types, root));
    await stat(new URL(entry.import, root));
  }
  // Run from a plain Node process (no tsx): what a user of the package gets.
  const script = "const m = await import('sparkbot'); const e = await import('sparkbot/emulator'); console.log(typeof m.SparkBot, typeof m.SparkBotError, typeof e.WebexEmulator);";
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('.', root) });
  assert.equal(stdout.trim(), 'function function function');
});

test('the built CLI runs', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [new URL('dist/src/cli.js', root).pathname, '--help']);
  assert.match(stdout, /sparkbot/);
});
