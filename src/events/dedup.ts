/**
 * The ids of recently handled activities, so that one delivered again (a redelivery after a lost
 * ack, a repeat after a restart) is never handled twice.
 *
 * The window covers Webex's redelivery horizon: an id is kept while it is among the newest
 * `minIds` (10 000) or younger than `minAge` (one hour), whichever keeps more — and, whatever the
 * rate, never more than `maxIds` (50 000) ids, so memory and the last-connection file stay bounded
 * (about 60 bytes an id in the file). An id longer than MAX_KEY characters (no Webex id is) is kept
 * as its SHA-256 digest, so a server cannot make sparkbot hold or write large strings.
 */
import { createHash } from 'node:crypto';

export interface DedupWindow {
  /** Ids kept at least, however old. */
  readonly minIds: number;
  /** ms an id is kept at least, however many came after it (up to maxIds). */
  readonly minAge: number;
  /** Ids kept at most. */
  readonly maxIds: number;
}

export const DEFAULT_DEDUP_WINDOW: DedupWindow = { minIds: 10_000, minAge: 3_600_000, maxIds: 50_000 };

/** Longest id kept as it is; a longer one is kept as a digest. */
export const MAX_KEY = 128;

/** What is kept for an id: itself, or the digest of a long one. */
export function dedupKey(id: string): string {
  return id.length <= MAX_KEY ? id : `sha256:${createHash('sha256').update(id).digest('base64url')}`;
}

export class RecentIds {
  /** key -> when it was handled (ms since the epoch); in the order they came, oldest first. */
  private readonly ids = new Map<string, number>();

  constructor(
    private readonly window: DedupWindow = DEFAULT_DEDUP_WINDOW,
    private readonly onChange: () => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  has(id: string): boolean {
    return this.ids.has(dedupKey(id));
  }

  /** Remembers `id`; false when it was already known. */
  add(id: string): boolean {
    const key = dedupKey(id);
    if (this.ids.has(key)) return false;
    this.ids.set(key, this.now());
    this.evict();
    this.onChange();
    return true;
  }

  /** Ids (or their digests) with the time each was handled, oldest first. */
  entries(): Array<[key: string, at: number]> {
    return [...this.ids];
  }

  get size(): number {
    return this.ids.size;
  }

  /** Remembers ids loaded from the store (oldest first), without telling anyone. */
  load(entries: Iterable<readonly [id: string, at: number]>): void {
    for (const [id, at] of entries) {
      const key = dedupKey(id);
      if (!this.ids.has(key)) this.ids.set(key, Number.isFinite(at) ? at : this.now());
    }
    this.evict();
  }

  private evict(): void {
    const oldestAllowed = this.now() - this.window.minAge;
    for (const [key, at] of this.ids) {
      const over = this.ids.size - this.window.minIds;
      if (this.ids.size <= this.window.maxIds && (over <= 0 || at >= oldestAllowed)) break;
      this.ids.delete(key);
    }
  }
}
