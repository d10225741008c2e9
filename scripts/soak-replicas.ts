/**
 * The replica chaos soak:
 * `npx tsx scripts/soak-replicas.ts --minutes N [--seed S] [--lease ms] [--replicas 3] [--faults kind,kind] [--trace-claims] [--verbose]`.
 *
 * Runs the engine of test/replicas (one bot as replica processes on the emulator, coordinated
 * through a real redis-server, while users post and a seeded schedule kills and stops replicas,
 * restarts and kills redis-server, and drops sockets) for N minutes, prints a table — faults by
 * kind, messages sent / completed / lost / duplicated, handlers interrupted and re-run, failover
 * max and median, leader changes and overlaps, replies — and exits 1 when an invariant broke,
 * printing the seed that replays the schedule. Without --seed, a random seed is drawn and printed.
 * `--faults killReplica,stopReplica,dropSocket` deals only those kinds (e.g. no Redis faults);
 * `--trace-claims --verbose` prints every claim each replica decided. Needs redis-server on PATH (or /usr/bin).
 */
import { parseArgs } from 'node:util';
import { formatReplicaReport, runReplicaChaos } from '../test/replicas/engine.js';
import { REPLICA_FAULT_KINDS, type ReplicaFaultKind } from '../test/replicas/schedule.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    seed: { type: 'string' },
    steps: { type: 'string' },
    lease: { type: 'string', default: '1000' },
    replicas: { type: 'string', default: '3' },
    faults: { type: 'string' },
    'trace-claims': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
  strict: true,
});

function number(name: string, value: string | undefined, check: (n: number) => boolean): number {
  const n = Number(value);
  if (!check(n)) {
    console.error(`--${name}: bad value ${value}`);
    process.exit(2);
  }
  return n;
}

const minutes = number('minutes', values.minutes, (n) => Number.isFinite(n) && n > 0);
const lease = number('lease', values.lease, (n) => Number.isInteger(n) && n >= 100);
const replicas = number('replicas', values.replicas, (n) => Number.isInteger(n) && n >= 2 && n <= 10);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : number('seed', values.seed, Number.isInteger);
const steps = values.steps === undefined ? undefined : number('steps', values.steps, (n) => Number.isInteger(n) && n > 0);
const kinds = values.faults?.split(',').map((k) => k.trim()) as ReplicaFaultKind[] | undefined;
const unknown = kinds?.filter((k) => !REPLICA_FAULT_KINDS.includes(k));
if (unknown?.length) {
  console.error(`--faults: unknown kind(s) ${unknown.join(', ')}; kinds: ${REPLICA_FAULT_KINDS.join(', ')}`);
  process.exit(2);
}

// Ctrl-C: exit through process.exit so that the exit hooks kill the replicas and redis-server.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

console.log(`sparkbot replica chaos soak: seed ${seed}, ${steps === undefined ? `${minutes} min` : `${steps} faults`}, ${replicas} replicas, lease ${lease} ms`);
const report = await runReplicaChaos({
  seed,
  replicas,
  lease,
  ...(steps === undefined ? { durationMs: minutes * 60_000 } : { steps }),
  verbose: values.verbose,
  traceClaims: values['trace-claims'],
  ...(kinds ? { kinds } : {}),
  progress: (line) => console.log(line),
});
console.log(formatReplicaReport(report));
const failed = report.violations.length > 0 || report.lost > 0 || report.duplicated > 0 || report.ranTwice > 0 || report.notRerun > 0 || report.rerunMore > 0;
if (failed) {
  console.log('\ntrace (last lines):');
  for (const line of report.trace.slice(-100)) console.log(`  ${line}`);
  console.log(`\n${report.violations.length} invariant violation(s):`);
  for (const v of report.violations.slice(0, 50)) console.log(`  ${v}`);
  const only = values.faults === undefined ? '' : ` --faults ${values.faults}`;
  console.log(`\nFAILED — seed ${seed}; replay: npm run soak:replicas -- --seed ${seed} --steps ${report.steps} --lease ${lease}${only}`);
  process.exitCode = 1;
} else {
  console.log(`\nOK — seed ${seed}, ${report.steps} faults: no invariant broke`);
}
