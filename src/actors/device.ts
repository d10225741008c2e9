/**
 * The device service: finds the WDM device the socket connects through.
 *
 * - A device already in use (the machine's context) is reused as it is: a reconnect costs no
 *   request and the server redelivers unacked events to the same device.
 * - On the first start, the device saved in the last-connection store is checked against the
 *   device list of its WDM (which also gives its current socket URL) and reused when WDM still
 *   knows it.
 * - Otherwise, or when the socket proved the device stale, a new device is registered, and the
 *   stale one is deleted, best effort.
 *
 * Which WDM: the wdmUrl option, or the one Webex's service catalog names, or the one saved with
 * the device; see src/actors/wdm.ts (the WdmLocator). The catalog is asked here, in `fetchingUrl`:
 * its failures are the machine's like WDM's (401 fails, 429 waits), and stop() aborts it.
 *
 * Every failure rejects with an ApiError carrying the HTTP status and Retry-After, so that the
 * machine can tell 429, 401 and 403 from the rest; ky's own retries are off. What reaches the
 * machine (errors, device URLs) is free of the token: an answer that echoes it is not used.
 */
import type { DeviceInput, DeviceOutput, DeviceRef } from '../../machines/connection.js';
import { ApiError } from '../errors.js';
import { originOf, type Http } from '../http.js';
import type { Log, Redactor } from '../log.js';
import type { Store } from './store.js';
import { hostAllowed, type WdmLocator } from './wdm.js';

export { hostAllowed };

export interface DeviceDeps {
  readonly http: Http;
  /** Which WDM: fixed (wdmUrl), discovered, or saved with the device. */
  readonly wdm: WdmLocator;
  readonly deviceDesc: Readonly<Record<string, unknown>>;
  readonly store: Store;
  readonly log: Log;
  /** Keeps the token out of what reaches the machine's context (and so the inspector). */
  readonly redactor: Redactor;
  readonly allowInsecure: boolean;
  /** Hosts a socket URL may name (names or `*.suffix`); the token is sent to no other. Read at each check: the WDM found joins it. */
  readonly socketHosts: readonly string[];
  readonly warn: (message: string) => void;
  /**
   * A registration the machine stopped waiting for (stop() while it was under way). The server may
   * register the device anyway: the request goes on, and its outcome is handed over — the bot saves
   * the device (the next start reuses it and gets what was sent to it) or `discard`s it (deletes it
   * from WDM, best effort). `cancel` aborts the request.
   */
  readonly abandoned?: (registration: Promise<DeviceRef>, handle: { cancel(): void; discard(device: DeviceRef): Promise<void> }) => void;
}

