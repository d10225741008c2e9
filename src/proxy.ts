/**
 * Proxies from the environment. Node's fetch (WDM, REST, U2C) and the `ws` library (the socket)
 * ignore HTTPS_PROXY, HTTP_PROXY and NO_PROXY; this module reads them, when a bot is constructed,
 * and builds what sparkbot gives each of them:
 *
 * - for fetch, an undici Dispatcher that sends each request through the proxy of its URL, or
 *   directly (through Node's global dispatcher, as without a proxy) when NO_PROXY lists its host;
 * - for the socket, a function giving the http.Agent of a socket URL (its host comes from WDM at
 *   run time): a CONNECT tunnel through the proxy, or undefined to connect directly.
 *
 * Which proxy: https: and wss: targets use HTTPS_PROXY, http: and ws: targets HTTP_PROXY; the
 * lower-case name (https_proxy…) wins over the upper-case one, as in curl. A proxy URL is
 * `http://host:port` (or `https://` for a TLS connection to the proxy), with optional
 * `user:password@`; without a scheme, http:// is assumed.
 *
 * NO_PROXY (or no_proxy): entries separated by commas or spaces. `*` alone turns proxies off;
 * `example.com`, `.example.com` and `*.example.com` all match example.com and its subdomains; an
 * IP address matches itself and `10.0.0.0/8` (CIDR) the addresses in it; `entry:port` matches
 * that port only. Names are not resolved: `localhost` does not match 127.0.0.1. Loopback is
 * proxied like any other host unless listed.
 *
 * What the proxy sees: https: and wss: targets go through a CONNECT tunnel that carries TLS from
 * end to end, so the proxy learns the host and port and nothing else (never the token). An http:
 * target (allowed with allowInsecure only) is sent to an http:// proxy in absolute form (`GET
 * http://host/path`): the proxy sees the whole request, the Authorization header included — as
 * with any HTTP proxy. A ws: socket goes through a CONNECT tunnel, in clear inside it.
 *
 * undici and https-proxy-agent are loaded only when a proxy is set (undici takes ~100 ms to load).
 */
import type { Agent as HttpAgent } from 'node:http';
import { createRequire } from 'node:module';
import { BlockList, isIP } from 'node:net';
import type { Dispatcher } from 'undici';
import { SparkBotError } from './errors.js';

type UndiciModule = typeof import('undici');
type HttpsProxyAgentModule = typeof import('https-proxy-agent');

export interface EnvironmentProxy {
  /** An undici Dispatcher for fetch: each request goes through the proxy of its URL, or direct. */
  readonly dispatcher: Dispatcher;
  /** The http.Agent for a socket URL (ws:, wss:): a CONNECT tunnel through the proxy, or undefined to connect directly. */
  readonly agent: (url: string) => HttpAgent | undefined;
  /** The proxy a request to `url` goes through (scheme, host and port, never its credentials), or undefined when it goes direct. */
  proxyFor(url: string): string | undefined;
  /** What was read, for logs (never a credential): `https: http://proxy:3128, http: direct, NO_PROXY: 2 entries`. */
  readonly summary: string;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'http:': 80, 'ws:': 80, 'https:': 443, 'wss:': 443 };

/**
 * The proxies the environment asks for, or undefined when it sets neither HTTPS_PROXY nor
 * HTTP_PROXY. Throws a SparkBotError (INVALID_OPTION) when one of them is not a usable proxy URL.
 */
