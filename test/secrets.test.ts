import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { harness, tempDir, waitForState } from './support/helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/full-cycle.ts', import.meta.url));

test('with DEBUG=sparkbot:* a full cycle logs a lot and never the token, nor writes it to the last-connection file', async (t) => {
  const token = `${randomBytes(24).toString('hex')}_P0A1_${randomBytes(8).toString('hex')}`;
  const lastConn = join(await tempDir(t), 'last-connection.json');
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, lastConn], {
    env: { ...process.env, DEBUG: 'sparkbot:*', DEBUG_COLORS: '0', SPARKBOT_TEST_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, output.slice(-3000));
  assert.match(output, /full cycle done/);
  for (const area of ['sparkbot:bot', 'sparkbot:socket', 'sparkbot:device', 'sparkbot:http', 'sparkbot:store', 'sparkbot:emulator']) {
    assert.ok(output.includes(area), `debug output of ${area}`);
  }
  assert.match(output, /state open -> backoff/);
  assert.match(output, /sparkbot:http GET \S+\/v1\/messages\/\S+ -> 503/, "the fetch answered 503 (and tried again)");
  assert.match(output, /error event:.*HTTP 403/);
  for (const form of [token, encodeURIComponent(token), token.slice(0, 32)]) {
    assert.ok(!output.includes(form), 'the token is not in the output');
  }
  const file = await readFile(lastConn, 'utf8');
  assert.ok(file.includes('"device"'));
  assert.ok(!file.includes(token.slice(0, 32)), 'the token is not in the last-connection file');
});

test('errors (a timeout included) and inspection events never carry the token', async (t) => {
  const seen: string[] = [];
  const h = await harness(t, {
    requestTimeout: 100,
    inspect: (event) => {
      seen.push(inspect((event as { event?: unknown }).event, { depth: 8 }));
      const snapshot = (event as { snapshot?: unknown }).snapshot;
      if (snapshot !== undefined) seen.push(JSON.stringify(snapshot) ?? '');
    },
  });
  const token = h.person.token;

  const registration = h.emulator.hold('POST /wdm/api/v1/devices');
  const started = h.bot.start();
  await waitForState(h.bot, 'backoff');
  assert.match(h.bot.health().lastError ?? '', /no answer within requestTimeout \(100 ms\)/);
  registration.release();
  h.clock.runNext();
  await started;

  const rest = h.emulator.hold('GET /v1/people/*');
  const error = (await h.bot.api.people.get(h.person.id).catch((e: unknown) => e)) as Error;
  rest.release();
  assert.match(error.message, /requestTimeout/);
  seen.push(inspect(error, { depth: 8, showHidden: true }));

  h.emulator.dropConnections({ code: 4401 });
  await waitForState(h.bot, 'failed');
  seen.push(inspect(h.errors, { depth: 8, showHidden: true }), JSON.stringify(h.bot.health()));

  assert.ok(seen.length > 20, 'the inspector saw the cycle');
  const all = seen.join('\n');
  assert.ok(all.includes('xstate.error.actor.device'), 'the timeout reached the inspector as an actor error');
  assert.ok(!all.includes(token), 'the token is nowhere');
});
