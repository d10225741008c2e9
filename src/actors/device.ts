/**
 * The device service: finds the WDM device the socket connects through.
 *
 * - A device already in use (the machine's context) is reused as it is: a reconnect costs no
 *   request and the server redelivers unacked events to the same device.
 * - On the first start, the device saved in the last-connection store is checked against WDM's
 *   device list (which also gives its current socket URL) and reused when WDM still knows it.
 * - Otherwise, or when the socket proved the device stale, a new device is registered, and the
 *   stale one is deleted, best effort.
 *
 * Every failure rejects with an ApiError carrying the HTTP status and Retry-After, so that the
 * machine can tell 429, 401 and 403 from the rest; ky's own retries are off. What reaches the
 * machine (errors, device URLs) is free of the token: an answer that echoes it is not used.
 */
import { fromPromise } from 'xstate';
import type { DeviceInput, DeviceOutput, DeviceRef } from '../../machines/connection.js';
import { ApiError } from '../errors.js';
import { originOf, type Http } from '../http.js';
import type { Log, Redactor } from '../log.js';
import type { Store } from './store.js';

export interface DeviceDeps {
  readonly http: Http;
  readonly wdmUrl: string;
  readonly deviceDesc: Readonly<Record<string, unknown>>;
  readonly store: Store;
  readonly log: Log;
  /** Keeps the token out of what reaches the machine's context (and so the inspector). */
  readonly redactor: Redactor;
  readonly allowInsecure: boolean;
  /** Hosts a socket URL may name (names or `*.suffix`); the token is sent to no other. */
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

/** True when `host` is one of `patterns` (a name, or `*.suffix` for any subdomain). */
export function hostAllowed(host: string, patterns: readonly string[]): boolean {
  const name = host.toLowerCase();
  return patterns.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith('*.') ? name.endsWith(p.slice(1)) && name.length > p.length - 1 : name === p;
  });
}

