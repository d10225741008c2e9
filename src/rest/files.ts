/**
 * Files (webex-protocol.md §11): uploads with `messages.create({ files: [file] })` and downloads
 * of the URLs in `message.files` (`bot.api.contents`).
 *
 * Upload. A file that is a public URL (`http:`/`https:`) goes in the JSON body, as Webex fetches it
 * itself. Any other file (a local path, bytes, a stream) goes up as `multipart/form-data` with one
 * `files` part, built with Node's own FormData and Blob (a path is a file-backed Blob: it is read
 * from disk as it is sent). Webex takes one file a message and at most 100 MiB; cards cannot go in
 * a multipart message. Everything that can be checked is checked before the call is queued, and
 * the call is queued at once (writes keep their order); the body is made when its turn comes.
 *
 * Download. `GET` of the content URL with the token (apiUrl's origin only), through the outbox.
 * Webex's malware scan answers 423 Locked (with Retry-After) while it runs: the download waits on
 * the bot's clock and asks again, for `scanWait` at most; 410 Gone is a file found infected, 428
 * one that could not be scanned (`allowUnscannable` asks for it anyway with `?allow=unscannable`).
 */
import { openAsBlob, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import type { Clock } from '../clock.js';
import { SparkBotError } from '../errors.js';
import type { FormMaker, Http, HttpRequest, HttpResult } from '../http.js';
import { parseRetryAfter } from '../protocol/retry-after.js';
import type { Outbox } from './outbox.js';
import type { CreateMessage, DownloadedFile, DownloadOptions, FileInput, FileStream, StreamOptions } from './types.js';

/** Webex's limit for a file: 100 MiB. A larger one is refused before anything is sent. */
export const MAX_UPLOAD_SIZE = 100 * 1024 * 1024;
/** Default of `scanWait`: how long a download waits for Webex's malware scan at most, in ms. */
export const DEFAULT_SCAN_WAIT = 60_000;
/** ms to wait after a 423 without a usable Retry-After. */
export const DEFAULT_SCAN_RETRY = 5_000;
/** ms to wait after a 423 at least, whatever its Retry-After says. */
export const MIN_SCAN_RETRY = 1_000;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  bmp: 'image/bmp',
  pdf: 'application/pdf',
  txt: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  html: 'text/html',
  htm: 'text/html',
  json: 'application/json',
  xml: 'application/xml',
  zip: 'application/zip',
  gz: 'application/gzip',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
};

/** The content type of a file name by its extension; application/octet-stream when unknown. */
export function guessContentType(filename: string): string {
  const dot = filename.lastIndexOf('.');
  const extension = dot < 0 ? '' : filename.slice(dot + 1).toLowerCase();
  return CONTENT_TYPES[extension] ?? 'application/octet-stream';
}

/** The fields of a message that go as form fields of a multipart upload. */
const FORM_FIELDS = ['roomId', 'toPersonId', 'toPersonEmail', 'parentId', 'text', 'markdown'] as const;

const invalid = (message: string) => new SparkBotError('INVALID_CONTENT', message);

/**
 * How `message` is sent: undefined for JSON (no file, or a file that is a URL), else what makes
 * its multipart body. Throws INVALID_CONTENT for what Webex would refuse or sparkbot cannot send.
 * Synchronous, so that the call is queued in the order it was made.
 */
