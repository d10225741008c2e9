/**
 * `--inspect`: what watches the bot's machines.
 *
 * - the local inspector (`localInspector()` from `sparkbot/inspect`): an offline page of its own,
 *   registered with the emulator when there is one, so that its chat page shows the machine too;
 * - `--inspect=stately`: the Stately inspector, through @statelyai/inspect's relay server on a free
 *   local port (never a fixed one: 8080 is too often taken). @statelyai/inspect is an optional
 *   dependency, loaded only here.
 */
import { createServer } from 'node:net';
import type { InspectionEvent } from 'xstate';
import type { WebexEmulator } from '../emulator/index.js';
import type { InspectedBot, SparkBot, SparkBotOptions } from '../index.js';
import { localInspector, type LocalInspector } from '../inspect/index.js';
import { SetupError, type InspectMode } from './args.js';
import type { Print } from './console.js';

export type InspectOption = NonNullable<SparkBotOptions<SparkBot>['inspect']>;

/** What the command hands the bot as `inspect`, and what it closes on the way out. */
export interface Inspection {
  readonly inspect: InspectOption;
  close(): Promise<void>;
}

/** A free TCP port on the loopback, for a server that takes a port and not 0. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The local inspector and the Stately one both see every event; the bot attaches to the local one (its page names the bot). */
function both(local: LocalInspector, other: InspectOption): InspectOption {
  const forward = typeof other === 'function' ? other : (event: InspectionEvent) => other.next?.(event);
  return {
    next: (event: InspectionEvent) => {
      local.next(event);
      forward(event);
    },
    error: () => undefined,
    complete: () => undefined,
    attach: (bot: InspectedBot) => local.attach(bot),
  } as InspectOption;
}

async function stately(print: Print): Promise<Inspection> {
  const load = (name: string) => import(name) as Promise<Record<string, unknown>>;
  let inspectModule: Record<string, unknown>;
  let serverModule: Record<string, unknown>;
  try {
    inspectModule = await load('@statelyai/inspect');
    serverModule = await load('@statelyai/inspect/server');
  } catch (error) {
    throw new SetupError(`--inspect=stately needs @statelyai/inspect, which is not installed (npm i -D @statelyai/inspect): ${(error as Error).message}`);
  }
  const { createWebSocketInspector } = inspectModule as { createWebSocketInspector: (o: { url: string }) => { inspect: InspectOption; stop?: () => void } };
  const { createInspectorServer } = serverModule as { createInspectorServer: (o: { port: number }) => { close?: () => void } | undefined };
  const port = await freePort();
  const server = createInspectorServer({ port });
  const url = `ws://localhost:${port}`;
  print(`inspect: relaying to the Stately inspector (stately.ai/inspect) through ${url}`);
  const inspector = createWebSocketInspector({ url });
  return {
    inspect: inspector.inspect,
    close: async () => {
      inspector.stop?.();
      server?.close?.();
    },
  };
}

/**
 * The inspection a command asked for: the local inspector when `mode` is 'local' or there is an
 * emulator (whose chat page then shows the machine, in a tab called `name`; the inspector's own URL
 * is printed only for `--inspect`), the Stately one for 'stately' (beside the local one when there
 * is an emulator). Undefined: none.
 */
export async function inspection(mode: InspectMode | undefined, options: { emulator?: WebexEmulator; name?: string; print: Print }): Promise<Inspection | undefined> {
  const { emulator, name, print } = options;
  const local =
    mode === 'local' || emulator
      ? localInspector({ ...(emulator ? { emulator } : {}), ...(name ? { name } : {}), print: mode === 'local' ? (line) => print(line) : () => undefined })
      : undefined;
  if (local && mode === 'local') await local.url.catch(() => undefined); // printed by the inspector: its URL, or why it has none
  let remote: Inspection | undefined;
  try {
    if (mode === 'stately') remote = await stately(print);
  } catch (error) {
    await local?.close();
    throw error;
  }
  if (!local && !remote) return undefined;
  return {
    inspect: local && remote ? both(local, remote.inspect) : (local ?? (remote as Inspection).inspect),
    close: async () => {
      await local?.close();
      await remote?.close();
    },
  };
}
