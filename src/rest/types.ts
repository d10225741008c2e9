/** Shapes of the Webex REST API objects sparkbot uses (developer.webex.com). Ids are Hydra ids. */

export interface Person {
  readonly id: string;
  readonly emails: readonly string[];
  readonly displayName: string;
  readonly nickName?: string;
  readonly firstName?: string;
  readonly lastName?: string;
  readonly avatar?: string;
  readonly orgId?: string;
  readonly created?: string;
  readonly type?: 'person' | 'bot' | 'appuser';
  readonly [key: string]: unknown;
}

export interface Message {
  readonly id: string;
  readonly roomId: string;
  readonly roomType: 'direct' | 'group';
  readonly text?: string;
  readonly markdown?: string;
  readonly html?: string;
  readonly files?: readonly string[];
  readonly attachments?: readonly unknown[];
  readonly personId: string;
  readonly personEmail: string;
  readonly mentionedPeople?: readonly string[];
  readonly mentionedGroups?: readonly string[];
  readonly parentId?: string;
  readonly created: string;
  readonly updated?: string;
  readonly [key: string]: unknown;
}

/**
 * A file to post. A string is a URL Webex fetches (`http:` or `https:`) or else a local path; bytes
 * or a stream need a name, given with `{ data, filename, contentType? }` (a bare Buffer or stream
 * is sent as `file` / `application/octet-stream`). Local files go up as multipart/form-data.
 */
export type FileInput =
  | string
  | Uint8Array
  | import('node:stream').Readable
  | { readonly data: Uint8Array | import('node:stream').Readable; readonly filename: string; readonly contentType?: string };

export interface CreateMessage {
  readonly roomId?: string;
  readonly toPersonId?: string;
  readonly toPersonEmail?: string;
  readonly parentId?: string;
  readonly text?: string;
  readonly markdown?: string;
  /** One file (Webex takes one a message): a public URL, a local path, bytes or a stream (see FileInput). */
  readonly files?: readonly FileInput[];
  /** Adaptive cards: `{ contentType: 'application/vnd.microsoft.card.adaptive', content }`. */
  readonly attachments?: readonly unknown[];
}

/** Options of `messages.create`. */
export interface SendOptions {
  /**
   * ms before the call is abandoned, instead of `requestTimeout`: the whole exchange, reading the
   * file to upload included (a large upload on a slow link may need more than the default 30 s).
   */
  readonly timeout?: number;
  /** Aborts the call; a write aborted in flight may still have happened. */
  readonly signal?: AbortSignal;
}

/** Options of `contents.download()` and `contents.stream()`. */
export interface DownloadOptions {
  /** Download a file Webex could not scan for malware (HTTP 428) anyway: adds `?allow=unscannable`. */
  readonly allowUnscannable?: boolean;
  /**
   * Bytes at most. `download()`: default `maxResponseSize` (8 MiB); a larger file is not read
   * further (an API_ERROR saying so). `stream()`: no bound unless given.
   */
  readonly maxSize?: number;
  /** ms to wait at most, in all, for Webex's malware scan (HTTP 423 Locked) before FILE_SCANNING; default 60000. */
  readonly scanWait?: number;
  /** ms for each request instead of `requestTimeout`: `download()`, the whole exchange; `stream()`, until the headers. */
  readonly timeout?: number;
  /** Aborts the download (and a stream being read). */
  readonly signal?: AbortSignal;
}

/** Options of `contents.stream()`. */
export interface StreamOptions extends DownloadOptions {
  /** ms the body may go without bringing data while the stream is read (default `requestTimeout`). */
  readonly idleTimeout?: number;
}

/** A downloaded file. */
export interface DownloadedFile {
  readonly data: Buffer;
  /** From Content-Disposition, else the URL; never with a directory part. */
  readonly filename: string;
  readonly contentType: string;
  /** Bytes (of `data`). */
  readonly size: number;
}

/** A file being downloaded: read `stream` to its end, or destroy it. */
export interface FileStream {
  readonly stream: import('node:stream').Readable;
  readonly filename: string;
  readonly contentType: string;
  /** Bytes, from Content-Length; undefined when the answer does not say. */
  readonly size: number | undefined;
}

export interface Room {
  readonly id: string;
  readonly title: string;
  readonly type: 'direct' | 'group';
  readonly isLocked: boolean;
  readonly teamId?: string;
  readonly lastActivity?: string;
  readonly creatorId: string;
  readonly created: string;
  readonly ownerId?: string;
  readonly [key: string]: unknown;
}

export interface Membership {
  readonly id: string;
  readonly roomId: string;
  readonly roomType?: 'direct' | 'group';
  readonly personId: string;
  readonly personEmail: string;
  readonly personDisplayName?: string;
  readonly personOrgId?: string;
  readonly isModerator: boolean;
  readonly isMonitor?: boolean;
  readonly created: string;
  readonly [key: string]: unknown;
}

export interface Team {
  readonly id: string;
  readonly name: string;
  readonly creatorId?: string;
  readonly created: string;
  readonly [key: string]: unknown;
}

export interface TeamMembership {
  readonly id: string;
  readonly teamId: string;
  readonly personId: string;
  readonly personEmail: string;
  readonly personDisplayName?: string;
  readonly isModerator: boolean;
  readonly created: string;
  readonly [key: string]: unknown;
}

export interface Webhook extends CreateWebhook {
  readonly id: string;
  readonly status?: 'active' | 'inactive';
  readonly created: string;
  readonly [key: string]: unknown;
}

/** An Adaptive Card submit. */
export interface AttachmentAction {
  readonly id: string;
  readonly type: 'submit';
  readonly messageId: string;
  readonly personId: string;
  readonly roomId: string;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly created: string;
  readonly [key: string]: unknown;
}

export interface CreateRoom {
  readonly title: string;
  readonly teamId?: string;
  readonly [key: string]: unknown;
}

export interface CreateMembership {
  readonly roomId: string;
  readonly personId?: string;
  readonly personEmail?: string;
  readonly isModerator?: boolean;
}

export interface CreateTeamMembership {
  readonly teamId: string;
  readonly personId?: string;
  readonly personEmail?: string;
  readonly isModerator?: boolean;
}

export interface CreateWebhook {
  readonly name: string;
  readonly targetUrl: string;
  readonly resource: string;
  readonly event: string;
  readonly filter?: string;
  readonly secret?: string;
}

export interface CreateAttachmentAction {
  readonly type: 'submit';
  readonly messageId: string;
  readonly inputs: Readonly<Record<string, unknown>>;
}

/** An Adaptive Card attachment for messages.create. */
export interface CardAttachment {
  readonly contentType: 'application/vnd.microsoft.card.adaptive';
  readonly content: Readonly<Record<string, unknown>>;
}