export function planUpload(message: CreateMessage): FormMaker | undefined {
  if (typeof message !== 'object' || message === null) throw invalid(`messages.create() takes a message object, got ${message === null ? 'null' : typeof message}`);
  const { files } = message;
  if (files === undefined) return undefined;
  if (!Array.isArray(files)) throw invalid(`files must be an array of one file (a URL, a local path, bytes, a stream or { data, filename }), got ${typeof files}`);
  if (files.length === 0) return undefined;
  if (files.length > 1) throw invalid(`Webex takes one file a message; send the others in messages of their own (got ${files.length} files)`);
  const file = files[0] as FileInput;
  if (typeof file === 'string' && /^https?:\/\//i.test(file)) return undefined;
  if (Array.isArray(message.attachments) && message.attachments.length > 0) {
    throw invalid(
      'a card (attachments) and a local file cannot go in one message: Webex takes cards only in a JSON body and local files only as multipart/form-data; send the file in a message of its own, or give it as a public URL',
    );
  }
  const part = filePart(file);
  const fields: Array<[string, string]> = [];
  for (const name of FORM_FIELDS) {
    const value = message[name];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw invalid(`${name} must be a string, got ${typeof value}`);
    fields.push([name, value]);
  }
  let made: Promise<FormData> | undefined;
  // Made once: a call answered 429 is sent again with the same body (a stream is read only once).
  return (signal) =>
    (made ??= (async () => {
      const form = new FormData();
      for (const [name, value] of fields) form.append(name, value);
      form.append('files', await part.blob(signal), part.filename);
      return form;
    })());
}

interface FilePart {
  readonly filename: string;
  blob(signal: AbortSignal): Promise<Blob>;
}

/** What to send for one file that is not a URL; checks what it can now (a path's file, a size). */
function filePart(file: FileInput): FilePart {
  if (typeof file === 'string') return pathPart(file);
  if (file instanceof Uint8Array) return bytesPart(file, 'file', 'application/octet-stream');
  if (file instanceof Readable) return streamPart(file, 'file', 'application/octet-stream');
  if (typeof file === 'object' && file !== null && 'data' in file) {
    const { data, filename, contentType } = file;
    if (typeof filename !== 'string' || cleanFilename(filename) === undefined) throw invalid(`{ data, filename } needs a file name, got ${JSON.stringify(filename)}`);
    if (contentType !== undefined && (typeof contentType !== 'string' || contentType.trim() === '')) throw invalid(`contentType must be a non-empty string, got ${JSON.stringify(contentType)}`);
    const name = cleanFilename(filename) as string;
    const type = contentType ?? guessContentType(name);
    if (data instanceof Uint8Array) return bytesPart(data, name, type);
    if (data instanceof Readable) return streamPart(data, name, type);
    throw invalid(`{ data } must be a Uint8Array (a Buffer) or a Readable, got ${data === null ? 'null' : typeof data}`);
  }
  throw invalid(`a file is a URL, a local path, a Uint8Array (a Buffer), a Readable or { data, filename, contentType? }, got ${file === null ? 'null' : typeof file}`);
}

function pathPart(path: string): FilePart {
  if (path.trim() === '') throw invalid('a file path is empty');
  const failed = (error: unknown) => {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    const why = code === 'ENOENT' ? 'there is no such file' : code === 'EACCES' || code === 'EPERM' ? 'it cannot be read (permission denied)' : `it cannot be read (${code ?? (error as Error)?.message ?? String(error)})`;
    return invalid(`the file ${JSON.stringify(path)} cannot be sent: ${why}; nothing was sent`);
  };
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw invalid(`the file ${JSON.stringify(path)} cannot be sent: it is ${stat.isDirectory() ? 'a directory' : 'not a regular file'}; nothing was sent`);
    size = stat.size;
  } catch (error) {
    if (error instanceof SparkBotError) throw error;
    throw failed(error);
  }
  if (size > MAX_UPLOAD_SIZE) throw tooLarge(`the file ${JSON.stringify(path)} (${size} bytes)`);
  const filename = cleanFilename(basename(path)) ?? 'file';
  return {
    filename,
    // A file-backed Blob: read from disk as the request is sent, not held in memory.
    blob: async () => {
      try {
        return await openAsBlob(path, { type: guessContentType(filename) });
      } catch (error) {
        throw failed(error);
      }
    },
  };
}

function bytesPart(data: Uint8Array, filename: string, type: string): FilePart {
  if (data.byteLength > MAX_UPLOAD_SIZE) throw tooLarge(`a file of ${data.byteLength} bytes`);
  // Copied now: what the caller does with its buffer afterwards changes nothing.
  const blob = new Blob([data], { type });
  return { filename, blob: async () => blob };
}

function streamPart(stream: Readable, filename: string, type: string): FilePart {
  return {
    filename,
    // Read into memory, at most MAX_UPLOAD_SIZE bytes, when the call's turn comes (within its timeout).
    blob: async (signal) => new Blob([await readAll(stream, MAX_UPLOAD_SIZE, signal)], { type }),
  };
}

function tooLarge(what: string): SparkBotError {
  return invalid(`${what} is larger than ${MAX_UPLOAD_SIZE} bytes (100 MiB), Webex's limit for a file; nothing was sent`);
}

