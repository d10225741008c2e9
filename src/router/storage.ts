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
 * `room/<roomId>/person/<personId>/<key>`, `person/<personId>/<key>`, `bot/<key>`, each part
 * URI-encoded); values are JSON text. Each method may be async, and may be called concurrently,
 * also for one key (two handlers at once): `update` on top of them is serialised per key by the
 * bot, within one process.
 */
export interface StorageAdapter {
  get(key: string): Promise<string | undefined> | string | undefined;
  set(key: string, value: string): Promise<void> | void;
  delete(key: string): Promise<void> | void;
  /**
   * Optional: reads, changes and writes one key as one step for every process that shares the
   * store (`redisStorage()` has it: replicas of a bot). `change` may be called more than once (a
   * race lost is tried again); undefined deletes. Without it, `update` is one step within a process.
   */
  update?(key: string, change: (current: string | undefined) => string | undefined | Promise<string | undefined>): Promise<string | undefined>;
}

/** A scope of the storage: a room, a person, a person in a room, or the whole bot. */
export interface Storage {
  /** The value stored under `key`, or undefined. */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** Stores a JSON value (`undefined` deletes). */
  set(key: string, value: unknown): Promise<void>;
  /**
   * Reads, changes and writes a value as one step: `change` gets the current value (or undefined)
   * and returns the new one (`undefined` deletes); resolves with it. Updates of one key by this bot
   * run one after the other, so two handlers at once never lose one another's change (as a
   * `get` then `set` could).
   */
  update<T = unknown>(key: string, change: (current: T | undefined) => T | undefined | Promise<T | undefined>): Promise<T | undefined>;
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
    values ??= file.read().then(
      (data) => {
        if (data !== null && (typeof data !== 'object' || Array.isArray(data))) throw new SparkBotError('STORE_ERROR', `fileStorage: ${path} does not hold a storage object`);
        return new Map(Object.entries(data ?? {}).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
      },
      (error: unknown) => {
        values = undefined; // tried again next time: the file may be fixed
        if (error instanceof SparkBotError) throw error;
        throw new SparkBotError('STORE_ERROR', `fileStorage: ${path} could not be read: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      },
    );
    return values;
  };
  const save = async () => {
    if (dirty) return writing;
    dirty = true;
    // A failed write fails its callers, not the writes after it (which write everything anyway).
    writing = writing
      .catch(() => undefined)
      .then(async () => {
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
  /** The update under way of each key, that the next one waits for. */
  const updating = new Map<string, Promise<unknown>>();
  const read = async <T>(full: string, key: string): Promise<T | undefined> => parse<T>(await adapter.get(full), key);
  const write = async (full: string, key: string, value: unknown): Promise<void> => {
    if (value === undefined) return adapter.delete(full);
    return adapter.set(full, toJson(key, value));
  };
  const scope = (prefix: string): Storage => ({
    get: <T>(key: string) => read<T>(prefix + checkKey(key), key),
    set: async (key: string, value: unknown) => write(prefix + checkKey(key), key, value),
    delete: async (key: string) => adapter.delete(prefix + checkKey(key)),
    update: async <T>(key: string, change: (current: T | undefined) => T | undefined | Promise<T | undefined>) => {
      const full = prefix + checkKey(key);
      const previous = updating.get(full) ?? Promise.resolve();
      const next = previous.catch(() => undefined).then(async () => {
        if (adapter.update !== undefined) {
          let value: T | undefined;
          await adapter.update(full, async (text) => {
            value = await change(parse<T>(text, key));
            return value === undefined ? undefined : toJson(key, value);
          });
          return value;
        }
        const value = await change(await read<T>(full, key));
        await write(full, key, value);
        return value;
      });
      updating.set(full, next);
      void next.finally(() => {
        if (updating.get(full) === next) updating.delete(full);
      }).catch(() => undefined);
      return next;
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

function parse<T>(text: string | undefined, key: string): T | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new SparkBotError('STORE_ERROR', `storage: the value of ${JSON.stringify(key)} is not JSON`);
  }
}

/** The key, encoded: a key with slashes cannot reach into another scope. */
function checkKey(key: string): string {
  if (typeof key !== 'string' || key === '') throw new SparkBotError('INVALID_OPTION', `storage: a key must be a non-empty string, got ${JSON.stringify(key)}`);
  return encodeURIComponent(key);
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
