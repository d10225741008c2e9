/**
 * Waiting for a condition without guessing a time: `until` resolves once its predicate holds,
 * checked at once and on every `poke()` (called by whoever changes what the predicates read), and
 * rejects after `timeout` ms so that a condition that never comes fails instead of hanging.
 */
export class Waiters {
  private readonly checks = new Set<() => void>();

  /** Something changed: checks every waiting predicate. */
  poke(): void {
    for (const check of [...this.checks]) check();
  }

  until(predicate: () => boolean, timeout: number, timedOut: () => Error): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.checks.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.checks.delete(check);
        reject(timedOut());
      }, timeout);
      this.checks.add(check);
    });
  }
}
