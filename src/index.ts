export { SparkBot, type SparkBotEvents, type BotHealth, type InspectedBot } from './bot.js';
export { SparkBotError, ApiError, RateLimitError, type SparkBotErrorCode, type ErrorContext } from './errors.js';
export type { SparkBotOptions, OnMessage, Result } from './options.js';
export { DEFAULT_API_URL, DEFAULT_WDM_URL, DEFAULT_U2C_URL, DEFAULT_DEVICE_DESC } from './options.js';
export type {
  Activity,
  ActivityActor,
  ActivityData,
  ActivityObject,
  ActivityTarget,
  JoinedEvent,
  LeftEvent,
  MembershipEvent,
  MembershipRef,
  MessageDeletedEvent,
  ReceivedCardAction,
  ReceivedMessage,
  ReplyContent,
  RoomEvent,
} from './events/types.js';
export type {
  ActionContext,
  ActionHandler,
  AskOptions,
  BaseContext,
  CommandContext,
  CommandHandler,
  Context,
  MessageContext,
  Middleware,
  ReplyOptions,
} from './router/context.js';
export type { AdaptiveCard, MessageContent, Target } from './router/content.js';
export type { RouteOptions } from './router/router.js';
export { memoryStorage, fileStorage, createStorage, type Storage, type BotStorage, type StorageAdapter } from './router/storage.js';
export { restrictTo, type AccessRule } from './router/access.js';
export { stripMention } from './router/mention.js';
export type { Logger } from './log.js';
export type { WebexApi, RequestOptions, ReadOptions, ListOptions, Collection, Query } from './rest/client.js';
export type { Paged } from './rest/paging.js';
export type * from './rest/types.js';
export { classifyClose, type CloseVerdict, type FatalReason } from './protocol/close-codes.js';
export { buildHydraId, parseHydraId, type HydraId, type HydraType } from './protocol/ids.js';
export { parseRetryAfter } from './protocol/retry-after.js';
export { connectionMachine, reconnectDelay, type ConnectionStateName, type ConnectionContext, type ConnectionEvent } from '../machines/connection.js';
export { outboxMachine, type OutboxContext, type OutboxEvent } from '../machines/outbox.js';
export type { Coordination, CoordinationHost, Claim } from './coordination.js';
export { VERSION } from './version.js';
