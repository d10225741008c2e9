/** The timer interface of XState's actor system (xstate does not export its `Clock` type). */
export interface Clock {
  setTimeout(fn: (...args: unknown[]) => void, timeout: number): unknown;
  clearTimeout(id: unknown): void;
  /**
   * ms on the clock of these timers, for the time of inbound frames (idle pings): a monotonic clock
   * for real timers. XState's SimulatedClock has it, and the TestClock. A clock without it cannot
   * time silence: the bot then pings every `pingEvery`, traffic or not.
   */
  now?(): number;
}

export const realClock: Clock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
  now: () => performance.now(), // monotonic: a wall clock stepped back would delay the pings
};
