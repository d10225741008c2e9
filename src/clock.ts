/** The timer interface of XState's actor system (xstate does not export its `Clock` type). */
export interface Clock {
  setTimeout(fn: (...args: unknown[]) => void, timeout: number): unknown;
  clearTimeout(id: unknown): void;
  /** ms, for the time of inbound frames (idle pings); Date.now when absent. XState's SimulatedClock has it, and the TestClock. */
  now?(): number;
}

export const realClock: Clock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
  now: () => Date.now(),
};
