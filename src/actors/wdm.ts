/**
 * Which WDM the device service talks to (webex-protocol.md §2.1), and how sparkbot finds it.
 *
 * - `wdmUrl` set, or `u2cUrl: false`: that URL (the default one for `u2cUrl: false`), always.
 *   Nothing is discovered and the last-connection file's WDM is not read.
 * - Otherwise Webex's service catalog names it: `serviceLinks.wdm` plus `/devices`, asked once per
 *   bot (the answer also serves the cluster lookup, src/actors/catalog.ts) and only when a device
 *   is to be registered.
 * - A saved device is checked and reused at the WDM saved with it in the last-connection file,
 *   without asking the catalog (a file of sparkbot 0.1 names none: its device lives on the default
 *   WDM, where it was registered).
 *
 * The catalog's answer is the server's, and the file may have been edited: a WDM URL from either
 * is used only when it is http(s) (https unless allowInsecure), has no credentials, holds no piece
 * of the token, and its host is a Webex host (the default socket host patterns) or the u2cUrl's
 * own host and port. Only then does its origin get the token (Http.allowOrigin) and its host join
 * the socket hosts (unless socketHosts was set) — not the other hosts the catalog names.
 *
 * When the catalog cannot be had (no answer, a timeout, 5xx, 403, a body that is not JSON) or
 * names no usable WDM, the bot registers at DEFAULT_WDM_URL, with one CATALOG_ERROR warning, and
 * keeps to it for its life. Two answers are not fallen back from: 401 (the token is bad: the same
 * token would be refused by WDM too, so the machine fails as `unauthorized`, as for WDM's 401)
 * and 429 (the machine waits in `rateLimited`, honouring Retry-After, then asks again).
 */
import type { ApiError } from '../errors.js';
import { originOf } from '../http.js';
import type { Log, Redactor } from '../log.js';
import { DEFAULT_WDM_URL, WEBEX_SOCKET_HOSTS } from '../options.js';
import type { ServiceCatalog } from './catalog.js';

export interface WdmDeps {
  /** The WDM devices URL when it is fixed (the wdmUrl option; DEFAULT_WDM_URL with `u2cUrl: false`); undefined: discover it. */
  readonly fixed: string | undefined;
  /** The service catalog; absent when the URL is fixed. */
  readonly catalog: ServiceCatalog | undefined;
  readonly u2cUrl: string | false;
  readonly allowInsecure: boolean;
  readonly redactor: Redactor;
  /** A WDM URL is used from now on: let the token go to its origin and, unless socketHosts was set, sockets to its host. */
  readonly trust: (url: URL) => void;
  /** The catalog named no usable WDM: reported once, as a CATALOG_ERROR warning. */
  readonly warn: (message: string) => void;
  readonly log: Log;
}

/** True when `host` is one of `patterns` (a name, or `*.suffix` for any subdomain). */
export function hostAllowed(host: string, patterns: readonly string[]): boolean {
  const name = host.toLowerCase();
  return patterns.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith('*.') ? name.endsWith(p.slice(1)) && name.length > p.length - 1 : name === p;
  });
}

/** What the last-connection file says of the saved device. */
export interface SavedDeviceRef {
  readonly url: string;
  readonly wdmUrl?: string | undefined;
}

export class WdmLocator {
  readonly #deps: WdmDeps;
  /** The WDM of the device in use: where it is checked and deleted. Undefined until one is chosen. */
  #current: string | undefined;
  /** Where new devices are registered, once known for this bot: fixed, discovered, or the fallback. */
  #forNew: string | undefined;

  constructor(deps: WdmDeps) {
    this.#deps = deps;
    this.#current = deps.fixed;
    this.#forNew = deps.fixed;
  }

  /** The WDM devices URL of the device in use (saved with it in the last-connection file). */
  get current(): string | undefined {
    return this.#current;
  }

  /** True when `deviceUrl` lives on the WDM in use (a device URL is trusted, and sent the token, only then). */
  owns(deviceUrl: string): boolean {
    return this.#current !== undefined && originOf(deviceUrl) === originOf(this.#current);
  }

