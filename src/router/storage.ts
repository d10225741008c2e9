/**
 * State per room and per person, for handlers: `ctx.storage.get('count')`, `ctx.storage.person(id)`,
 * `bot.storage.room(roomId)`. Values are JSON (a copy is stored: changing an object after `set`
 * changes nothing stored). Where they live is an adapter with three methods — `memoryStorage()`
 * (the default), `fileStorage(path)` (one JSON file, written atomically, mode 0600, as the
 * last-connection file), or one of your own (Redis, a database): see {@link StorageAdapter}.
 */
import { SparkBotError } from '../errors.js';
import { SecureJSONFile } from '../actors/store.js';

/**
 * Where values are kept, by key. Keys are strings made by sparkbot (`room/<roomId>/<key>`,
 * `room/<roomId>/person/<personId>/<key>`, `person/<personId>/<key>`, `bot/<key>`); values are
 * JSON text. Each method may be async; none is called concurrently for the same key by one bot.
 */
export interface StorageAdapter {
  get(key: string): Promise<string | undefined> | string | undefined;
  set(key: string, value: string): Promise<void> | void;
  delete(key: string): Promise<void> | void;
}

/** A scope of the storage: a room, a person, a person in a room, or the whole bot. */
export interface Storage {
  /** The value stored under `key`, or undefined. */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** Stores a JSON value (`undefined` deletes). */
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  /** The scope of one person within this one (in a room: that person in that room). */
  person(personId: string): Storage;
}

/** The bot's storage: its own scope, with the room and person scopes under it. */
export interface BotStorage extends Storage {
  room(roomId: string): Storage;
}

/** Values in memory: gone when the process ends. The default. */
export function memoryStorage(): StorageAdapter {
  const values = new Map<string, string>();
  return {
    get: (key) => values.get(key),
    set: (key, value) => {
      values.set(key, value);
    },
    delete: (key) => {
      values.delete(key);
    },
  };
}

/**
 * Values in one JSON file at `path`, read once, and rewritten after changes (coalesced, each
 * write atomic through a fresh temp file, mode 0600; only a regular file is read or replaced).
 * For one process: two processes sharing the file would overwrite each other's changes.
 */
export function fileStorage(path: string): StorageAdapter & { flush(): Promise<void> } {
  if (typeof path !== 'string' || path.trim() === '') throw new SparkBotError('INVALID_OPTION', 'fileStorage(path): path must be a file path');
  const file = new SecureJSONFile<Record<string, string>>(path);
  let values: Promise<Map<string, string>> | undefined;
  let writing: Promise<void> = Promise.resolve();
  let dirty = false;
  const load = () => {
    values ??= file.read().then((data) => {
      if (data !== null && (typeof data !== 'object' || Array.isArray(data))) throw new SparkBotError('STORE_ERROR', `fileStorage: ${path} does not hold a storage object`);
      return new Map(Object.entries(data ?? {}).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
    });
    return values;
  };
  const save = async () => {
    if (dirty) return writing;
    dirty = true;
    writing = writing.then(async () => {
      dirty = false;
      await file.write(Object.fromEntries(await load()));
    });
    return writing;
  };
  return {
    get: async (key) => (await load()).get(key),
    set: async (key, value) => {
      (await load()).set(key, value);
      await save();
    },
    delete: async (key) => {
      if ((await load()).delete(key)) await save();
    },
    flush: () => writing,
  };
}

/** The bot's storage over `adapter`. */
export function createStorage(adapter: StorageAdapter): BotStorage {
  const scope = (prefix: string): Storage => ({
    async get<T>(key: string): Promise<T | undefined> {
      const text = await adapter.get(prefix + checkKey(key));
      if (text === undefined) return undefined;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new SparkBotError('STORE_ERROR', `storage: the value of ${JSON.stringify(key)} is not JSON`);
      }
    },
    async set(key: string, value: unknown): Promise<void> {
      const full = prefix + checkKey(key);
      if (value === undefined) return adapter.delete(full);
      return adapter.set(full, toJson(key, value));
    },
    async delete(key: string): Promise<void> {
      return adapter.delete(prefix + checkKey(key));
    },
    person: (personId: string) => scope(`${prefix}person/${checkId(personId, 'personId')}/`),
  });
  return {
    ...scope('bot/'),
    // Outside a room, a person's scope is theirs across rooms.
    person: (personId: string) => scope(`person/${checkId(personId, 'personId')}/`),
    room: (roomId: string) => scope(`room/${checkId(roomId, 'roomId')}/`),
  };
}

function checkKey(key: string): string {
  if (typeof key !== 'string' || key === '') throw new SparkBotError('INVALID_OPTION', `storage: a key must be a non-empty string, got ${JSON.stringify(key)}`);
  return key;
}

function checkId(id: string, name: string): string {
  if (typeof id !== 'string' || id === '') throw new SparkBotError('INVALID_OPTION', `storage: ${name} must be a non-empty string`);
  return encodeURIComponent(id);
}

function toJson(key: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new SparkBotError('INVALID_OPTION', `storage.set(${JSON.stringify(key)}): the value is not JSON (${(error as Error).message})`);
  }
  if (text === undefined) throw new SparkBotError('INVALID_OPTION', `storage.set(${JSON.stringify(key)}): a ${typeof value} is not JSON`);
  return text;
}
