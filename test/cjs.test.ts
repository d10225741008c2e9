/**
 * CommonJS: `require('sparkbot')` works on Node >= 20.19 (require() of an ES module whose graph
 * has no top-level await). A plain `node` child runs test/fixtures/cjs-bot.cjs against the built
 * package (dist/, built by `npm test` before the tests): it requires 'sparkbot',
 * 'sparkbot/emulator' and 'sparkbot/machines/connection' by name, connects a bot to the emulator
 * and receives a message.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = new URL('../', import.meta.url);
const fixture = fileURLToPath(new URL('fixtures/cjs-bot.cjs', import.meta.url));

/** The environment without proxy variables: the emulator is on loopback, reached directly. */
function directEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(https?|no|all)_proxy$/i.test(name)));
}

test("require('sparkbot') from CommonJS loads the built package and runs a bot on the emulator", async () => {
  for (const file of ['dist/src/index.js', 'dist/src/emulator/index.js', 'dist/machines/connection.js']) {
    assert.ok(existsSync(new URL(file, root)), `${file} is missing: run npm run build (npm test builds dist/ before the tests)`);
  }
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [fixture], { cwd: fileURLToPath(root), env: directEnv(), timeout: 30_000 }).catch(
    (error: Error & { stdout?: string; stderr?: string; code?: unknown }) => {
      assert.fail(`the CommonJS fixture failed (exit ${String(error.code)}):\n${error.stderr ?? ''}${error.stdout ?? ''}`);
    },
  );
  assert.doesNotMatch(stderr, /ERR_REQUIRE|ExperimentalWarning|Error/, stderr);
  assert.deepEqual(JSON.parse(stdout.trim()), {
    SparkBot: 'function',
    SparkBotError: 'function',
    WebexEmulator: 'function',
    connectionMachine: 'object',
    invalidOption: 'INVALID_OPTION',
    state: 'open',
    message: 'hello from CommonJS',
    stopped: 'idle',
  });
});
