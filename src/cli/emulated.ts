/** The emulator as the commands start it: with its chat page, and the people they need on it. */
import { WebexEmulator, type EmulatedPerson, type EmulatedUser, type EmulatorOptions } from '../emulator/index.js';

export interface StartOptions {
  readonly port?: number | undefined;
  readonly host?: string | undefined;
  /** Keeps people, rooms and messages in this file across restarts. */
  readonly stateFile?: string | undefined;
}

/** An emulator serving its chat page. */
export async function startEmulator(options: StartOptions = {}): Promise<WebexEmulator> {
  const init: EmulatorOptions = {
    ui: true,
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.stateFile !== undefined ? { stateFile: options.stateFile } : {}),
  };
  return WebexEmulator.start(init);
}

/** The URL of the emulator's chat page. */
export function chatPage(emulator: WebexEmulator): string {
  return emulator.uiUrl;
}

/** The user called `displayName`, made now unless the emulator has one already (reloaded from its state file). */
export function userNamed(emulator: WebexEmulator, displayName: string): EmulatedUser {
  const existing = [...emulator.people.values()].find((p) => p.type === 'person' && p.displayName === displayName);
  // A user reloaded from a state file is one too (it says and submits).
  return existing ? (existing as EmulatedUser) : emulator.createUser({ displayName });
}

/** The bots the emulator has (reloaded from its state file), else one made now called `displayName`. */
export function botsOrNew(emulator: WebexEmulator, displayName: string): EmulatedPerson[] {
  const bots = [...emulator.people.values()].filter((p) => p.type === 'bot');
  return bots.length > 0 ? bots : [emulator.createBot({ displayName })];
}