export function proxyFromEnvironment(env: NodeJS.ProcessEnv = process.env): EnvironmentProxy | undefined {
  const https = proxyVariable(env, 'https_proxy');
  const http = proxyVariable(env, 'http_proxy');
  if (https === undefined && http === undefined) return undefined;
  const noProxy = variable(env, 'no_proxy');
  const bypass = parseNoProxy(noProxy?.value ?? '');
  const pick = (target: URL): URL | undefined => {
    const proxy = target.protocol === 'https:' || target.protocol === 'wss:' ? https?.url : target.protocol === 'http:' || target.protocol === 'ws:' ? http?.url : undefined;
    return proxy === undefined || bypass(target) ? undefined : proxy;
  };
  const parse = (url: string): URL | undefined => {
    try {
      return new URL(url);
    } catch {
      return undefined;
    }
  };
  const tunnels = new Map<string, HttpAgent>();
  const entries = noProxy === undefined ? 0 : noProxy.value.split(/[\s,]+/).filter(Boolean).length;
  return {
    dispatcher: createDispatcher(pick),
    agent: (url) => {
      const target = parse(url);
      const proxy = target && pick(target);
      if (target === undefined || proxy === undefined) return undefined;
      const secure = target.protocol === 'wss:' || target.protocol === 'https:';
      const key = `${secure ? 'tls' : 'plain'} ${proxy.href}`;
      let agent = tunnels.get(key);
      if (agent === undefined) {
        agent = createTunnel(proxy, secure);
        tunnels.set(key, agent);
      }
      return agent;
    },
    proxyFor: (url) => {
      const target = parse(url);
      const proxy = target && pick(target);
      return proxy === undefined ? undefined : display(proxy);
    },
    summary: `https: ${https ? display(https.url) : 'direct'}, http: ${http ? display(http.url) : 'direct'}, ${noProxy?.name ?? 'NO_PROXY'}: ${entries} ${entries === 1 ? 'entry' : 'entries'}`,
  };
}

/** A variable by its lower-case name, then its upper-case one; blank counts as unset. */
function variable(env: NodeJS.ProcessEnv, lower: string): { name: string; value: string } | undefined {
  for (const name of [lower, lower.toUpperCase()]) {
    const value = env[name]?.trim();
    if (value) return { name, value };
  }
  return undefined;
}

function proxyVariable(env: NodeJS.ProcessEnv, lower: string): { name: string; url: URL } | undefined {
  const found = variable(env, lower);
  if (found === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(found.value) ? found.value : `http://${found.value}`);
  } catch {
    // The value is not shown: it may hold a password.
    throw new SparkBotError('INVALID_OPTION', `the ${found.name} environment variable is not a valid proxy URL: set it to http://host:port, or unset it (or pass proxy: false)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SparkBotError('INVALID_OPTION', `the ${found.name} environment variable names a ${url.protocol}// proxy: sparkbot supports http:// and https:// proxies only (or pass proxy: false, or your own agent and dispatcher)`);
  }
  if (url.hostname === '') throw new SparkBotError('INVALID_OPTION', `the ${found.name} environment variable names no proxy host: set it to http://host:port`);
  return { name: found.name, url };
}

