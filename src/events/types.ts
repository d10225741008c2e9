/**
 * The shapes of a `conversation.activity` as Mercury delivers it (webex-protocol.md §3.2, §4).
 * Ids inside an activity are bare uuids, not the REST API's Hydra ids.
 */
import type { AttachmentAction, Membership, Message, Room } from '../rest/types.js';
import type { MessageContent } from '../router/content.js';
import type { ReplyOptions } from '../router/context.js';

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

/** What `reply()` sends: the same content as `bot.say` (text, or `{ text, markdown, files, card, fallbackText, parentId }`). */
export type ReplyContent = MessageContent;

/** A message as the 'message' event delivers it: the REST message, plus `reply()`. */
export interface ReceivedMessage extends Message {
  /** Answers in the same room, and in the same thread when the message was in one; `{ thread: true }` starts a thread under it. */
  reply(content: MessageContent, options?: ReplyOptions): Promise<Message>;
}

/** An Adaptive Card submit as the 'cardAction' event delivers it: the REST attachment action, plus `reply()`. */
export interface ReceivedCardAction extends AttachmentAction {
  /** Answers in the room of the card; `{ thread: true }` in a thread under the card's message. */
  reply(content: MessageContent, options?: ReplyOptions): Promise<Message>;
}

/** The bot came into a room: `how` it happened, and `say()` to post there. */
export interface JoinedEvent {
  readonly room: Room;
  /** Who added it, or created the room with it (Hydra id). */
  readonly actorId: string;
  readonly how: 'added' | 'created';
  /** Posts in that room. */
  say(content: MessageContent): Promise<Message>;
}

/** The bot is no longer in a room (its details cannot be fetched any more: the room's id only). */
export interface LeftEvent {
  readonly roomId: string;
  /** Who removed it (the bot's own id when it left). */
  readonly actorId: string;
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
