/**
 * The shapes of a `conversation.activity` as Mercury delivers it (webex-protocol.md §3.2, §4).
 * Ids inside an activity are bare uuids, not the REST API's Hydra ids.
 */
import type { AttachmentAction, CardAttachment, Membership, Message, Room } from '../rest/types.js';

export interface ActivityActor {
  readonly id: string;
  readonly entryUUID?: string;
  readonly emailAddress?: string;
  readonly displayName?: string;
  /** 'PERSON', or another kind of actor (bots are persons too). */
  readonly type?: string;
  readonly objectType?: string;
  readonly [key: string]: unknown;
}

export interface ActivityObject {
  readonly id?: string;
  readonly objectType?: string;
  readonly displayName?: string;
  readonly [key: string]: unknown;
}

export interface ActivityTarget {
  readonly id?: string;
  readonly objectType?: string;
  readonly url?: string;
  readonly tags?: readonly string[];
  readonly [key: string]: unknown;
}

export interface Activity {
  readonly id: string;
  readonly verb: string;
  readonly published?: string;
  readonly actor: ActivityActor;
  readonly object?: ActivityObject;
  readonly target?: ActivityTarget;
  readonly parent?: { readonly id: string; readonly type?: string };
  readonly [key: string]: unknown;
}

export function isActivity(value: unknown): value is Activity {
  const v = value as Record<string, unknown> | null;
  if (typeof v !== 'object' || v === null) return false;
  const actor = v.actor as Record<string, unknown> | null | undefined;
  return typeof v.id === 'string' && typeof v.verb === 'string' && typeof actor === 'object' && actor !== null && typeof actor.id === 'string';
}

// ------------------------------------------------------------------ typed events

/** What `reply()` sends: text, or any of markdown, attachments (cards) and files (URLs). */
export type ReplyContent = string | { readonly text?: string; readonly markdown?: string; readonly attachments?: readonly CardAttachment[]; readonly files?: readonly string[] };

/** A message as the 'message' event delivers it: the REST message, plus `reply()`. */
export interface ReceivedMessage extends Message {
  /** Answers in the same room, and in the same thread when the message was in one. */
  reply(content: ReplyContent): Promise<Message>;
}

/** An Adaptive Card submit as the 'cardAction' event delivers it: the REST attachment action, plus `reply()`. */
export interface ReceivedCardAction extends AttachmentAction {
  /** Answers in the room of the card (not in a thread: Webex refuses thread replies to card actions). */
  reply(content: ReplyContent): Promise<Message>;
}

/** A membership that is gone or was only seen: what the activity tells, with Hydra ids. */
export interface MembershipRef {
  readonly id: string;
  readonly roomId: string;
  readonly personId: string;
  readonly personEmail?: string;
  /** For 'seen': the last message the person read. */
  readonly lastSeenId?: string;
}

export interface MembershipEvent {
  /** created: someone joined (add, or the room was created); updated: moderator changes, hidden; deleted: someone left; seen: read receipt. */
  readonly action: 'created' | 'updated' | 'deleted' | 'seen';
  /** The REST membership (created, updated), or what the activity tells (deleted, seen). */
  readonly membership: Membership | MembershipRef;
  /** The person who did it (Hydra id). */
  readonly actorId: string;
}

export interface RoomEvent {
  /** created: the bot is in a new room; updated: renamed, locked, unlocked. */
  readonly action: 'created' | 'updated';
  readonly room: Room;
  readonly actorId: string;
}

export interface MessageDeletedEvent {
  readonly id: string;
  readonly roomId: string;
  /** Who deleted it. */
  readonly actorId: string;
}

/** `result.data` of onMessage, by verb. */
export type ActivityData =
  /** post, share (and a share whose file became safe) */
  | Message
  /** add, create: the memberships found */
  | readonly Membership[]
  /** assignModerator, unassignModerator, hide */
  | Membership
  /** lock, unlock, update (of the room) */
  | Room
  /** cardAction */
  | AttachmentAction
  /** leave, acknowledge */
  | MembershipRef
  /** delete */
  | MessageDeletedEvent;
