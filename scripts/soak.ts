/**
 * The chaos soak: `npx tsx scripts/soak.ts --minutes N [--seed S] [--verbose]`.
 *
 * Runs the chaos engine of test/chaos (a real echo bot on the emulator, a seeded schedule of
 * faults while users post) for N minutes, prints a table — faults injected by kind, requests the
 * faults answered, messages sent / delivered / duplicated / lost, reconnects, longest time to
 * recover — and exits 1 when an invariant broke, printing the seed that replays the schedule.
 * Without --seed, a random seed is drawn and printed first.
 */
import { parseArgs } from 'node:util';
import { formatReport, runChaos } from '../test/chaos/engine.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    seed: { type: 'string' },
    steps: { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
  strict: true,
});

const minutes = Number(values.minutes);
if (!Number.isFinite(minutes) || minutes <= 0) {
  console.error(`--minutes must be a positive number, got ${values.minutes}`);
  process.exit(2);
}
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isInteger(seed)) {
  console.error(`--seed must be an integer, got ${values.seed}`);
  process.exit(2);
}
const steps = values.steps === undefined ? undefined : Number(values.steps);

console.log(`sparkbot chaos soak: seed ${seed}, ${steps === undefined ? `${minutes} min` : `${steps} steps`}`);
const report = await runChaos({
  seed,
  ...(steps === undefined ? { durationMs: minutes * 60_000 } : { steps }),
  verbose: values.verbose,
  progress: (line) => console.log(line),
});
console.log(formatReport(report));
if (report.violations.length > 0 || report.lost > 0 || report.duplicated > 0) {
  console.log('\ntrace (last lines):');
  for (const line of report.trace.slice(-80)) console.log(`  ${line}`);
  console.log(`\n${report.violations.length} invariant violation(s):`);
  for (const v of report.violations.slice(0, 50)) console.log(`  ${v}`);
  // The same seed and number of steps replay the same schedule (a run bounded by minutes may not get as far).
  console.log(`\nFAILED — seed ${seed}; replay: npm run soak -- --seed ${seed} --steps ${report.steps}`);
  process.exitCode = 1;
} else {
  console.log(`\nOK — seed ${seed}, ${report.steps} steps: no invariant broke`);
}