/** A stream read to its end, at most `max` bytes (a larger one is destroyed and refused). */
async function readAll(stream: Readable, max: number, signal: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const onAbort = () => stream.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of stream) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk instanceof Uint8Array ? chunk : undefined;
      if (bytes === undefined) throw invalid('the Readable to upload gave something that is not bytes; give a stream of bytes');
      size += bytes.byteLength;
      if (size > max) {
        stream.destroy();
        throw tooLarge(`the stream to upload (more than ${max} bytes read)`);
      }
      chunks.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    }
  } catch (error) {
    if (error instanceof SparkBotError || signal.aborted) throw error;
    throw invalid(`the stream to upload failed: ${(error as Error)?.message ?? String(error)}; nothing was sent`);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------- download

export interface ContentsDeps {
  readonly http: Http;
  readonly outbox: Outbox;
  /** `apiUrl` without a trailing slash: downloads go to its origin only. */
  readonly base: string;
  /** The bot's clock: the waits between two checks of a file being scanned. */
  readonly clock: Clock;
}

/** The file of a 2xx download answer, as the caller gets it. */
function described(url: string, result: HttpResult): { filename: string; contentType: string } {
  return {
    filename: filenameOf(result.headers.get('content-disposition'), url),
    contentType: result.headers.get('content-type') ?? 'application/octet-stream',
  };
}

export async function download(deps: ContentsDeps, url: string, options: DownloadOptions = {}): Promise<DownloadedFile> {
  const maxSize = sizeOption('maxSize', options.maxSize) ?? deps.http.maxResponseSize;
  const result = await fetchContent(deps, url, options, {
    responseType: 'bytes',
    maxSize,
    maxSizeHint: 'pass a larger maxSize to download(), or read the file with stream()',
  });
  const data = result.result.data ?? Buffer.alloc(0);
  return { data, size: data.byteLength, ...described(result.url, result.result) };
}

export async function stream(deps: ContentsDeps, url: string, options: StreamOptions = {}): Promise<FileStream> {
  const maxSize = sizeOption('maxSize', options.maxSize);
  const idleTimeout = durationOption('idleTimeout', options.idleTimeout, 1);
  const result = await fetchContent(deps, url, options, {
    responseType: 'stream',
    ...(maxSize === undefined ? {} : { maxSize, maxSizeHint: 'pass a larger maxSize to stream()' }),
    ...(idleTimeout === undefined ? {} : { idleTimeout }),
  });
  const length = result.result.headers.get('content-length');
  const size = length !== null && /^\s*\d+\s*$/.test(length) ? Number(length) : undefined;
  return { stream: result.result.stream ?? Readable.from([]), size, ...described(result.url, result.result) };
}

/** The 2xx answer for a content URL, after the scan waits; rejects with FILE_* errors or an ApiError. */
async function fetchContent(
  deps: ContentsDeps,
  given: string,
  options: DownloadOptions,
  read: Pick<HttpRequest, 'responseType' | 'maxSize' | 'maxSizeHint' | 'idleTimeout'>,
): Promise<{ url: string; result: HttpResult }> {
  if (typeof options !== 'object' || options === null) throw new SparkBotError('INVALID_OPTION', `the options of a download must be an object, got ${options === null ? 'null' : typeof options}`);
  const scanWait = durationOption('scanWait', options.scanWait, 0) ?? DEFAULT_SCAN_WAIT;
  const timeout = durationOption('timeout', options.timeout, 1);
  const url = contentUrl(deps, given, options.allowUnscannable === true);
  const { signal } = options;
  let waited = 0;
  for (;;) {
    signal?.throwIfAborted();
    const req: HttpRequest = {
      method: 'GET',
      url,
      ...read,
      ...(timeout === undefined ? {} : { timeout }),
      ...(signal === undefined ? {} : { signal }),
    };
    const result = await deps.outbox.send(req, { retries: 0 });
    if (result.status >= 200 && result.status < 300) return { url, result };
    const cause = deps.http.errorFor(req, result, 'Webex API call failed');
    switch (result.status) {
      case 423: {
        if (waited >= scanWait) {
          throw new SparkBotError('FILE_SCANNING', `the file at ${url} is still being scanned for malware after ${waited} ms (scanWait); try again later`, { cause });
        }
        // At least MIN_SCAN_RETRY: a server answering "Retry-After: 0" for ever is not asked in a loop.
        const retryAfter = Math.max(parseRetryAfter(result.headers.get('retry-after')) ?? DEFAULT_SCAN_RETRY, MIN_SCAN_RETRY);
        const wait = Math.min(retryAfter, scanWait - waited);
        await sleep(deps.clock, wait, signal);
        waited += wait;
        continue;
      }
      case 410:
        throw new SparkBotError('FILE_INFECTED', `the file at ${url} cannot be downloaded: Webex found malware in it (HTTP 410)`, { cause });
      case 428:
        throw new SparkBotError(
          'FILE_UNSCANNABLE',
          `the file at ${url} could not be scanned for malware, so Webex does not give it (HTTP 428); pass { allowUnscannable: true } to download it anyway, if you trust its sender`,
          { cause },
        );
      default:
        throw cause;
    }
  }
}

/** The URL to GET: `given` on apiUrl's origin (the token goes nowhere else), with `allow=unscannable` when asked. */
function contentUrl(deps: ContentsDeps, given: string, allowUnscannable: boolean): string {
  if (typeof given !== 'string' || given.trim() === '') throw new SparkBotError('INVALID_OPTION', `a download needs the URL of a file (one of message.files), got ${given === '' ? 'an empty string' : typeof given}`);
  const absolute = /^[a-z][a-z0-9+.-]*:/i.test(given) ? given : `${deps.base}/${given.replace(/^\/+/, '')}`;
  let url: URL;
  try {
    url = new URL(absolute);
  } catch {
    throw deps.http.notSent({ method: 'GET', url: given }, 'it is not a valid URL');
  }
  const origin = new URL(deps.base).origin;
  if (url.origin !== origin) {
    throw deps.http.notSent({ method: 'GET', url: given }, `files are downloaded only from the origin of apiUrl (${origin}), and ${url.origin === 'null' ? 'this URL' : url.origin} is not it; the token goes nowhere else`);
  }
  if (allowUnscannable) url.searchParams.set('allow', 'unscannable');
  return url.toString();
}

/** Waits `ms` on `clock`; rejects with the signal's reason when it aborts. */
function sleep(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function sizeOption(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new SparkBotError('INVALID_OPTION', `${name} must be a whole number of bytes, at least 1, got ${String(value)}`);
  return value;
}

/** A duration option of a call: ms, at least `min`; undefined when not given. */
export function durationOption(name: string, value: number | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) throw new SparkBotError('INVALID_OPTION', `${name} must be a number of milliseconds, at least ${min}, got ${String(value)}`);
  return value;
}

/**
 * The file name of a download: `filename*=UTF-8''…` of Content-Disposition, else its `filename=`,
 * else the last segment of the URL's path; only its last path component (no directory, no `..`),
 * without control characters. 'file' when nothing usable is left.
 */
export function filenameOf(disposition: string | null, url: string): string {
  const fromHeader = disposition === null ? undefined : dispositionFilename(disposition);
  const name = (fromHeader === undefined ? undefined : cleanFilename(fromHeader)) ?? cleanFilename(lastSegment(url) ?? '');
  return name ?? 'file';
}

function dispositionFilename(header: string): string | undefined {
  const extended = /(?:^|;)\s*filename\*\s*=\s*([^']*)'[^']*'([^;]*)/i.exec(header);
  if (extended) {
    const charset = (extended[1] ?? '').trim().toLowerCase();
    const value = (extended[2] ?? '').trim();
    try {
      if (charset === 'utf-8' || charset === '') return decodeURIComponent(value);
      if (charset === 'iso-8859-1') return value.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    } catch {
      // a malformed escape: try the plain filename
    }
  }
  const quoted = /(?:^|;)\s*filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header);
  if (quoted) return (quoted[1] ?? '').replace(/\\(.)/g, '$1');
  const bare = /(?:^|;)\s*filename\s*=\s*([^;\s]+)/i.exec(header);
  return bare?.[1];
}

function lastSegment(url: string): string | undefined {
  try {
    const segment = new URL(url).pathname.split('/').filter(Boolean).pop();
    return segment === undefined ? undefined : decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** A file name without directories or control characters; undefined when nothing usable is left. */
export function cleanFilename(name: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  const last = name.replace(/[\u0000-\u001f\u007f]/g, '').split(/[/\\]/).pop()?.trim() ?? '';
  if (last === '' || last === '.' || last === '..') return undefined;
  return last;
}