export function createDeviceActor(deps: DeviceDeps) {
  const wdmOrigin = new URL(deps.wdmUrl).origin;

  /** A device URL is only trusted (and sent the token) when it lives on the configured WDM. */
  const isOurs = (device: DeviceRef) => originOf(device.url) === wdmOrigin;

  function checkSocketUrl(webSocketUrl: unknown, where: string): string {
    if (typeof webSocketUrl !== 'string' || webSocketUrl === '') {
      throw new ApiError({ message: `${where} has no webSocketUrl (is wdmUrl a Webex WDM devices URL?)`, method: 'POST', url: deps.wdmUrl });
    }
    if (deps.redactor.contains(webSocketUrl)) {
      throw new ApiError({ message: `${where} has a webSocketUrl that holds the access token (or a piece of it); it is not used`, method: 'POST', url: deps.wdmUrl });
    }
    let protocol: string;
    let host: string;
    try {
      ({ protocol, hostname: host } = new URL(webSocketUrl));
    } catch {
      throw new ApiError({ message: `${where} has an invalid webSocketUrl`, method: 'POST', url: deps.wdmUrl });
    }
    if (!hostAllowed(host, deps.socketHosts)) {
      throw new ApiError({
        message: `${where} names a socket on ${host}, which is not a Webex host (${deps.socketHosts.join(', ')}); the token is not sent there — set socketHosts if this host is right`,
        method: 'POST',
        url: deps.wdmUrl,
      });
    }
    if (protocol !== 'wss:' && !(protocol === 'ws:' && deps.allowInsecure)) {
      throw new ApiError({
        message: `${where} has a webSocketUrl with scheme ${protocol} (wss: required${protocol === 'ws:' ? '; set allowInsecure to permit ws:' : ''})`,
        method: 'POST',
        url: deps.wdmUrl,
      });
    }
    return webSocketUrl;
  }

  /**
   * Registers a device. Stopping the machine does not abort the request once it is sent: aborting it
   * would not undo it on the server, whose device would be lost to the bot with whatever is sent to
   * it; the request is handed to `deps.abandoned` instead.
   */
  async function register(signal: AbortSignal): Promise<DeviceRef> {
    signal.throwIfAborted();
    const own = new AbortController();
    const registration = registerNow(own.signal);
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

  async function registerNow(signal: AbortSignal): Promise<DeviceRef> {
    const req = { method: 'POST', url: deps.wdmUrl, json: deps.deviceDesc, signal } as const;
    const result = await deps.http.send<{ url?: unknown; webSocketUrl?: unknown }>(req);
    if (result.status < 200 || result.status >= 300) throw deps.http.errorFor(req, result, 'device registration failed');
    const body: unknown = result.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      const type = result.headers.get('content-type');
      throw new ApiError({
        message: `device registration: POST ${deps.wdmUrl} answered HTTP ${result.status} with a body that is not a JSON object${type ? ` (${type})` : ''}; is wdmUrl right, or did a proxy answer?`,
        method: 'POST',
        url: deps.wdmUrl,
      });
    }
    const url = (body as { url?: unknown }).url;
    if (typeof url === 'string' && deps.redactor.contains(url)) {
      throw new ApiError({ message: 'device registration answered with a device url that holds the access token (or a piece of it); the device is not used', method: 'POST', url: deps.wdmUrl });
    }
    if (typeof url !== 'string' || !isOurs({ url, webSocketUrl: '' })) {
      const where = typeof url === 'string' ? `a device url on ${originOf(url) ?? 'an invalid URL'}, not on ${wdmOrigin}` : 'no device url';
      throw new ApiError({ message: `device registration answered with ${where}; the device is not used`, method: 'POST', url: deps.wdmUrl });
    }
    let webSocketUrl: string;
    try {
      webSocketUrl = checkSocketUrl((body as { webSocketUrl?: unknown }).webSocketUrl, 'the device registration answer');
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
  async function verify(saved: DeviceRef, signal: AbortSignal): Promise<DeviceRef | null> {
    const req = { method: 'GET', url: deps.wdmUrl, signal } as const;
    const result = await deps.http.send<{ devices?: unknown }>(req);
    if (result.status < 200 || result.status >= 300) throw deps.http.errorFor(req, result, 'listing devices failed');
    if (typeof result.body !== 'object' || result.body === null) {
      // Not "the device is gone": registering a new one on a proxy's error page would churn devices.
      throw new ApiError({ message: `listing devices: GET ${deps.wdmUrl} answered HTTP ${result.status} with a body that is not JSON; is wdmUrl right, or did a proxy answer?`, method: 'GET', url: deps.wdmUrl });
    }
    const devices: unknown[] = Array.isArray(result.body?.devices) ? result.body.devices : [];
    const current = devices.find((d): d is Record<string, unknown> => typeof d === 'object' && d !== null && (d as { url?: unknown }).url === saved.url);
    if (!current) {
      deps.log('saved device %s is no longer registered', saved.url);
      return null;
    }
    return { url: saved.url, webSocketUrl: checkSocketUrl(current.webSocketUrl, 'the saved device') };
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

  return fromPromise<DeviceOutput, DeviceInput>(({ input, signal }) =>
    // Whatever the answers held, what the machine keeps (its lastError, the inspector's events) is redacted.
    findDevice(input, signal).catch((error: unknown) => {
      throw deps.redactor.error(error);
    }),
  );

  async function findDevice(input: DeviceInput, signal: AbortSignal): Promise<DeviceOutput> {
    if (input.device && !input.stale && !input.verify) return { device: input.device, registered: false };
    if (input.device && !input.stale && input.verify && isOurs(input.device)) {
      const current = await verify(input.device, signal);
      if (current) return { device: current, registered: false };
    }
    if (input.device && input.stale && isOurs(input.device)) void deleteBestEffort(input.device);
    if (!input.device) {
      const saved = await deps.store.loadDevice();
      if (saved && !isOurs(saved)) {
        deps.warn(`the last-connection file names a device on another host (${originOf(saved.url) ?? 'an invalid URL'}); it is ignored and a new device is registered`);
      } else if (saved) {
        const current = await verify(saved, signal);
        if (current) return { device: current, registered: false };
      }
    }
    return { device: await register(signal), registered: true };
  }
}