/** A proxy URL without its credentials. */
function display(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

/** The host of a URL as NO_PROXY entries spell it: lower case, without IPv6 brackets or a trailing dot. */
function bareHost(hostname: string): string {
  return hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

/** The NO_PROXY test: true when `url` must be reached directly. */
export function parseNoProxy(value: string): (url: URL) => boolean {
  const entries = value
    .toLowerCase()
    .split(/[\s,]+/)
    .filter(Boolean);
  if (entries.includes('*')) return () => true;
  const addresses = new BlockList();
  const names: Array<{ readonly host: string; readonly port: number | undefined }> = [];
  for (const entry of entries) {
    const cidr = /^\[?([0-9a-f:.]+)\]?\/(\d{1,3})$/.exec(entry);
    const cidrAddress = cidr?.[1];
    if (cidr && cidrAddress !== undefined && isIP(cidrAddress) !== 0) {
      const family = isIP(cidrAddress) === 6 ? 'ipv6' : 'ipv4';
      const prefix = Number(cidr[2]);
      if (prefix <= (family === 'ipv6' ? 128 : 32)) addresses.addSubnet(cidrAddress, prefix, family);
      continue;
    }
    let host = entry;
    let port: number | undefined;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    const hostPort = /^([^:]*):(\d+)$/.exec(entry);
    if (bracketed) {
      host = bracketed[1] ?? '';
      port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
    } else if (hostPort && isIP(entry) === 0) {
      host = hostPort[1] ?? '';
      port = Number(hostPort[2]);
    }
    host = bareHost(host.replace(/^\*/, '').replace(/^\./, ''));
    if (host === '') continue;
    const family = isIP(host);
    if (family !== 0 && port === undefined) {
      addresses.addAddress(host, family === 6 ? 'ipv6' : 'ipv4');
      continue;
    }
    // An IPv6 address with a port is compared in the form URL gives it (compressed).
    names.push({ host: family === 6 ? bareHost(new URL(`http://[${host}]`).hostname) : host, port });
  }
  return (url) => {
    const host = bareHost(url.hostname);
    const family = isIP(host);
    if (family !== 0 && addresses.check(host, family === 6 ? 'ipv6' : 'ipv4')) return true;
    const port = url.port === '' ? DEFAULT_PORTS[url.protocol] : Number(url.port);
    return names.some((entry) => (entry.port === undefined || entry.port === port) && (host === entry.host || (family === 0 && host.endsWith(`.${entry.host}`))));
  };
}

const require = createRequire(import.meta.url);
let undici: UndiciModule | undefined;
let routerClass: (new (pick: (target: URL) => URL | undefined) => Dispatcher) | undefined;

/**
 * The dispatcher for fetch: a ProxyAgent per proxy URL, or Node's global dispatcher (what fetch
 * uses without one) for the hosts NO_PROXY lists. http: targets reach an http:// proxy in
 * absolute form (proxyTunnel: false); https: targets always through a CONNECT tunnel.
 */
function createDispatcher(pick: (target: URL) => URL | undefined): Dispatcher {
  undici ??= require('undici') as UndiciModule;
  routerClass ??= routerOf(undici);
  return new routerClass(pick);
}

function routerOf({ Dispatcher: Base, ProxyAgent, getGlobalDispatcher }: UndiciModule) {
  return class EnvironmentProxyDispatcher extends Base {
    readonly #pick: (target: URL) => URL | undefined;
    readonly #proxies = new Map<string, Dispatcher>();

    constructor(pick: (target: URL) => URL | undefined) {
      super();
      this.#pick = pick;
    }

    override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      const proxy = options.origin === undefined ? undefined : this.#pick(new URL(String(options.origin)));
      if (proxy === undefined) return getGlobalDispatcher().dispatch(options, handler);
      let agent = this.#proxies.get(proxy.href);
      if (agent === undefined) {
        agent = new ProxyAgent({ uri: proxy.href, proxyTunnel: false });
        this.#proxies.set(proxy.href, agent);
      }
      return agent.dispatch(options, handler);
    }

    /** Closes the proxies' connections (never the global dispatcher). */
    override close(): Promise<void>;
    override close(callback: () => void): void;
    override close(callback?: () => void): Promise<void> | void {
      const done = Promise.all([...this.#proxies.values()].map((agent) => agent.close())).then(() => undefined);
      this.#proxies.clear();
      if (callback === undefined) return done;
      void done.then(callback);
    }

    override destroy(): Promise<void>;
    override destroy(err: Error | null): Promise<void>;
    override destroy(callback: () => void): void;
    override destroy(err: Error | null, callback: () => void): void;
    override destroy(first?: Error | null | (() => void), second?: () => void): Promise<void> | void {
      const err = typeof first === 'function' ? null : (first ?? null);
      const callback = typeof first === 'function' ? first : second;
      const done = Promise.all([...this.#proxies.values()].map((agent) => agent.destroy(err))).then(() => undefined);
      this.#proxies.clear();
      if (callback === undefined) return done;
      void done.then(callback);
    }
  };
}

let tunnelClass: (new (proxy: URL, secure: boolean) => HttpAgent) | undefined;

/**
 * A CONNECT tunnel to `proxy` for the socket (https-proxy-agent), TLS inside it for a wss: URL.
 * Whether the target is secure is fixed here, from the URL, rather than guessed from the call
 * stack (ws does not tell the agent the request's protocol).
 */
function createTunnel(proxy: URL, secure: boolean): HttpAgent {
  if (tunnelClass === undefined) {
    const { HttpsProxyAgent } = require('https-proxy-agent') as HttpsProxyAgentModule;
    tunnelClass = class SocketTunnel extends HttpsProxyAgent<string> {
      readonly #secure: boolean;

      constructor(proxyUrl: URL, isSecure: boolean) {
        super(proxyUrl);
        this.#secure = isSecure;
      }

      override isSecureEndpoint(): boolean {
        return this.#secure;
      }
    };
  }
  return new tunnelClass(proxy, secure);
}
