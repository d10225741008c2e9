import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('./fixtures/leaks.ts', import.meta.url));
const CYCLES = 1000;

test(`after ${CYCLES} forced reconnect cycles the handles and sockets are those of the start, the heap is bounded, and after stop() the process exits by itself`, async (t) => {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', fixture, String(CYCLES)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, `the process ended by itself, cleanly\n${stderr.slice(-2000)}`);
  const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
    before: { resources: Record<string, number>; heapUsed: number; timers: number };
    after: { resources: Record<string, number>; heapUsed: number; timers: number };
    reconnects: number;
    connections: number;
    registrations: number;
  };
  assert.equal(result.reconnects, 50 + CYCLES);
  assert.equal(result.connections, 1 + 50 + CYCLES);
  assert.equal(result.registrations, 1, 'one device for all the reconnects');
  assert.deepEqual(result.after.resources, result.before.resources, 'the same active handles (sockets, timers, servers) as at the start');
  assert.equal(result.after.timers, result.before.timers, 'the machine holds the same timers (the ping, the stable-link mark) as at the start');
  const growth = result.after.heapUsed - result.before.heapUsed;
  t.diagnostic(`heap growth over ${CYCLES} cycles: ${(growth / 1024).toFixed(0)} KiB; resources ${JSON.stringify(result.after.resources)}`);
  // The emulator keeps a record per connection, request and delivery: a few hundred bytes each.
  assert.ok(growth < 8 * 1024 * 1024, `heap grew by ${(growth / 1024 / 1024).toFixed(1)} MiB over ${CYCLES} cycles`);
});