/** The device service of one bot (the machine's `device` actor runs it with the bot's deps). */
export function createDeviceService(deps: DeviceDeps) {
  const { wdm } = deps;

  /** A device URL is only trusted (and sent the token) when it lives on the WDM in use. */
  const isOurs = (device: DeviceRef) => wdm.owns(device.url);

  function checkSocketUrl(webSocketUrl: unknown, where: string, wdmUrl: string): string {
    if (typeof webSocketUrl !== 'string' || webSocketUrl === '') {
      throw new ApiError({ message: `${where} has no webSocketUrl (is wdmUrl a Webex WDM devices URL?)`, method: 'POST', url: wdmUrl });
    }
    if (deps.redactor.contains(webSocketUrl)) {
      throw new ApiError({ message: `${where} has a webSocketUrl that holds the access token (or a piece of it); it is not used`, method: 'POST', url: wdmUrl });
    }
    let protocol: string;
    let host: string;
    try {
      ({ protocol, hostname: host } = new URL(webSocketUrl));
    } catch {
      throw new ApiError({ message: `${where} has an invalid webSocketUrl`, method: 'POST', url: wdmUrl });
    }
    if (!hostAllowed(host, deps.socketHosts)) {
      throw new ApiError({
        message: `${where} names a socket on ${host}, which is not a Webex host (${deps.socketHosts.join(', ')}); the token is not sent there — set socketHosts if this host is right`,
        method: 'POST',
        url: wdmUrl,
      });
    }
    if (protocol !== 'wss:' && !(protocol === 'ws:' && deps.allowInsecure)) {
      throw new ApiError({
        message: `${where} has a webSocketUrl with scheme ${protocol} (wss: required${protocol === 'ws:' ? '; set allowInsecure to permit ws:' : ''})`,
        method: 'POST',
        url: wdmUrl,
      });
    }
    return webSocketUrl;
  }

  /**
   * Registers a device. Stopping the machine does not abort the request once it is sent: aborting it
   * would not undo it on the server, whose device would be lost to the bot with whatever is sent to
   * it; the request is handed to `deps.abandoned` instead.
   */
  async function register(wdmUrl: string, signal: AbortSignal): Promise<DeviceRef> {
    signal.throwIfAborted();
    const own = new AbortController();
    const registration = registerNow(wdmUrl, own.signal);
    const onAbort = () => {
      if (deps.abandoned) deps.abandoned(registration, { cancel: () => own.abort(signal.reason), discard: deleteBestEffort });
      else own.abort(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await registration;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async function registerNow(wdmUrl: string, signal: AbortSignal): Promise<DeviceRef> {
    const req = { method: 'POST', url: wdmUrl, json: deps.deviceDesc, signal } as const;
    const result = await deps.http.send<{ url?: unknown; webSocketUrl?: unknown }>(req);
    if (result.status < 200 || result.status >= 300) throw deps.http.errorFor(req, result, 'device registration failed');
    const body = deps.http.objectBody(req, result, 'device registration', 'wdmUrl');
    const { url } = body;
    if (typeof url === 'string' && deps.redactor.contains(url)) {
      throw new ApiError({ message: 'device registration answered with a device url that holds the access token (or a piece of it); the device is not used', method: 'POST', url: wdmUrl });
    }
    // forRegistration made wdmUrl the WDM in use: the device must live there.
    if (typeof url !== 'string' || !isOurs({ url, webSocketUrl: '' })) {
      const where = typeof url === 'string' ? `a device url on ${originOf(url) ?? 'an invalid URL'}, not on ${originOf(wdmUrl) ?? wdmUrl}` : 'no device url';
      throw new ApiError({ message: `device registration answered with ${where}; the device is not used`, method: 'POST', url: wdmUrl });
    }
    let webSocketUrl: string;
    try {
      webSocketUrl = checkSocketUrl(body.webSocketUrl, 'the device registration answer', wdmUrl);
    } catch (error) {
      // The device exists now but cannot be used: delete it rather than leave one behind per attempt.
      await deleteBestEffort({ url, webSocketUrl: '' });
      throw error;
    }
    const device = { url, webSocketUrl };
    deps.log('registered device %s', device.url);
    return device;
  }

  /** The saved device as WDM knows it now, or null when WDM no longer lists it. */
  async function verify(wdmUrl: string, saved: DeviceRef, signal: AbortSignal): Promise<DeviceRef | null> {
    const req = { method: 'GET', url: wdmUrl, signal } as const;
    const result = await deps.http.send<{ devices?: unknown }>(req);
    if (result.status < 200 || result.status >= 300) throw deps.http.errorFor(req, result, 'listing devices failed');
    if (typeof result.body !== 'object' || result.body === null) {
      // Not "the device is gone": registering a new one on a proxy's error page would churn devices.
      throw new ApiError({ message: `listing devices: GET ${wdmUrl} answered HTTP ${result.status} with a body that is not JSON; is wdmUrl right, or did a proxy answer?`, method: 'GET', url: wdmUrl });
    }
    const devices: unknown[] = Array.isArray(result.body?.devices) ? result.body.devices : [];
    const current = devices.find((d): d is Record<string, unknown> => typeof d === 'object' && d !== null && (d as { url?: unknown }).url === saved.url);
    if (!current) {
      deps.log('saved device %s is no longer registered', saved.url);
      return null;
    }
    return { url: saved.url, webSocketUrl: checkSocketUrl(current.webSocketUrl, 'the saved device', wdmUrl) };
  }

  async function deleteBestEffort(device: DeviceRef): Promise<void> {
    try {
      const req = { method: 'DELETE', url: device.url } as const;
      const result = await deps.http.send(req);
      deps.log('deleted unusable device %s: HTTP %d', device.url, result.status);
    } catch (error) {
      deps.log('could not delete unusable device %s: %s', device.url, (error as Error).message);
    }
  }

  return ({ input, signal }: { readonly input: DeviceInput; readonly signal: AbortSignal }): Promise<DeviceOutput> =>
    // Whatever the answers held, what the machine keeps (its lastError, the inspector's events) is redacted.
    findDevice(input, signal).catch((error: unknown) => {
      throw deps.redactor.error(error);
    });

  async function findDevice(input: DeviceInput, signal: AbortSignal): Promise<DeviceOutput> {
    if (input.device && !input.stale && !input.verify) return { device: input.device, registered: false };
    if (input.device && !input.stale && input.verify && isOurs(input.device) && wdm.current !== undefined) {
      const current = await verify(wdm.current, input.device, signal);
      if (current) return { device: current, registered: false };
    }
    if (input.device && input.stale && isOurs(input.device)) void deleteBestEffort(input.device);
    if (!input.device) {
      const saved = await deps.store.loadDevice();
      const problem = saved ? wdm.adoptSaved(saved) : undefined;
      if (problem !== undefined) {
        deps.warn(`the last-connection file ${problem}`);
      } else if (saved && wdm.current !== undefined) {
        const current = await verify(wdm.current, saved, signal);
        if (current) return { device: current, registered: false };
      }
    }
    // The WDM of a new device: the wdmUrl option, or the one the service catalog names (asked once).
    const wdmUrl = await wdm.forRegistration(signal);
    return { device: await register(wdmUrl, signal), registered: true };
  }
}
