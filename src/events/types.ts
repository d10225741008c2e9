/**
 * The shapes of a `conversation.activity` as Mercury delivers it (webex-protocol.md §3.2, §4).
 * Ids inside an activity are bare uuids, not the REST API's Hydra ids.
 */

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
