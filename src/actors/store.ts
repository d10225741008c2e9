/**
 * The last-connection store: a small lowdb JSON file that remembers the bot's WDM device (and the
 * WDM URL it lives on) so that a restart reuses it instead of registering a new one. It never
 * holds the token.
 *
 * The file (SecureJSONFile) is read and replaced only when it is a regular file:
 * - Written atomically: a temp file with a random name, created exclusively (O_EXCL, O_NOFOLLOW,
 *   mode 0600) next to the file, fsynced, then renamed over it. Writes are serialised per instance;
 *   writers in other instances or processes never share a temp file, so the file is always whole.
 * - Read through one handle opened O_NONBLOCK|O_NOFOLLOW (a named pipe cannot block the read),
 *   checked with fstat to be a regular file of at most 16 MiB before a bounded read.
 * - A named pipe, a device, a socket or a directory at the path is never read, renamed nor
 *   replaced: NotRegularFileError. The store then warns once and keeps to memory for the bot's life.
 * - A symbolic link at the path is followed (at most 8 links): the target is read, and replaced
 *   by a rename in the target's directory, so the link stays a link; a dangling link's target is
 *   created. A link owned by another user than the process is refused instead, as Linux's
 *   protected_symlinks would in a sticky directory: someone else's link (say in /tmp) must not
 *   choose which file the bot overwrites. Only the last component is checked; the directories
 *   on the way are the user's choice.
 * A corrupt, empty, wrongly shaped or oversized regular file is moved aside to
 * `<name>.corrupt-<time>` (next to a link's target) with a warning and replaced.
 */
import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readlink, realpath, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { Low, Memory, type Adapter } from 'lowdb';
import type { DeviceRef } from '../../machines/connection.js';
import type { Log } from '../log.js';

export interface LastConnection {
  readonly version: 1;
  readonly device: SavedDevice | null;
  /** Ids of the activities handled most recently, oldest first (so a restart never handles one twice). */
  readonly seen?: readonly string[];
  /** When each of `seen` was handled (ms since the epoch); absent in files of sparkbot 0.1 (then: now). */
  readonly seenAt?: readonly number[];
}

/** A handled activity id, and when it was handled (ms since the epoch). */
export type SeenEntry = readonly [id: string, at: number];

export interface SavedDevice extends DeviceRef {
  readonly savedAt: string;
  /**
   * The WDM devices URL the device was registered at (the wdmUrl option, or the one the service
   * catalog named): a restart checks the device there without asking the catalog again. Absent in
   * files of sparkbot 0.1 (their devices live on the default WDM).
   */
  readonly wdmUrl?: string;
}

/** The saved device, with the WDM it lives on when the file names it. */
export interface LoadedDevice extends DeviceRef {
  readonly wdmUrl?: string;
}

export interface Store {
  /** The file, or null when the store is in memory (`lastConn: false`). */
  readonly path: string | null;
  /** The saved device, and its WDM when the file names it, if any. Never throws: an unreadable file is reported and treated as empty. */
  loadDevice(): Promise<LoadedDevice | null>;
  /**
   * Saves the device, and the WDM URL it was registered at; resolves true when the file was
   * written (false: nothing changed, or the path is not a regular file and the store keeps to
   * memory). Rejects when the file cannot be written.
   */
  saveDevice(device: DeviceRef, wdmUrl?: string): Promise<boolean>;
  /** Forgets the device (after it was deleted from WDM). */
  forgetDevice(): Promise<boolean>;
  /** The ids of recently handled activities with when each was handled, oldest first. Never throws. */
  loadSeen(): Promise<SeenEntry[]>;
  /** Saves the ids of recently handled activities; resolves true once written (false: kept in memory only). Rejects when the file cannot be written. */
  saveSeen(entries: readonly SeenEntry[]): Promise<boolean>;
  /** Resolves once every write started so far has finished. */
  flush(): Promise<void>;
}

export interface StoreDeps {
  readonly log: Log;
  /** Called for problems that lose nothing but deserve attention (a corrupt file moved aside, a path that is not a regular file). */
  readonly warn: (message: string, cause?: unknown) => void;
}

const EMPTY: LastConnection = { version: 1, device: null };

