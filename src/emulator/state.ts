/**
 * The emulator's world on disk (`WebexEmulator.start({ stateFile })`): people with their tokens,
 * rooms, memberships, messages and their threads, teams, card submits and webhooks, as JSON. Loaded
 * at start when the file exists; saved as things change (debounced) and on close, atomically
 * (a temp file renamed over the old one), mode 0600 since it holds the tokens.
 *
 * Devices and pending envelopes are not kept: a bot registers again after a restart, as after a
 * WDM purge. Ids are stored as uuids and rebuilt with the emulator's cluster when loaded.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { EmulatedFile, EmulatedMessage, EmulatedPerson, EmulatedRoom, EmulatedTeam, EmulatedWebhook, EmulatedAction, World } from './model.js';

/** The version of the file's shape; a file of another version is refused. */
export const STATE_VERSION = 1;

interface SavedPerson {
  uuid: string;
  displayName: string;
  email: string;
  type: 'person' | 'bot';
  token: string;
  created: string;
}

interface SavedRoom {
  uuid: string;
  title: string;
  type: 'direct' | 'group';
  members: string[];
  moderators: string[];
  isLocked: boolean;
  creatorUuid: string;
  created: string;
  lastActivity: string;
  teamUuid?: string;
}

interface SavedFile {
  name: string;
  contentType: string;
  /** The bytes, base64. */
  data: string;
  malwareQuarantineState: EmulatedFile['malwareQuarantineState'];
  scan?: EmulatedFile['scan'];
  retryAfter?: number | string;
}

interface SavedMessage {
  uuid: string;
  roomUuid: string;
  personUuid: string;
  text?: string;
  markdown?: string;
  html?: string;
  parentUuid?: string;
  /** People uuids. */
  mentionedPeople?: string[];
  files?: string[];
  attachments?: unknown[];
  shared?: SavedFile[];
  created: string;
}

interface SavedTeam {
  uuid: string;
  name: string;
  description?: string;
  creatorUuid: string;
  members: string[];
  moderators: string[];
  created: string;
}

interface SavedAction {
  uuid: string;
  messageUuid: string;
  personUuid: string;
  roomUuid: string;
  inputs: Record<string, unknown>;
  created: string;
}

/** What the state file holds. */
export interface SavedState {
  version: typeof STATE_VERSION;
  savedAt: string;
  /** The org of the people (their tokens end with it). */
  orgUuid: string;
  people: SavedPerson[];
  rooms: SavedRoom[];
  /** `[personUuid:roomUuid, created]`. */
  memberships: Array<[string, string]>;
  messages: SavedMessage[];
  teams: SavedTeam[];
  actions: SavedAction[];
  webhooks: EmulatedWebhook[];
}

/** The world as a state file holds it. */
export function snapshot(world: World): SavedState {
  return {
    version: STATE_VERSION,
    savedAt: new Date().toISOString(),
    orgUuid: world.orgUuid,
    people: [...world.people.values()].map((p) => ({ uuid: p.uuid, displayName: p.displayName, email: p.email, type: p.type, token: p.token, created: p.created })),
    rooms: [...world.rooms.values()].map((r) => ({
      uuid: r.uuid,
      title: r.title,
      type: r.type,
      members: [...r.members],
      moderators: [...r.moderators],
      isLocked: r.isLocked,
      creatorUuid: r.creatorUuid,
      created: r.created,
      lastActivity: r.lastActivity,
      ...(r.teamUuid === undefined ? {} : { teamUuid: r.teamUuid }),
    })),
    memberships: [...world.memberships.entries()],
    messages: [...world.messages.values()].map(saveMessage),
    teams: [...world.teams.values()].map((t) => ({
      uuid: t.uuid,
      name: t.name,
      ...(t.description === undefined ? {} : { description: t.description }),
      creatorUuid: t.creatorUuid,
      members: [...t.members],
      moderators: [...t.moderators],
      created: t.created,
    })),
    actions: [...world.actions.values()].map((a) => ({ uuid: a.uuid, messageUuid: a.messageUuid, personUuid: a.personUuid, roomUuid: a.roomUuid, inputs: a.inputs, created: a.created })),
    webhooks: [...world.webhooks.values()].map((w) => ({ ...w })),
  };
}

function saveMessage(m: EmulatedMessage): SavedMessage {
  return {
    uuid: m.uuid,
    roomUuid: m.roomUuid,
    personUuid: m.personUuid,
    ...(m.text === undefined ? {} : { text: m.text }),
    ...(m.markdown === undefined ? {} : { markdown: m.markdown }),
    ...(m.html === undefined ? {} : { html: m.html }),
    ...(m.parentUuid === undefined ? {} : { parentUuid: m.parentUuid }),
    ...(m.mentionedPeople === undefined ? {} : { mentionedPeople: [...m.mentionedPeople] }),
    ...(m.files === undefined ? {} : { files: [...m.files] }),
    ...(m.attachments === undefined ? {} : { attachments: [...m.attachments] }),
    ...(m.shared === undefined
      ? {}
      : {
          shared: m.shared.map((f) => ({
            name: f.name,
            contentType: f.contentType,
            data: f.data.toString('base64'),
            malwareQuarantineState: f.malwareQuarantineState,
            ...(f.scan === undefined ? {} : { scan: f.scan }),
            ...(f.retryAfter === undefined ? {} : { retryAfter: f.retryAfter }),
          })),
        }),
    created: m.created,
  };
}

