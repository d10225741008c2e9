/**
 * requestTimeout bounds the whole request, its body included. ky 1.x loses the abort of its
 * timeout signal once the headers have arrived if a garbage collection runs meanwhile: a body
 * that trickles in then held a registration or a REST call for ever. Run in a child process with
 * --expose-gc and collections forced every 10 ms.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('../fixtures/trickle.ts', import.meta.url));

test('a body that trickles in one byte a second ends the request at requestTimeout, garbage collections or not (WDM and REST)', async () => {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', fixture], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // A bound for a hang, not a measurement: each request ends after 300 ms; the body would trickle on for ever.
  const hung = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(hung);
  assert.equal(code, 0, `the script ended by itself:\n${output}`);
  assert.match(output, /rest: GET \S+\/v1\/rooms\/\S+ got no answer: no answer within requestTimeout \(300 ms\)/);
  assert.match(output, /wdm: connecting failed \(POST \S+\/wdm\/api\/v1\/devices got no answer: no answer within requestTimeout \(300 ms\)\); trying again in \d+ ms/);
  assert.match(output, /done/);
});
