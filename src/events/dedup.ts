/**
 * The ids of recently handled activities, so that one delivered again (a redelivery after a lost
 * ack, a repeat after a restart) is never handled twice. Bounded: the oldest ids go first.
 */
export class RecentIds {
  private readonly ids = new Set<string>();

  constructor(
    private readonly limit: number,
    initial: Iterable<string> = [],
    private readonly onChange: () => void = () => undefined,
  ) {
    for (const id of initial) this.remember(id);
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** Remembers `id`; false when it was already known. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.remember(id);
    this.onChange();
    return true;
  }

  /** Oldest first. */
  toArray(): string[] {
    return [...this.ids];
  }

  /** Remembers `id` without telling anyone (ids loaded from the store). */
  remember(id: string): void {
    this.ids.add(id);
    while (this.ids.size > this.limit) {
      const oldest = this.ids.values().next().value;
      if (oldest === undefined) break;
      this.ids.delete(oldest);
    }
  }
}
