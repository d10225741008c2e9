/**
 * A deadline on a clock (the bot's: a TestClock in tests), that work races against — stop() runs
 * every phase of a shutdown against one — and that a later caller may bring forward.
 */
import type { Clock } from './clock.js';

export interface Deadline {
  /** True when `work` finished before the deadline; false at the deadline (at once when it has passed). */
  race(work: Promise<void>): Promise<boolean>;
  /** Makes the deadline come at the latest `ms` from now. */
  bringForward(ms: number): void;
  passed(): boolean;
  /** Clears its timers (the work is over). */
  cancel(): void;
}

export function createDeadline(clock: Clock, ms: number): Deadline {
  const timers: unknown[] = [];
  let expire!: (value: false) => void;
  const expired = new Promise<false>((resolve) => {
    expire = resolve;
  });
  let passed = false;
  const cancel = () => {
    for (const timer of timers) clock.clearTimeout(timer);
  };
  const bringForward = (after: number) => {
    if (passed) return;
    timers.push(
      clock.setTimeout(() => {
        passed = true;
        cancel();
        expire(false);
      }, after),
    );
  };
  bringForward(ms);
  return {
    race: (work) => (passed ? Promise.resolve(false) : Promise.race([work.then(() => true as const), expired])),
    bringForward,
    passed: () => passed,
    cancel,
  };
}
