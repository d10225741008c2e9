/**
 * The last-connection store: a small lowdb JSON file that remembers the bot's WDM device so that
 * a restart reuses it instead of registering a new one. Written atomically (temporary file, fsync,
 * rename) with mode 0600, its directory created on demand. A corrupt, empty or wrongly shaped file
 * is moved aside to `<name>.corrupt-<time>` with a warning and replaced. It never holds the token.
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Low, Memory, type Adapter } from 'lowdb';
import type { DeviceRef } from '../../machines/connection.js';
import type { Log } from '../log.js';

export interface LastConnection {
  readonly version: 1;
  readonly device: SavedDevice | null;
  /** Ids of the activities handled most recently, oldest first (so a restart never handles one twice). */
  readonly seen?: readonly string[];
}

export interface SavedDevice extends DeviceRef {
  readonly savedAt: string;
}

export interface Store {
  /** The file, or null when the store is in memory (`lastConn: false`). */
  readonly path: string | null;
  /** The saved device, if any. Never throws: an unreadable file is reported and treated as empty. */
  loadDevice(): Promise<DeviceRef | null>;
  /** Saves the device; resolves true when the file was written (false: nothing changed). Rejects when the file cannot be written. */
  saveDevice(device: DeviceRef): Promise<boolean>;
  /** Forgets the device (after it was deleted from WDM). */
  forgetDevice(): Promise<boolean>;
  /** The ids of recently handled activities. Never throws. */
  loadSeen(): Promise<string[]>;
  /** Saves the ids of recently handled activities; resolves true once written. Rejects when the file cannot be written. */
  saveSeen(ids: readonly string[]): Promise<boolean>;
  /** Resolves once every write started so far has finished. */
  flush(): Promise<void>;
}

export interface StoreDeps {
  readonly log: Log;
  /** Called for problems that lose nothing but deserve attention (a corrupt file moved aside). */
  readonly warn: (message: string, cause?: unknown) => void;
}

const EMPTY: LastConnection = { version: 1, device: null };

/**
 * lowdb's JSONFile, with what a file holding credentials' companions needs: mode 0600, fsync
 * before the rename, the directory created, writes serialised.
 */
export class SecureJSONFile<T> implements Adapter<T> {
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly filename: string) {}

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.filename, 'utf8');
    } catch (error) {
      // ENOTDIR: a part of the path is a file, so no record can be there; the first write says why.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw error;
    }
    return JSON.parse(text) as T;
  }

  write(data: T): Promise<void> {
    const next = this.queue.then(() => this.writeNow(data));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async writeNow(data: T): Promise<void> {
    try {
      await this.writeFile(data);
    } catch (error) {
      throw new Error(`cannot write ${this.filename}: ${describeFsError(error)}`, { cause: error });
    }
  }

  private async writeFile(data: T): Promise<void> {
    const dir = dirname(this.filename);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const temp = join(dir, `.${basename(this.filename)}.${process.pid}.tmp`);
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(data, null, 2)}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temp, this.filename);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }
}

/** What a failed write means, in words: "a part of the path is a file, not a directory (ENOTDIR)"… */
function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const what: Record<string, string> = {
    ENOTDIR: 'a part of the path is a file, not a directory',
    EEXIST: 'a part of the path is a file, not a directory',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'the file system is read-only',
    ENOSPC: 'no space left on the device',
    EDQUOT: 'the disk quota is exceeded',
    EISDIR: 'the path is a directory',
  };
  const words = code === undefined ? undefined : what[code];
  return words ? `${words} (${code})` : error instanceof Error ? error.message : String(error);
}

function isDeviceRef(value: unknown): value is DeviceRef {
  const v = value as Record<string, unknown> | null;
  return typeof v === 'object' && v !== null && typeof v.url === 'string' && typeof v.webSocketUrl === 'string';
}

function isLastConnection(value: unknown): value is LastConnection {
  const v = value as Record<string, unknown> | null;
  const seenOk = v?.seen === undefined || (Array.isArray(v.seen) && v.seen.every((id) => typeof id === 'string'));
  return typeof v === 'object' && v !== null && !Array.isArray(v) && v.version === 1 && (v.device === null || isDeviceRef(v.device)) && seenOk;
}

export function createStore(path: string | false, deps: StoreDeps): Store {
  const adapter: Adapter<LastConnection> = path === false ? new Memory<LastConnection>() : new SecureJSONFile<LastConnection>(path);
  const db = new Low<LastConnection>(adapter, EMPTY);
  let loading: Promise<void> | undefined;
  let pending: Promise<void> = Promise.resolve();

  function load(): Promise<void> {
    loading ??= read();
    return loading;
  }

  async function read(): Promise<void> {
    try {
      await db.read();
      if (!isLastConnection(db.data)) throw new Error('the file does not hold a sparkbot last-connection record');
    } catch (error) {
      db.data = EMPTY;
      if (path === false) return;
      const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      const why = error instanceof Error ? error.message : String(error);
      try {
        await rename(path, aside);
        deps.warn(`the last-connection file ${path} could not be used (${why}); it was moved to ${aside} and will be replaced`, error);
      } catch (renameError) {
        deps.warn(`the last-connection file ${path} could not be used (${why}) nor moved aside; it will be overwritten`, renameError);
      }
    }
  }

  /** Applies `change` (undefined: nothing to write) after every write started before; writes are serialised. True when written. */
  function update(change: (data: LastConnection) => LastConnection | undefined): Promise<boolean> {
    const write = async () => {
      await load();
      const next = change(db.data);
      if (next === undefined) return false;
      db.data = next;
      await db.write();
      return true;
    };
    const done = pending.then(write);
    pending = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  return {
    path: path === false ? null : path,
    async loadDevice() {
      await load();
      const device = db.data.device;
      deps.log('last connection %s: %s', path === false ? '(memory)' : path, device ? device.url : 'no device');
      return device ? { url: device.url, webSocketUrl: device.webSocketUrl } : null;
    },
    saveDevice(device) {
      return update((data) => {
        if (data.device?.url === device.url && data.device.webSocketUrl === device.webSocketUrl) return undefined;
        deps.log('saving device %s to %s', device.url, path === false ? '(memory)' : path);
        return { ...data, device: { url: device.url, webSocketUrl: device.webSocketUrl, savedAt: new Date().toISOString() } };
      });
    },
    forgetDevice() {
      return update((data) => (data.device === null ? undefined : { ...data, device: null }));
    },
    async loadSeen() {
      await load();
      return [...(db.data.seen ?? [])];
    },
    saveSeen(ids) {
      return update((data) => ({ ...data, seen: [...ids] }));
    },
    flush() {
      return pending;
    },
  };
}