/** The most a SecureJSONFile reads (and writes): a larger file is an error, not a read into memory. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;
/** The most symbolic links followed from the path to the file, like Linux's limit for one name. */
export const MAX_SYMLINK_HOPS = 8;

const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0);
const TEMP_FLAGS = constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | (constants.O_NOFOLLOW ?? 0);

/** What sits at a path instead of a regular file. */
export type NotRegularKind =
  | 'named pipe'
  | 'character device'
  | 'block device'
  | 'directory'
  | 'socket'
  | 'symbolic link'
  | 'special file'
  | 'symbolic link owned by another user'
  | 'symbolic link loop';

/**
 * The path is not a regular file (nor a link to one, nor free), so it is neither read nor replaced.
 * `target` is where the link chain from `path` ended (`path` itself without links).
 */
export class NotRegularFileError extends Error {
  override readonly name = 'NotRegularFileError';

  constructor(
    readonly path: string,
    readonly target: string,
    readonly kind: NotRegularKind,
    /** The owner of the refused link, for 'symbolic link owned by another user'. */
    readonly owner?: number,
  ) {
    super(`${target === path ? path : `${path} leads to ${target}, which`} ${whatIs(kind, owner)}`);
  }
}

function whatIs(kind: NotRegularKind, owner: number | undefined): string {
  if (kind === 'symbolic link owned by another user') return `is a symbolic link owned by another user (uid ${owner ?? '?'}), and such links are not followed`;
  if (kind === 'symbolic link loop') return `is a chain of more than ${MAX_SYMLINK_HOPS} symbolic links, or a loop`;
  return `is a ${kind}, not a regular file`;
}

function kindOf(stats: Stats): NotRegularKind {
  if (stats.isFIFO()) return 'named pipe';
  if (stats.isCharacterDevice()) return 'character device';
  if (stats.isBlockDevice()) return 'block device';
  if (stats.isDirectory()) return 'directory';
  if (stats.isSocket()) return 'socket';
  if (stats.isSymbolicLink()) return 'symbolic link';
  return 'special file';
}

function codeOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function sizeWords(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

export interface SecureJSONFileOptions {
  /** The largest file read (and written); default MAX_FILE_BYTES. */
  readonly maxBytes?: number;
}

/**
 * lowdb's JSONFile, with what a file holding credentials' companions needs: regular files only,
 * symbolic links followed unless another user owns them, a bounded read, an atomic write (random
 * exclusive temp file, mode 0600, fsync, rename), the directory created (0700), writes serialised.
 * read() and write() reject with NotRegularFileError when the path must be left alone.
 */
export class SecureJSONFile<T> implements Adapter<T> {
  private queue: Promise<void> = Promise.resolve();
  private readonly maxBytes: number;

  constructor(
    readonly filename: string,
    options: SecureJSONFileOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? MAX_FILE_BYTES;
  }

  /** The parsed file; null when there is none yet. */
  async read(): Promise<T | null> {
    const opened = await this.openForReading();
    if (opened === null) return null;
    const { handle, path } = opened;
    try {
      // The handle is what is read: the fstat describes it, whatever replaced the name since.
      const stats = await handle.stat();
      if (!stats.isFile()) throw new NotRegularFileError(this.filename, path, kindOf(stats));
      if (stats.size > this.maxBytes) throw this.tooLarge(stats.size);
      return JSON.parse(await this.readBounded(handle, stats.size)) as T;
    } finally {
      await handle.close();
    }
  }

  write(data: T): Promise<void> {
    const next = this.queue.then(() => this.writeNow(data));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Renames the file (a link's target, so the link stays) to its name plus `suffix`, in its own
   * directory, and returns the new path. Rejects with NotRegularFileError rather than move anything
   * but a regular file.
   */
  async moveAside(suffix: string): Promise<string> {
    const { path } = await this.resolveTarget();
    const aside = `${path}${suffix}`;
    await rename(path, aside);
    return aside;
  }

  /**
   * Follows the links from `filename` to the path that is read and replaced. `exists` false: no
   * file there yet (ENOENT, or ENOTDIR: a part of the path is a file, which the first write reports).
   */
  private async resolveTarget(): Promise<{ path: string; exists: boolean }> {
    const uid = process.geteuid?.();
    let path = this.filename;
    for (let hops = 0; ; hops += 1) {
      let stats: Stats;
      try {
        stats = await lstat(path);
      } catch (error) {
        const code = codeOf(error);
        if (code === 'ENOENT' || code === 'ENOTDIR') return { path, exists: false };
        throw error;
      }
      if (stats.isFile()) return { path, exists: true };
      if (!stats.isSymbolicLink()) throw new NotRegularFileError(this.filename, path, kindOf(stats));
      if (hops === MAX_SYMLINK_HOPS) throw new NotRegularFileError(this.filename, this.filename, 'symbolic link loop');
      if (uid !== undefined && stats.uid !== uid) throw new NotRegularFileError(this.filename, path, 'symbolic link owned by another user', stats.uid);
      const link = await readlink(path);
      // Relative to the link's real directory, as the kernel resolves it (not lexically through '..').
      path = isAbsolute(link) ? link : resolve(await realpath(dirname(path)), link);
    }
  }

  private async openForReading(): Promise<{ handle: FileHandle; path: string } | null> {
    for (let attempt = 1; ; attempt += 1) {
      const target = await this.resolveTarget();
      if (!target.exists) return null;
      try {
        return { handle: await open(target.path, READ_FLAGS), path: target.path };
      } catch (error) {
        const code = codeOf(error);
        if (code === 'ENOENT' || code === 'ENOTDIR') return null;
        // ELOOP: a link replaced the file since it was resolved (O_NOFOLLOW); resolve again.
        if (code === 'ELOOP' && attempt < 3) continue;
        throw error;
      }
    }
  }

  /** At most maxBytes from the handle, even if the file grew since its fstat. */
  private async readBounded(handle: FileHandle, expected: number): Promise<string> {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const room = this.maxBytes + 1 - total; // one byte more than allowed shows a file that is too large
      const chunk = Buffer.allocUnsafe(Math.min(room, Math.max(expected + 1 - total, 64 * 1024)));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > this.maxBytes) throw this.tooLarge(total);
    }
    return Buffer.concat(chunks, total).toString('utf8');
  }

  private tooLarge(bytes: number): Error {
    return new Error(`the file is larger than ${sizeWords(this.maxBytes)}: ${bytes} bytes`);
  }

  private async writeNow(data: T): Promise<void> {
    try {
      await this.writeFile(data);
    } catch (error) {
      if (error instanceof NotRegularFileError) throw error;
      throw new Error(`cannot write ${this.filename}: ${describeFsError(error)}`, { cause: error });
    }
  }

  private async writeFile(data: T): Promise<void> {
    const text = Buffer.from(`${JSON.stringify(data, null, 2)}\n`, 'utf8');
    if (text.length > this.maxBytes) throw new Error(`the data is ${text.length} bytes, more than the ${sizeWords(this.maxBytes)} a read accepts`);
    const { path } = await this.resolveTarget();
    const dir = dirname(path);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { handle, temp } = await createTemp(dir, basename(path));
    try {
      try {
        await handle.chmod(0o600); // whatever the umask
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await assertReplaceable(this.filename, path);
      await rename(temp, path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    await syncDirectory(dir);
  }
}

/** A new temp file next to `base` in `dir`: a random name, created exclusively, never through a link. */
async function createTemp(dir: string, base: string): Promise<{ handle: FileHandle; temp: string }> {
  for (let attempt = 1; ; attempt += 1) {
    const temp = join(dir, `.${base.slice(0, 100)}.${randomBytes(12).toString('hex')}.tmp`);
    try {
      return { handle: await open(temp, TEMP_FLAGS, 0o600), temp };
    } catch (error) {
      if (codeOf(error) === 'EEXIST' && attempt < 10) continue;
      throw error;
    }
  }
}

/** The rename would replace `path`: it must still be a regular file, or nothing. */
async function assertReplaceable(filename: string, path: string): Promise<void> {
  let stats: Stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    const code = codeOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    throw error;
  }
  if (stats.isSymbolicLink()) throw new Error(`${path} became a symbolic link while it was written; nothing was replaced`);
  if (!stats.isFile()) throw new NotRegularFileError(filename, path, kindOf(stats));
}

/** Makes the rename durable; best effort (not every platform or file system syncs a directory). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY).catch(() => undefined);
  if (handle === undefined) return;
  await handle.sync().catch(() => undefined);
  await handle.close().catch(() => undefined);
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
  return typeof v === 'object' && v !== null && typeof v.url === 'string' && typeof v.webSocketUrl === 'string' && (v.wdmUrl === undefined || typeof v.wdmUrl === 'string');
}

function isLastConnection(value: unknown): value is LastConnection {
  const v = value as Record<string, unknown> | null;
  const seenOk = v?.seen === undefined || (Array.isArray(v.seen) && v.seen.every((id) => typeof id === 'string'));
  const seenAtOk =
    v?.seenAt === undefined || (Array.isArray(v.seenAt) && Array.isArray(v.seen) && v.seenAt.length === v.seen.length && v.seenAt.every((at) => typeof at === 'number' && Number.isFinite(at)));
  return typeof v === 'object' && v !== null && !Array.isArray(v) && v.version === 1 && (v.device === null || isDeviceRef(v.device)) && seenOk && seenAtOk;
}

export function createStore(path: string | false, deps: StoreDeps): Store {
  const file = path === false ? null : new SecureJSONFile<LastConnection>(path);
  const adapter: Adapter<LastConnection> = file ?? new Memory<LastConnection>();
  const db = new Low<LastConnection>(adapter, EMPTY);
  let loading: Promise<void> | undefined;
  let pending: Promise<void> = Promise.resolve();
  /** The path is not a regular file: the store keeps to memory from then on and writes nothing. */
  let refused = false;

  function refuse(error: NotRegularFileError): void {
    if (refused) return;
    refused = true;
    deps.warn(
      `the last-connection file ${error.message}; it was left alone and nothing is written to it: the bot keeps its device and the handled activity ids in memory, and a restart registers a new device — point lastConn at a regular file, or set it to false`,
      error,
    );
  }

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
      if (file === null) return;
      if (error instanceof NotRegularFileError) {
        refuse(error);
        return;
      }
      const why = error instanceof Error ? error.message : String(error);
      try {
        const aside = await file.moveAside(`.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`);
        deps.warn(`the last-connection file ${file.filename} could not be used (${why}); it was moved to ${aside} and will be replaced`, error);
      } catch (renameError) {
        if (renameError instanceof NotRegularFileError) refuse(renameError);
        else deps.warn(`the last-connection file ${file.filename} could not be used (${why}) nor moved aside; it will be overwritten`, renameError);
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
      if (refused) return false;
      try {
        await db.write();
      } catch (error) {
        if (!(error instanceof NotRegularFileError)) throw error;
        refuse(error);
        return false;
      }
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
      deps.log('last connection %s: %s', path === false ? '(memory)' : path, device ? `${device.url}${device.wdmUrl === undefined ? '' : ` (WDM ${device.wdmUrl})`}` : 'no device');
      if (!device) return null;
      return device.wdmUrl === undefined ? { url: device.url, webSocketUrl: device.webSocketUrl } : { url: device.url, webSocketUrl: device.webSocketUrl, wdmUrl: device.wdmUrl };
    },
    saveDevice(device, wdmUrl) {
      return update((data) => {
        if (data.device?.url === device.url && data.device.webSocketUrl === device.webSocketUrl && data.device.wdmUrl === wdmUrl) return undefined;
        deps.log('saving device %s to %s', device.url, path === false ? '(memory)' : path);
        return { ...data, device: { url: device.url, webSocketUrl: device.webSocketUrl, ...(wdmUrl === undefined ? {} : { wdmUrl }), savedAt: new Date().toISOString() } };
      });
    },
    forgetDevice() {
      return update((data) => (data.device === null ? undefined : { ...data, device: null }));
    },
    async loadSeen() {
      await load();
      const { seen = [], seenAt } = db.data;
      const now = Date.now();
      return seen.map((id, i): SeenEntry => [id, seenAt?.[i] ?? now]);
    },
    saveSeen(entries) {
      return update((data) => ({ ...data, seen: entries.map(([id]) => id), seenAt: entries.map(([, at]) => at) }));
    },
    flush() {
      return pending;
    },
  };
}
