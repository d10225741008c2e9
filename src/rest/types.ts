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

export interface CreateMessage {
  readonly roomId?: string;
  readonly toPersonId?: string;
  readonly toPersonEmail?: string;
  readonly parentId?: string;
  readonly text?: string;
  readonly markdown?: string;
  /** Public URLs of files to attach. */
  readonly files?: readonly string[];
  /** Adaptive cards: `{ contentType: 'application/vnd.microsoft.card.adaptive', content }`. */
  readonly attachments?: readonly unknown[];
}