  /**
   * Takes the WDM of a saved device as the one in use, when the device may be used: undefined, or
   * why not (the device is then ignored and a new one registered).
   */
  adoptSaved(saved: SavedDeviceRef): string | undefined {
    if (this.#deps.fixed === undefined) {
      const wdmUrl = saved.wdmUrl ?? DEFAULT_WDM_URL;
      const problem = this.problemWith(wdmUrl);
      if (problem !== undefined) return `names a WDM ${problem}; it is ignored and a new device is registered`;
      if (originOf(saved.url) !== originOf(wdmUrl)) return `names a device on another host (${originOf(saved.url) ?? 'an invalid URL'}) than its WDM; it is ignored and a new device is registered`;
      this.#use(wdmUrl);
      return undefined;
    }
    if (!this.owns(saved.url)) return `names a device on another host (${originOf(saved.url) ?? 'an invalid URL'}); it is ignored and a new device is registered`;
    return undefined;
  }

  /**
   * The WDM to register a new device at, which becomes the one in use. Discovers it when it is not
   * known yet. Rejects with the catalog's ApiError on 401 and 429, and with `signal`'s reason.
   */
  async forRegistration(signal: AbortSignal): Promise<string> {
    const url = this.#forNew ?? (await this.#discover(signal));
    this.#forNew = url;
    this.#use(url);
    return url;
  }

  async #discover(signal: AbortSignal): Promise<string> {
    const catalog = this.#deps.catalog;
    if (catalog === undefined) return DEFAULT_WDM_URL;
    let link: unknown;
    try {
      ({ wdm: link } = await catalog.load(signal));
    } catch (error) {
      if (signal.aborted) throw error;
      const status = (error as ApiError).status;
      if (status === 401 || status === 429) throw error;
      return this.#fallback(`the service catalog could not be had (${(error as Error)?.message ?? String(error)})`);
    }
    if (typeof link !== 'string' || link === '') {
      return this.#fallback(`the service catalog (GET ${catalog.url}) names no WDM (serviceLinks.wdm is ${link === undefined ? 'missing' : typeof link === 'string' ? 'empty' : `a ${link === null ? 'null' : typeof link}`})`);
    }
    const url = devicesUrlOf(link);
    const problem = url === undefined ? 'that is not a valid URL' : this.problemWith(url);
    if (url === undefined || problem !== undefined) return this.#fallback(`the service catalog names a WDM ${problem}; the token is not sent there`);
    this.#deps.log('the service catalog names WDM %s', url);
    return url;
  }

  #fallback(why: string): string {
    this.#deps.warn(`${why}; the bot registers at the default WDM, ${DEFAULT_WDM_URL}, instead (set wdmUrl to choose one)`);
    return DEFAULT_WDM_URL;
  }

  #use(url: string): void {
    this.#current = url;
    this.#deps.trust(new URL(url));
  }

  /** Why the token must not go to the WDM devices URL `url` (a phrase: "on evil.example, which is…"), or undefined when it may. */
  problemWith(url: string): string | undefined {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return 'that is not a valid URL';
    }
    if (this.#deps.redactor.contains(url)) return 'whose URL holds the access token (or a piece of it)';
    const { protocol } = parsed;
    if (protocol !== 'https:' && !(protocol === 'http:' && this.#deps.allowInsecure)) {
      return `with scheme ${protocol} (https: required${protocol === 'http:' ? '; allowInsecure permits http:' : ''})`;
    }
    if (parsed.username !== '' || parsed.password !== '') return 'with credentials in its URL';
    const u2cHost = this.#deps.u2cUrl === false ? undefined : new URL(this.#deps.u2cUrl).host;
    if (!hostAllowed(parsed.hostname, WEBEX_SOCKET_HOSTS) && parsed.host !== u2cHost) {
      return `on ${parsed.host}, which is neither a Webex host (${WEBEX_SOCKET_HOSTS.join(', ')}) nor the host of u2cUrl${u2cHost === undefined ? '' : ` (${u2cHost})`}`;
    }
    return undefined;
  }
}

/** `serviceLinks.wdm` (`https://wdm-a.wbx2.com/wdm/api/v1`) plus `/devices`, without query nor fragment; undefined when it is no URL. */
export function devicesUrlOf(link: string): string | undefined {
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    return undefined;
  }
  url.search = '';
  url.hash = '';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/devices`;
  return url.toString();
}
