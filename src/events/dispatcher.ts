/**
 * From Mercury envelopes to the bot's events: picks the `conversation.activity` events, drops the
 * bot's own messages (by person id, never by display name), enriches posts and shares with the
 * REST message, and calls `onMessage` and the 'message' listeners. Envelopes are handled one at a
 * time in arrival order; a failing handler is reported and never stops the bot.
 */
import { SparkBotError } from '../errors.js';
import type { Log } from '../log.js';
import { buildHydraId, DEFAULT_CLUSTER, uuidOf } from '../protocol/ids.js';
import type { ActivityData, Result } from '../options.js';
import type { Message, Person } from '../rest/types.js';
import { type Activity, isActivity } from './types.js';

export interface DispatcherDeps {
  readonly getMessage: (id: string) => Promise<Message>;
  /** The bot's own person (GET /people/me), memoised by the caller. */
  readonly me: () => Promise<Person>;
  readonly onMessage: ((result: Result<ActivityData>, eventType: string, verb: string, json: unknown) => unknown) | undefined;
  /** Emits the 'message' event; never throws (each listener is isolated by the bot). */
  readonly emitMessage: (message: Message, activity: Activity) => void;
  readonly reportError: (error: SparkBotError) => void;
  readonly reportWarning: (warning: SparkBotError) => void;
  readonly log: Log;
}

const MESSAGE_VERBS = new Set(['post', 'share']);

export class Dispatcher {
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly deps: DispatcherDeps) {}

  /** Queues an envelope; it is handled after every envelope queued before it. */
  handle(envelope: unknown): void {
    this.chain = this.chain.then(() => this.process(envelope)).catch((error: unknown) => this.deps.reportError(asError(error, 'HANDLER_ERROR')));
  }

  /** Resolves once every queued envelope has been handled. */
  idle(): Promise<void> {
    return this.chain;
  }

  private async process(envelope: unknown): Promise<void> {
    const data = (envelope as { data?: { eventType?: unknown; activity?: unknown } } | undefined)?.data;
    const eventType = typeof data?.eventType === 'string' ? data.eventType : undefined;
    if (eventType !== 'conversation.activity') {
      this.deps.log('ignoring event type %s', eventType ?? '(none)');
      return;
    }
    const activity = data?.activity;
    if (!isActivity(activity)) {
      this.deps.reportWarning(new SparkBotError('INVALID_FRAME', 'ignored a conversation.activity without id, verb or actor'));
      return;
    }
    if (!MESSAGE_VERBS.has(activity.verb)) {
      await this.callOnMessage({ ok: false, error: `Unsupported EventType: [${eventType}] and Verb: [${activity.verb}]` }, eventType, activity.verb, envelope);
      return;
    }
    let me: Person;
    try {
      me = await this.deps.me();
    } catch (error) {
      // Without the bot's own id its own messages cannot be told apart: skip rather than risk a loop.
      this.deps.reportError(asError(error, 'API_ERROR', `skipped ${activity.verb} ${activity.id}: could not load /people/me to filter the bot's own messages`));
      return;
    }
    if ((activity.actor.entryUUID ?? activity.actor.id) === uuidOf(me.id)) {
      this.deps.log('skipping own %s %s', activity.verb, activity.id);
      return;
    }
    let result: Result<Message>;
    try {
      result = { ok: true, data: await this.deps.getMessage(buildHydraId('MESSAGE', activity.id, DEFAULT_CLUSTER)) };
    } catch (error) {
      const failure = asError(error, 'API_ERROR');
      this.deps.reportError(failure);
      result = { ok: false, error: failure.message };
    }
    if (result.ok) this.deps.emitMessage(result.data, activity);
    await this.callOnMessage(result, eventType, activity.verb, envelope);
  }

  private async callOnMessage(result: Result<ActivityData>, eventType: string, verb: string, envelope: unknown): Promise<void> {
    if (!this.deps.onMessage) return;
    try {
      await this.deps.onMessage(result, eventType, verb, envelope);
    } catch (error) {
      this.deps.reportError(asError(error, 'HANDLER_ERROR', 'onMessage threw'));
    }
  }
}

function asError(error: unknown, code: SparkBotError['code'], context?: string): SparkBotError {
  if (error instanceof SparkBotError && context === undefined) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SparkBotError(code, context ? `${context}: ${message}` : message, { cause: error });
}
