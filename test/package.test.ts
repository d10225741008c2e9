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

test("'sparkbot' loads nothing of the replicas' or the inspector's code: sparkbot/redis, the claim machine, node-redis, sparkbot/inspect", async () => {
  // The static import graph of the built entry point (dynamic imports included), followed file by file.
  const seen = new Set<string>();
  const bare = new Set<string>();
  const visit = async (url: URL): Promise<void> => {
    if (seen.has(url.href)) return;
    seen.add(url.href);
    const text = await readFile(url, 'utf8');
    for (const match of text.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s*['"]([^'"]+)['"]/gm)) {
      const spec = match[1] ?? match[2] ?? match[3]!;
      if (spec.startsWith('.')) await visit(new URL(spec, url));
      else bare.add(spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/'));
    }
  };
  await visit(new URL('dist/src/index.js', root));
  const files = [...seen].map((href) => href.slice(new URL('dist/', root).href.length));
  assert.ok(files.includes('src/bot.js') && files.includes('machines/connection.js'), 'the graph was followed');
  for (const file of files) assert.doesNotMatch(file, /^(src\/redis\/|src\/inspect\/|machines\/claim\.js)/, file);
  assert.ok(!bare.has('redis') && !bare.has('@redis/client'), [...bare].join(', '));
});
