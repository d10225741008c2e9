/**
 * A cascading test clock implementing XState's Clock: delays fire only when a test advances the
 * clock, in due order, including timers created while advancing (which XState's SimulatedClock
 * does not fire). Paths that take minutes of machine time run in milliseconds, deterministically.
 */
import type { Clock } from '../../src/clock.js';

interface Timer {
  readonly id: number;
  readonly at: number;
  readonly delay: number;
  readonly fn: (...args: unknown[]) => void;
}

export class TestClock implements Clock {
  private time = 0;
  private nextId = 1;
  private readonly timers = new Map<number, Timer>();
  private readonly listeners = new Set<() => void>();

  setTimeout(fn: (...args: unknown[]) => void, delay: number): number {
    const id = this.nextId++;
    const safeDelay = Number.isFinite(delay) && delay > 0 ? delay : 0;
    this.timers.set(id, { id, at: this.time + safeDelay, delay: safeDelay, fn });
    for (const listener of [...this.listeners]) listener();
    return id;
  }

  clearTimeout(id: unknown): void {
    this.timers.delete(id as number);
  }

  /** Milliseconds of clock time since the clock was made. */
  now(): number {
    return this.time;
  }

  /** The number of timers waiting to fire. */
  get pending(): number {
    return this.timers.size;
  }

  /** The delays (as scheduled) of the waiting timers, soonest first. */
  pendingDelays(): number[] {
    return this.sorted().map((t) => t.delay);
  }

  /** Milliseconds until the next timer fires, or undefined when none waits. */
  nextIn(): number | undefined {
    const next = this.sorted()[0];
    return next === undefined ? undefined : next.at - this.time;
  }

  /** Moves time forward by `ms`, firing every timer due by then, in order, cascading. */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      const next = this.sorted()[0];
      if (next === undefined || next.at > target) break;
      this.timers.delete(next.id);
      this.time = next.at;
      next.fn();
    }
    this.time = Math.max(this.time, target);
  }

  /** Fires the next timer (moving time to it); returns its delay, or undefined when none waits. */
  runNext(): number | undefined {
    const next = this.sorted()[0];
    if (next === undefined) return undefined;
    this.advance(next.at - this.time);
    return next.delay;
  }

  /** Resolves once a timer with this delay (or any, without one) is waiting. */
  waitForTimer(delay?: number): Promise<void> {
    const has = () => [...this.timers.values()].some((t) => delay === undefined || t.delay === delay);
    if (has()) return Promise.resolve();
    return new Promise((resolve) => {
      const listener = () => {
        if (!has()) return;
        this.listeners.delete(listener);
        resolve();
      };
      this.listeners.add(listener);
    });
  }

  private sorted(): Timer[] {
    return [...this.timers.values()].sort((a, b) => a.at - b.at || a.id - b.id);
  }
}
