/**
 * Which Hydra cluster an activity's objects live in. The REST API names rooms, messages,
 * memberships and card actions with ids that include the cluster of the conversation; the official
 * SDK finds it by looking up the host of `activity.target.url` in Webex's service catalog (U2C
 * host map). sparkbot does the same when `u2cUrl` is set (the default), and falls back to `us`
 * (webex-protocol.md §4.1) when the host is unknown or the catalog cannot be had.
 */
import { DEFAULT_CLUSTER, hydraClusterOf } from '../protocol/ids.js';
import type { Log } from '../log.js';
import type { Activity } from './types.js';

/** host name -> the catalog entries of that host (`{ id: 'urn:TEAM:us-east-2_a:conversation', … }`). */
export type HostCatalog = Readonly<Record<string, ReadonlyArray<{ readonly id?: unknown }>>>;

export interface ClusterDeps {
  /** Fetches the catalog's `hostCatalog`; absent when the lookup is off (`u2cUrl: false`). */
  readonly fetchCatalog: (() => Promise<HostCatalog>) | undefined;
  readonly log: Log;
  /** ms before a failed catalog fetch is tried again. */
  readonly retryAfter: number;
}

export class ClusterResolver {
  private catalog: Promise<HostCatalog | undefined> | undefined;
  private failedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: ClusterDeps) {}

  async clusterOf(activity: Activity): Promise<string> {
    const url = activity.target?.url;
    if (typeof url !== 'string' || !this.deps.fetchCatalog) return DEFAULT_CLUSTER;
    let host: string;
    try {
      host = new URL(url).hostname;
    } catch {
      return DEFAULT_CLUSTER;
    }
    const catalog = await this.load();
    // The catalog is the server's: whatever its shape, the answer is a cluster, never a TypeError.
    const entries: unknown = catalog !== undefined && Object.hasOwn(catalog, host) ? catalog[host] : undefined;
    const id = Array.isArray(entries) ? (entries as unknown[]).map((entry) => (entry as { id?: unknown } | null)?.id).find((value) => typeof value === 'string') : undefined;
    return typeof id === 'string' ? hydraClusterOf(id) : DEFAULT_CLUSTER;
  }

  private load(): Promise<HostCatalog | undefined> {
    const fetchCatalog = this.deps.fetchCatalog;
    if (!fetchCatalog) return Promise.resolve(undefined);
    if (!this.catalog && Date.now() - this.failedAt >= this.deps.retryAfter) {
      this.catalog = fetchCatalog().then(
        (catalog) => (typeof catalog === 'object' && catalog !== null && !Array.isArray(catalog) ? catalog : undefined),
        (error: unknown) => {
          this.deps.log('service catalog unavailable (%s); using cluster us', (error as Error)?.message ?? String(error));
          this.failedAt = Date.now();
          this.catalog = undefined;
          return undefined;
        },
      );
    }
    return this.catalog ?? Promise.resolve(undefined);
  }
}
