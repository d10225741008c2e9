/**
 * What a handler gets: the message or card submit, where it came from, and the verbs to answer —
 * `say` (same room), `reply` (same room and thread, or a new thread), `ask` (a question, and the
 * person's next message as its answer) — with `storage` for the room.
 */
import type { Activity, ReceivedCardAction, ReceivedMessage } from '../events/types.js';
import type { WebexApi } from '../rest/client.js';
import type { Message } from '../rest/types.js';
import type { MessageContent } from './content.js';
import type { Storage } from './storage.js';

/** How `reply` answers: in the message's thread (when it is in one), or starting a thread under it. */
export interface ReplyOptions {
  /** Start a thread under a top-level message (a reply to a message in a thread stays in that thread anyway). */
  readonly thread?: boolean;
}

export interface AskOptions {
  /** ms to wait for the answer before `ask` rejects with a TIMEOUT SparkBotError. Default 60000 (a minute). */
  readonly timeout?: number;
}

/** What every handler and middleware gets. */
export interface BaseContext {
  /** The room it happened in. */
  readonly roomId: string;
  /** Who sent the message or submitted the card. */
  readonly personId: string;
  /** Their email (for a card submit it is looked up; undefined only when that lookup failed). */
  readonly personEmail: string | undefined;
  readonly activity: Activity;
  /** State of this room (`storage.person(ctx.personId)`: of this person in this room). */
  readonly storage: Storage;
  /** The REST client, as `bot.api`. */
  readonly api: WebexApi;
  /** Posts in the same room, at the top level. */
  say(content: MessageContent): Promise<Message>;
  /** Answers in the same room: in the message's thread when it is in one; `{ thread: true }` starts a thread under it. */
  reply(content: MessageContent, options?: ReplyOptions): Promise<Message>;
  /**
   * Posts `content` (as `reply` does) and resolves with the next message of the same person in
   * the same room — in the same thread when the question is in one, or in a thread under the
   * question. That message is not routed anywhere else ('message' and 'activity' still fire); its
   * `text` comes without the bot's mention (group rooms), as routes see it. While the handler
   * waits, the room's other events go on. Rejects with a SparkBotError: TIMEOUT after `timeout`
   * ms, STOPPED when the bot stops.
   */
  ask(content: MessageContent, options?: AskOptions): Promise<ReceivedMessage>;
}

/** A message, for middleware, `command`, `hears` and `otherwise` handlers. */
export interface MessageContext extends BaseContext {
  readonly kind: 'message';
  /** The message, with `reply()`. */
  readonly message: ReceivedMessage;
  /** The text with the bot's mention removed (group rooms) and trimmed. */
  readonly text: string;
  /** For `hears` with a RegExp: the match; for `command`: the whole match. Empty for middleware and `otherwise`. */
  readonly match: RegExpMatchArray;
  /** For `command`: the arguments after the command, split as a shell would (`"stand up" 9:30` → 2). */
  readonly args: readonly string[];
  /** For `command`: the text after the command, as typed; for `hears` with a string: the text after the words. */
  readonly rest: string;
}

/** The context of `command`, `hears` and `otherwise` handlers. */
export type CommandContext = MessageContext;

/** A card submit, for middleware and `action` handlers. `Inputs` types the card's input values. */
export interface ActionContext<Inputs extends object = Record<string, unknown>> extends BaseContext {
  readonly kind: 'cardAction';
  /** The REST attachment action, with `reply()`. */
  readonly action: ReceivedCardAction;
  /** The card's inputs (`Input.*` values by id, and the `Action.Submit` data). */
  readonly inputs: Inputs;
}

export type Context = MessageContext | ActionContext;

export type CommandHandler = (context: CommandContext) => unknown;
export type ActionHandler<Inputs extends object = Record<string, unknown>> = (context: ActionContext<Inputs>) => unknown;

/**
 * Runs before routing, for messages and card submits, Koa-style: `await next()` goes on to the
 * next middleware and then the routes; returning without calling it stops the event there.
 */
export type Middleware = (context: Context, next: () => Promise<void>) => unknown;
