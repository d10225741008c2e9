/**
 * Replica chaos: one bot as three replica processes coordinated through a real redis-server,
 * while users post and a seeded schedule kills replicas (SIGKILL, the one running a handler),
 * stops them, restarts redis-server, kills it for a while and drops sockets (engine.ts). A short
 * run; scripts/soak-replicas.ts runs the same engine for minutes. Skipped without redis-server
 * (failed in CI). Replay a failure: SEED=<seed> node --import tsx --test test/replicas/replicas.test.ts
 * (CHAOS_VERBOSE=1 prints the trace as it happens; TRACE_CLAIMS=1 adds every claim each replica decided).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startRedis } from '../support/redis-server.js';
import { formatReplicaReport, runReplicaChaos } from './engine.js';
import { REPLICA_FAULT_KINDS, ROUND, replicaSchedule } from './schedule.js';

const SEED = Number(process.env.SEED ?? 20_250_611);
/** One round of faults (every kind, kills twice) and two more. */
const STEPS = Number(process.env.REPLICA_STEPS ?? ROUND.length + 2);
const LEASE = 1_000;

test(`replica chaos: seed ${SEED}, ${STEPS} faults, lease ${LEASE} ms — each message handled once, failover within the lease`, { timeout: 180_000 }, async (t) => {
  assert.ok(Number.isInteger(SEED), `SEED must be an integer, got ${process.env.SEED}`);
  const redis = await startRedis(t, { persist: true });
  if (!redis) return;
  const report = await runReplicaChaos({ seed: SEED, steps: STEPS, replicas: 3, lease: LEASE, redis, verbose: process.env.CHAOS_VERBOSE === '1', traceClaims: process.env.TRACE_CLAIMS === '1' });
  const table = formatReplicaReport(report);
  t.diagnostic(`sent ${report.sent}, completed ${report.completed}, interrupted ${report.interrupted}, failover max ${report.failoverMaxMs} ms, median ${report.failoverMedianMs} ms`);
  const explain = (what: string) =>
    [
      `${what} — seed ${SEED}; replay with SEED=${SEED}:`,
      ...report.violations.slice(0, 25).map((v) => `  ${v}`),
      'trace (last lines):',
      ...report.trace.slice(-80).map((l) => `  ${l}`),
      table,
    ].join('\n');
  assert.equal(report.lost, 0, explain('messages lost'));
  assert.equal(report.duplicated, 0, explain('messages completed twice'));
  assert.equal(report.ranTwice, 0, explain('handlers run for a message done, or running, elsewhere'));
  assert.equal(report.notRerun + report.rerunMore, 0, explain('interrupted handlers not re-run exactly once'));
  assert.equal(report.rerunOnce, report.interrupted, explain('interrupted handlers not re-run exactly once'));
  assert.ok(report.killsWithHandler > 0, explain('no kill cut a running handler: failover was not measured'));
  assert.ok(report.failoverMaxMs <= LEASE + 1_000, explain(`failover took ${report.failoverMaxMs} ms (at most lease + 1000)`));
  assert.ok(report.faults.restartRedis > 0 && report.redisRestarts > 0, explain('redis-server was not restarted'));
  assert.ok(report.sent > 0 && report.completed === report.sent, explain('not every message completed'));
  assert.deepEqual(report.violations, [], explain('invariants broke'));
});

test('a seed always yields the same replica fault schedule, and every round deals every kind', () => {
  const take = (seed: number) => {
    const steps = replicaSchedule(seed, { replicas: 3, lease: LEASE });
    return Array.from({ length: 60 }, () => JSON.stringify(steps.next().value));
  };
  assert.deepEqual(take(SEED), take(SEED));
  assert.notDeepEqual(take(SEED), take(SEED + 1));
  const first = take(SEED)
    .slice(0, ROUND.length)
    .map((s) => (JSON.parse(s) as { fault: { kind: string } }).fault.kind);
  assert.deepEqual([...new Set(first)].sort(), [...REPLICA_FAULT_KINDS].sort());
});
