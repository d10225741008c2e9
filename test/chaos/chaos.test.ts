/**
 * Chaos (issue 5): a seeded schedule of faults against the emulator while users post, with the
 * invariants of engine.ts checked throughout. A short run; scripts/soak.ts runs the same engine
 * for minutes. Replay a failure with its seed: SEED=<seed> node --import tsx --test test/chaos/chaos.test.ts
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeStep, FAULT_KINDS, schedule } from './schedule.js';
import { formatReport, runChaos } from './engine.js';

const SEED = Number(process.env.SEED ?? 20_240_501);
/** A post step and a fault step per kind, twice over: every fault kind is dealt twice. */
const STEPS = Number(process.env.CHAOS_STEPS ?? 4 * FAULT_KINDS.length);

test(`chaos: seed ${SEED}, ${STEPS} steps — every message exactly once and in order, one socket, recovery`, async () => {
  assert.ok(Number.isInteger(SEED), `SEED must be an integer, got ${process.env.SEED}`);
  const report = await runChaos({ seed: SEED, steps: STEPS, verbose: process.env.CHAOS_VERBOSE === '1' });
  if (report.violations.length > 0) {
    assert.fail(
      [
        `chaos seed ${SEED} broke ${report.violations.length} invariant(s); replay with SEED=${SEED} (same fault schedule):`,
        ...report.violations.slice(0, 20).map((v) => `  ${v}`),
        'trace (last lines):',
        ...report.trace.slice(-60).map((l) => `  ${l}`),
        formatReport(report),
      ].join('\n'),
    );
  }
  for (const kind of FAULT_KINDS) assert.ok(report.faults[kind] > 0, `fault ${kind} was injected (seed ${SEED})`);
  assert.equal(report.lost, 0, `seed ${SEED}`);
  assert.equal(report.duplicated, 0, `seed ${SEED}`);
  assert.equal(report.delivered, report.sent, `seed ${SEED}`);
  assert.equal(report.messages + report.enrichFailed, report.sent, `seed ${SEED}`);
  assert.ok(report.maxOpenSockets <= 1, `seed ${SEED}`);
  assert.ok(report.reconnects > 0 && report.sent > 0, `seed ${SEED}: the run did something`);
});

test('a seed always yields the same fault schedule (what makes a printed seed replay a failure), and another seed another one', () => {
  const limits = { connectTimeout: 500, maxPayload: 4 * 1024 * 1024 };
  const take = (seed: number) => {
    const steps = schedule(seed, limits);
    return Array.from({ length: 200 }, () => JSON.stringify(steps.next().value));
  };
  assert.deepEqual(take(SEED), take(SEED));
  assert.notDeepEqual(take(SEED), take(SEED + 1));
  const kinds = new Set(take(SEED).map((s) => JSON.parse(s) as { kind: string; fault?: { kind: string } }).flatMap((s) => (s.fault ? [s.fault.kind] : [])));
  assert.deepEqual([...kinds].sort(), [...FAULT_KINDS].sort(), 'every kind of fault within 200 steps');
  assert.match(describeStep(schedule(SEED, limits).next().value), /^posts ×\d+$/);
});
