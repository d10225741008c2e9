/**
 * Webex's service catalog (U2C host map): `GET {u2cUrl}/catalog?format=hostmap`, with the token
 * (webex-protocol.md §2.1). It has two users: the device service, which finds the WDM to register
 * at in `serviceLinks.wdm` when `wdmUrl` is not set (src/actors/wdm.ts), and the cluster lookup of
 * conversation ids, which reads `hostCatalog` (src/events/cluster.ts). One request serves both:
 *
 * - A successful answer is kept for the bot's life; the next users get it without a request.
 * - Users that come while a request is under way share it.
 * - A failure is not kept: the next user asks again (the cluster lookup paces its own retries).
 * - A user may pass a signal to stop waiting (the device service, when stop() ends `fetchingUrl`);
 *   the request itself is aborted when no user waits for it any more.
 *
 * The request goes straight through Http (the WDM calls do too), not the REST outbox: what a 429
 * or a 401 means at start is the connection machine's to decide, and requestTimeout bounds it.
 */
import type { HostCatalog } from '../events/cluster.js';
import type { Http, HttpRequest } from '../http.js';
import type { Log } from '../log.js';

export interface CatalogAnswer {
  /** `hostCatalog` of the answer; `{}` when it has none (or not an object). */
  readonly hostCatalog: HostCatalog;
  /** `serviceLinks.wdm` as the server gave it, unchecked (src/actors/wdm.ts checks it). */
  readonly wdm: unknown;
}

export interface CatalogDeps {
  readonly http: Http;
  readonly u2cUrl: string;
  readonly log: Log;
}

interface Pending {
  readonly promise: Promise<CatalogAnswer>;
  readonly controller: AbortController;
  /** Users waiting with a signal; the request is aborted when the last of them leaves and none waits without one. */
  waiting: number;
  /** A user without a signal waits: the request is never aborted. */
  kept: boolean;
}

export class ServiceCatalog {
  readonly #deps: CatalogDeps;
  #answer: CatalogAnswer | undefined;
  #pending: Pending | undefined;

  constructor(deps: CatalogDeps) {
    this.#deps = deps;
  }

  /** `{u2cUrl}/catalog` */
  get url(): string {
    return `${this.#deps.u2cUrl.replace(/\/+$/, '')}/catalog`;
  }

  /**
   * The catalog: the answer kept, or the request under way, or a new one. Rejects with an ApiError
   * (with `status` when the server answered) when it cannot be had, or with `signal`'s reason.
   */
  load(signal?: AbortSignal): Promise<CatalogAnswer> {
    if (this.#answer !== undefined) return Promise.resolve(this.#answer);
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    const pending = this.#pending ?? this.#request();
    if (signal === undefined) {
      pending.kept = true;
      return pending.promise;
    }
    pending.waiting += 1;
    return new Promise<CatalogAnswer>((resolve, reject) => {
      let left = false;
      const leave = () => {
        if (left) return;
        left = true;
        signal.removeEventListener('abort', onAbort);
        pending.waiting -= 1;
      };
      const onAbort = () => {
        leave();
        if (pending.waiting === 0 && !pending.kept && this.#pending === pending) {
          this.#pending = undefined;
          pending.controller.abort(signal.reason);
        }
        reject(signal.reason as unknown);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      pending.promise.then(
        (answer) => {
          leave();
          resolve(answer);
        },
        (error: unknown) => {
          leave();
          reject(error);
        },
      );
    });
  }

  /** Aborts a request under way (stop()): who waits for it gets the abort; the next load asks again. */
  cancel(reason: unknown): void {
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.controller.abort(reason);
  }

  #request(): Pending {
    const controller = new AbortController();
    const req: HttpRequest = { method: 'GET', url: this.url, searchParams: { format: 'hostmap' }, signal: controller.signal };
    const promise = this.#fetch(req).finally(() => {
      if (this.#pending === pending) this.#pending = undefined;
    });
    promise.catch(() => undefined);
    const pending: Pending = { promise, controller, waiting: 0, kept: false };
    this.#pending = pending;
    return pending;
  }

  async #fetch(req: HttpRequest): Promise<CatalogAnswer> {
    const { http, log } = this.#deps;
    const result = await http.send<Record<string, unknown>>(req);
    if (result.status < 200 || result.status >= 300) throw http.errorFor(req, result, 'the service catalog');
    const { hostCatalog, serviceLinks } = http.objectBody(req, result, 'the service catalog', 'u2cUrl') as { hostCatalog?: unknown; serviceLinks?: unknown };
    const answer: CatalogAnswer = {
      hostCatalog: typeof hostCatalog === 'object' && hostCatalog !== null && !Array.isArray(hostCatalog) ? (hostCatalog as HostCatalog) : {},
      wdm: typeof serviceLinks === 'object' && serviceLinks !== null && !Array.isArray(serviceLinks) ? (serviceLinks as { wdm?: unknown }).wdm : undefined,
    };
    this.#answer = answer;
    log('service catalog loaded from %s', req.url);
    return answer;
  }
}