/**
 * Reads a state file: undefined when there is none; an Error naming the file when it cannot be
 * read or is not an emulator state (not JSON, another version, a part missing or of the wrong shape).
 */
export async function readState(file: string): Promise<SavedState | undefined> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`emulator state file ${file} cannot be read: ${(error as Error).message}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new Error(`emulator state file ${file} is corrupt: it is not valid JSON (${(error as Error).message}); fix it or delete it to start empty`, { cause: error });
  }
  const problem = checkState(parsed);
  if (problem !== undefined) throw new Error(`emulator state file ${file} is corrupt: ${problem}; fix it or delete it to start empty`);
  return parsed as SavedState;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isString = (value: unknown): value is string => typeof value === 'string';

/** What is wrong with a parsed state file, or undefined when its shape is right. */
function checkState(state: unknown): string | undefined {
  if (!isObject(state)) return 'it is not a JSON object';
  if (state.version !== STATE_VERSION) return `its version is ${JSON.stringify(state.version)}, this emulator reads version ${STATE_VERSION}`;
  if (!isString(state.orgUuid)) return 'orgUuid is missing';
  for (const part of ['people', 'rooms', 'memberships', 'messages', 'teams', 'actions', 'webhooks']) {
    if (!Array.isArray(state[part])) return `"${part}" is not a list`;
  }
  const people = state.people as unknown[];
  for (const [i, p] of people.entries()) {
    if (!isObject(p) || !isString(p.uuid) || !isString(p.displayName) || !isString(p.email) || !isString(p.token) || !isString(p.created) || (p.type !== 'person' && p.type !== 'bot')) {
      return `people[${i}] is not a person (uuid, displayName, email, token, type, created)`;
    }
  }
  for (const [i, r] of (state.rooms as unknown[]).entries()) {
    if (
      !isObject(r) ||
      !isString(r.uuid) ||
      !isString(r.title) ||
      (r.type !== 'direct' && r.type !== 'group') ||
      !Array.isArray(r.members) ||
      !r.members.every(isString) ||
      !Array.isArray(r.moderators) ||
      !isString(r.creatorUuid) ||
      !isString(r.created) ||
      !isString(r.lastActivity)
    ) {
      return `rooms[${i}] is not a room (uuid, title, type, members, moderators, creatorUuid, created, lastActivity)`;
    }
  }
  for (const [i, m] of (state.memberships as unknown[]).entries()) {
    if (!Array.isArray(m) || m.length !== 2 || !isString(m[0]) || !isString(m[1])) return `memberships[${i}] is not a [key, created] pair`;
  }
  const roomUuids = new Set((state.rooms as Array<{ uuid: string }>).map((r) => r.uuid));
  const personUuids = new Set((people as Array<{ uuid: string }>).map((p) => p.uuid));
  for (const [i, m] of (state.messages as unknown[]).entries()) {
    if (!isObject(m) || !isString(m.uuid) || !isString(m.roomUuid) || !isString(m.personUuid) || !isString(m.created)) {
      return `messages[${i}] is not a message (uuid, roomUuid, personUuid, created)`;
    }
    if (!roomUuids.has(m.roomUuid) || !personUuids.has(m.personUuid)) return `messages[${i}] names a room or an author the file does not hold`;
    if (m.shared !== undefined && (!Array.isArray(m.shared) || !m.shared.every((f) => isObject(f) && isString(f.name) && isString(f.data) && isString(f.contentType)))) {
      return `messages[${i}].shared is not a list of files (name, contentType, data)`;
    }
  }
  for (const [i, t] of (state.teams as unknown[]).entries()) {
    if (!isObject(t) || !isString(t.uuid) || !isString(t.name) || !Array.isArray(t.members) || !Array.isArray(t.moderators)) return `teams[${i}] is not a team`;
  }
  for (const [i, a] of (state.actions as unknown[]).entries()) {
    if (!isObject(a) || !isString(a.uuid) || !isString(a.messageUuid) || !isString(a.personUuid) || !isString(a.roomUuid) || !isObject(a.inputs)) return `actions[${i}] is not a card submit`;
  }
  for (const [i, w] of (state.webhooks as unknown[]).entries()) {
    if (!isObject(w) || !isString(w.uuid) || !isString(w.ownerUuid) || !isString(w.targetUrl)) return `webhooks[${i}] is not a webhook`;
  }
  return undefined;
}

/**
 * Puts a saved state into an empty world: its org, people (same uuids and tokens), rooms,
 * memberships, messages, teams, card submits and webhooks. The REST ids are rebuilt with the
 * world's cluster. Nothing is announced: this is what the world already was.
 */
export function applyState(world: World, state: SavedState): void {
  // The org is part of every token; people made from now on join the same one.
  (world as { orgUuid: string }).orgUuid = state.orgUuid;
  for (const p of state.people) {
    const person: EmulatedPerson = { uuid: p.uuid, id: world.hydra('PEOPLE', p.uuid), displayName: p.displayName, email: p.email, type: p.type, token: p.token, orgId: state.orgUuid, created: p.created };
    world.people.set(p.uuid, person);
  }
  for (const r of state.rooms) {
    const room: EmulatedRoom = {
      uuid: r.uuid,
      id: world.hydra('ROOM', r.uuid),
      title: r.title,
      type: r.type,
      members: new Set(r.members),
      moderators: new Set(r.moderators),
      isLocked: r.isLocked === true,
      creatorUuid: r.creatorUuid,
      created: r.created,
      lastActivity: r.lastActivity,
      ...(r.teamUuid === undefined ? {} : { teamUuid: r.teamUuid }),
    };
    world.rooms.set(r.uuid, room);
  }
  for (const [key, created] of state.memberships) world.memberships.set(key, created);
  for (const m of state.messages) {
    const message: EmulatedMessage = {
      uuid: m.uuid,
      id: world.hydra('MESSAGE', m.uuid),
      roomUuid: m.roomUuid,
      roomId: world.hydra('ROOM', m.roomUuid),
      personUuid: m.personUuid,
      personId: world.hydra('PEOPLE', m.personUuid),
      ...(m.text === undefined ? {} : { text: m.text }),
      ...(m.markdown === undefined ? {} : { markdown: m.markdown }),
      ...(m.html === undefined ? {} : { html: m.html }),
      ...(m.parentUuid === undefined ? {} : { parentUuid: m.parentUuid, parentId: world.hydra('MESSAGE', m.parentUuid) }),
      ...(m.mentionedPeople === undefined ? {} : { mentionedPeople: m.mentionedPeople }),
      ...(m.files === undefined ? {} : { files: m.files }),
      ...(m.attachments === undefined ? {} : { attachments: m.attachments }),
      ...(m.shared === undefined
        ? {}
        : {
            shared: m.shared.map((f) => ({
              name: f.name,
              contentType: f.contentType,
              data: Buffer.from(f.data, 'base64'),
              malwareQuarantineState: f.malwareQuarantineState ?? 'safe',
              ...(f.scan === undefined ? {} : { scan: f.scan }),
              ...(f.retryAfter === undefined ? {} : { retryAfter: f.retryAfter }),
            })),
          }),
      created: m.created,
    };
    world.messages.set(m.uuid, message);
  }
  for (const t of state.teams) {
    const team: EmulatedTeam = {
      uuid: t.uuid,
      name: t.name,
      ...(t.description === undefined ? {} : { description: t.description }),
      creatorUuid: t.creatorUuid,
      members: new Set(t.members),
      moderators: new Set(t.moderators),
      created: t.created,
    };
    world.teams.set(t.uuid, team);
  }
  for (const a of state.actions) {
    const action: EmulatedAction = {
      uuid: a.uuid,
      id: world.hydra('ATTACHMENT_ACTION', a.uuid),
      messageUuid: a.messageUuid,
      messageId: world.hydra('MESSAGE', a.messageUuid),
      personUuid: a.personUuid,
      personId: world.hydra('PEOPLE', a.personUuid),
      roomUuid: a.roomUuid,
      roomId: world.hydra('ROOM', a.roomUuid),
      inputs: a.inputs,
      created: a.created,
    };
    world.actions.set(a.uuid, action);
  }
  for (const w of state.webhooks) world.webhooks.set(w.uuid, { ...w });
}

/** Writes `state` to `file` atomically: a temp file beside it (mode 0600, synced), renamed over it. */
export async function writeState(file: string, state: SavedState): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(state, null, 1)}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Saves a world to a file as it changes: `changed()` schedules a save `delay` ms later (one save
 * for a burst of changes); saves never overlap; `close()` writes the last state.
 */
export class StateSaver {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private closed = false;

  constructor(
    private readonly world: World,
    /** Where the state goes. */
    readonly file: string,
    private readonly onError: (error: Error) => void,
    private readonly delay = 200,
  ) {}

  /** Something changed: save soon. */
  changed(): void {
    if (this.closed) return;
    this.dirty = true;
    if (this.timer !== undefined || this.writing !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.save();
    }, this.delay);
    this.timer.unref();
  }

  /** Saves now (after the save under way, if any); `strict`: a failure rejects instead of going to `onError`. */
  async save(options: { strict?: boolean } = {}): Promise<void> {
    while (this.writing) await this.writing;
    this.dirty = false;
    let failure: Error | undefined;
    this.writing = writeState(this.file, snapshot(this.world))
      .catch((error: unknown) => {
        failure = new Error(`could not save the emulator state to ${this.file}: ${(error as Error).message}`, { cause: error });
      })
      .finally(() => {
        this.writing = undefined;
      });
    await this.writing;
    if (failure && options.strict) throw failure;
    if (failure) this.onError(failure);
    if (this.dirty && !this.closed) this.changed();
  }

  /** Writes the last state and stops saving. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.save();
  }
}
