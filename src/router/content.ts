/**
 * What a bot posts, and where: `bot.say(target, content)`, `message.reply(content)`,
 * `event.say(content)` and the handlers' `reply` all take the same `content`, checked here before
 * anything is sent — a card without its fallback text, an empty message, a misspelt field are
 * INVALID_CONTENT errors that say what to fix, not a 400 from Webex.
 */
import { SparkBotError } from '../errors.js';
import type { CardAttachment, CreateMessage, FileInput } from '../rest/types.js';

/** An Adaptive Card (https://adaptivecards.io): `{ type: 'AdaptiveCard', version, body, actions }`. */
export type AdaptiveCard = Readonly<Record<string, unknown>>;

/**
 * A message to post: a string is its text; or any of
 * - `text`, `markdown` (Webex shows markdown where it can, text elsewhere),
 * - `files`: one file — a URL Webex fetches, a local path, bytes or a stream (see FileInput),
 * - `card`: an Adaptive Card, sent as an attachment; `fallbackText` is then required: the text of
 *   the message, which Webex shows in notifications and where cards are not rendered,
 * - `parentId`: the message to answer in a thread,
 * - `attachments`: cards already wrapped (`{ contentType, content }`), as the REST API takes them.
 */
export type MessageContent =
  | string
  | {
      readonly text?: string;
      readonly markdown?: string;
      readonly files?: readonly FileInput[];
      readonly card?: AdaptiveCard;
      readonly fallbackText?: string;
      readonly parentId?: string;
      readonly attachments?: readonly CardAttachment[];
    };

/** Where to post: a room id, or `{ roomId }`, or a person (a direct message) by id or email. */
export type Target = string | { readonly roomId: string } | { readonly toPersonId: string } | { readonly toPersonEmail: string };

const CONTENT_KEYS = new Set(['text', 'markdown', 'files', 'card', 'fallbackText', 'parentId', 'attachments']);
const TARGET_KEYS = ['roomId', 'toPersonId', 'toPersonEmail'] as const;
const CARD_TYPE = 'application/vnd.microsoft.card.adaptive';

function invalid(message: string): SparkBotError {
  return new SparkBotError('INVALID_CONTENT', message);
}

/** The REST fields of `target`; throws INVALID_CONTENT when it names no room and no person. */
export function targetFields(target: Target, where = 'say(target, content)'): Pick<CreateMessage, 'roomId' | 'toPersonId' | 'toPersonEmail'> {
  if (typeof target === 'string') {
    if (target.trim() === '') throw invalid(`${where}: the target is an empty string; give a room id, or { roomId }, { toPersonId } or { toPersonEmail }`);
    return { roomId: target };
  }
  if (typeof target !== 'object' || target === null) throw invalid(`${where}: the target must be a room id, or { roomId }, { toPersonId } or { toPersonEmail }, got ${target === null ? 'null' : typeof target}`);
  const given = TARGET_KEYS.filter((key) => (target as Record<string, unknown>)[key] !== undefined);
  const other = Object.keys(target).filter((key) => !(TARGET_KEYS as readonly string[]).includes(key));
  if (given.length !== 1 || other.length > 0) {
    throw invalid(`${where}: the target must have exactly one of roomId, toPersonId, toPersonEmail${other.length > 0 ? ` (unknown: ${other.join(', ')})` : ''}`);
  }
  const key = given[0] as (typeof TARGET_KEYS)[number];
  const value = (target as Record<string, unknown>)[key];
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`${where}: ${key} must be a non-empty string`);
  return { [key]: value };
}

/**
 * The REST message for `content` (without its target). `parentId` is the thread to answer in
 * unless the content names its own.
 */
export function messageFields(content: MessageContent, where = 'say(target, content)', parentId?: string): Omit<CreateMessage, 'roomId' | 'toPersonId' | 'toPersonEmail'> {
  if (typeof content === 'string') {
    if (content === '') throw invalid(`${where}: the message is empty`);
    return { text: content, ...(parentId === undefined ? {} : { parentId }) };
  }
  if (typeof content !== 'object' || content === null || Array.isArray(content)) {
    throw invalid(`${where}: content must be a string or { text, markdown, files, card, fallbackText, parentId }, got ${content === null ? 'null' : Array.isArray(content) ? 'an array' : typeof content}`);
  }
  const unknown = Object.keys(content).filter((key) => !CONTENT_KEYS.has(key));
  if (unknown.length > 0) throw invalid(`${where}: unknown content field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${[...CONTENT_KEYS].join(', ')})`);
  for (const key of ['text', 'markdown', 'fallbackText', 'parentId'] as const) {
    if (content[key] !== undefined && typeof content[key] !== 'string') throw invalid(`${where}: ${key} must be a string, got ${typeof content[key]}`);
  }
  if (content.files !== undefined && !Array.isArray(content.files)) throw invalid(`${where}: files must be a list (of one file: Webex takes one a message)`);
  const attachments: CardAttachment[] = [...(content.attachments ?? [])];
  if (content.card !== undefined) {
    const card = content.card as Record<string, unknown>;
    if (typeof card !== 'object' || card === null || Array.isArray(card)) throw invalid(`${where}: card must be an Adaptive Card object ({ type: 'AdaptiveCard', version, body })`);
    if (content.fallbackText === undefined || content.fallbackText.trim() === '') {
      throw invalid(`${where}: a card needs fallbackText — the text Webex shows in notifications and in clients that do not render cards`);
    }
    // A card given already wrapped ({ contentType, content }) is taken as it is.
    attachments.push(card.contentType === CARD_TYPE && typeof card.content === 'object' ? (card as unknown as CardAttachment) : { contentType: CARD_TYPE, content: card });
  } else if (content.fallbackText !== undefined && content.attachments === undefined) {
    throw invalid(`${where}: fallbackText goes with a card; for a plain message use text`);
  }
  const text = content.text ?? content.fallbackText;
  const files = content.files ?? [];
  if ((text === undefined || text === '') && (content.markdown === undefined || content.markdown === '') && files.length === 0 && attachments.length === 0) {
    throw invalid(`${where}: the message is empty: give text, markdown, files or a card`);
  }
  const thread = content.parentId ?? parentId;
  return {
    ...(text === undefined ? {} : { text }),
    ...(content.markdown === undefined ? {} : { markdown: content.markdown }),
    ...(files.length === 0 ? {} : { files }),
    ...(attachments.length === 0 ? {} : { attachments }),
    ...(thread === undefined ? {} : { parentId: thread }),
  };
}
