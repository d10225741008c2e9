/**
 * What the bot does with a message or a card submit once its events have fired: it answers a
 * question waiting for it (`ctx.ask`), or builds the handler's context and hands it to the router
 * (middleware, then routes). Also `bot.say` and the `reply` of everything received.
 */
import type { Clock } from '../clock.js';
import { SparkBotError } from '../errors.js';
import type { Activity, ReceivedCardAction, ReceivedMessage } from '../events/types.js';
import type { WebexApi } from '../rest/client.js';
import type { AttachmentAction, Message, Person } from '../rest/types.js';
import { Asks, DEFAULT_ASK_TIMEOUT } from './ask.js';
import { messageFields, targetFields, type MessageContent, type Target } from './content.js';
import type { ActionContext, AskOptions, BaseContext, MessageContext, ReplyOptions } from './context.js';
import { stripMention } from './mention.js';
import { Router } from './router.js';
import type { BotStorage } from './storage.js';

export interface HandlingDeps {
  readonly api: WebexApi;
  readonly storage: BotStorage;
  readonly clock: Clock;
  /** The bot's own person, once known. */
  readonly me: () => Person | undefined;
  /** Lets the room of the handler that calls it go on while that handler waits (for a question's answer). */
  readonly detach: () => void;
  /** True once stop() was called: no question is asked any more. */
  readonly stopping: () => boolean;
}

/** Where a received object answers: its room, the thread it is in, and the message a new thread would hang under. */
interface Origin {
  readonly roomId: string;
  readonly parentId: string | undefined;
  readonly threadRoot: string | undefined;
}

/** People whose email was looked up (card submits), kept at most. */
const EMAILS_KEPT = 1_000;

export class Handling {
  readonly router = new Router();
  readonly asks: Asks;
  private readonly emails = new Map<string, string>();

  constructor(private readonly deps: HandlingDeps) {
    this.asks = new Asks(deps.clock);
  }

  /** Posts `content` at `target` (`bot.say`). */
  async say(target: Target, content: MessageContent): Promise<Message> {
    return this.post({ ...targetFields(target), ...messageFields(content) });
  }

  /** `message` with its non-enumerable `reply(content, { thread })`, answering where it came from. */
  receivedMessage(message: Message): ReceivedMessage {
    return this.withReply(message, { roomId: message.roomId, parentId: message.parentId, threadRoot: message.id });
  }

  /** `action` with its `reply`: in the card's room, or `{ thread: true }` under the card's message. */
  receivedAction(action: AttachmentAction): ReceivedCardAction {
    return this.withReply(action, { roomId: action.roomId, parentId: undefined, threadRoot: action.messageId });
  }

  /** Routes a message (middleware, then the first matching route, help or otherwise). */
  async message(message: ReceivedMessage, activity: Activity): Promise<void> {
    const origin = { roomId: message.roomId, parentId: message.parentId, threadRoot: message.id };
    const context: MessageContext = {
      ...this.base(origin, message.personId, message.personEmail, activity),
      kind: 'message',
      message,
      text: stripMention(message, this.deps.me()),
      match: Object.assign([] as string[], { index: 0, input: '' }) as RegExpMatchArray,
      args: [],
      rest: '',
    };
    await this.router.handleMessage(context, (markdown) => message.reply({ markdown }));
  }

  /**
   * Routes a card submit; false when no action route took it (nor a middleware stopped it). Webex's
   * card action names the person by id only: their email is looked up (and kept), so that
   * `ctx.personEmail` — what access rules check — is there for card submits too.
   */
  async cardAction(action: ReceivedCardAction, activity: Activity): Promise<boolean> {
    const origin = { roomId: action.roomId, parentId: undefined, threadRoot: action.messageId };
    const context: ActionContext = {
      ...this.base(origin, action.personId, await this.emailOf(action.personId), activity),
      kind: 'cardAction',
      action,
      inputs: typeof action.inputs === 'object' && action.inputs !== null ? action.inputs : {},
    };
    return this.router.handleAction(context);
  }

  /** The email of a person, from the people API (kept for the next time); undefined when it cannot be had. */
  private async emailOf(personId: string): Promise<string | undefined> {
    const known = this.emails.get(personId);
    if (known !== undefined) return known;
    const person = await this.deps.api.people.get(personId).catch(() => undefined);
    const email = person?.emails?.[0];
    if (email !== undefined) {
      this.emails.set(personId, email);
      if (this.emails.size > EMAILS_KEPT) this.emails.delete(this.emails.keys().next().value ?? '');
    }
    return email;
  }

  private base(origin: Origin, personId: string, personEmail: string | undefined, activity: Activity): BaseContext {
    const room = this.deps.storage.room(origin.roomId);
    const reply = (content: MessageContent, options?: ReplyOptions) => this.reply(origin, content, options, 'reply(content)');
    return {
      roomId: origin.roomId,
      personId,
      personEmail,
      activity,
      storage: room,
      api: this.deps.api,
      say: async (content) => this.post({ roomId: origin.roomId, ...messageFields(content, 'say(content)') }),
      reply,
      ask: (content, options) => this.ask(origin, personId, content, options),
    };
  }

  private async ask(origin: Origin, personId: string, content: MessageContent, options: AskOptions = {}): Promise<ReceivedMessage> {
    // Checked before anything waits: a bad question is an error now, not a question that never comes.
    const fields = { roomId: origin.roomId, ...messageFields(content, 'ask(content)', origin.parentId) };
    if (this.deps.stopping()) throw new SparkBotError('STOPPED', 'ask(): the bot is stopping; the question was not asked');
    // The answer is expected where the question goes: its thread (its own parentId, or the message's), or the top level.
    const waiting = this.asks.wait({ roomId: origin.roomId, personId, threadId: fields.parentId }, options.timeout ?? DEFAULT_ASK_TIMEOUT);
    try {
      // Replicas: the others know whose answer it is before anyone can answer (a lone bot posts at once, as it always did).
      if (this.asks.share !== undefined) await waiting.ready;
      const question = await this.post(fields);
      // At the top level, an answer in a thread under the question counts too.
      if (fields.parentId === undefined) waiting.alsoIn(question.id);
    } catch (error) {
      waiting.cancel(new SparkBotError('CANCELLED', 'the question could not be posted'));
      throw error;
    }
    // The room's other events (other people, other commands) go on while this handler waits.
    this.deps.detach();
    const answer = await waiting.answer;
    // As routes see it: without the bot's mention (group rooms).
    const text = stripMention(answer, this.deps.me());
    return answer.roomType !== 'group' || text === answer.text ? answer : this.receivedMessage({ ...answer, text });
  }

  private async reply(origin: Origin, content: MessageContent, options: ReplyOptions | undefined, where: string): Promise<Message> {
    const thread = origin.parentId ?? (options?.thread === true ? origin.threadRoot : undefined);
    return this.post({ roomId: origin.roomId, ...messageFields(content, where, thread) });
  }

  private post(message: Parameters<WebexApi['messages']['create']>[0]): Promise<Message> {
    return this.deps.api.messages.create(message);
  }

  private withReply<T extends Message | AttachmentAction>(object: T, origin: Origin): T & { reply(content: MessageContent, options?: ReplyOptions): Promise<Message> } {
    const reply = (content: MessageContent, options?: ReplyOptions) => this.reply(origin, content, options, 'reply(content)');
    return Object.defineProperty(object, 'reply', { value: reply, enumerable: false, configurable: true }) as T & { reply: typeof reply };
  }
}
