/**
 * What a bot running as several replicas asks of its coordination (the `coordination` option;
 * `redisCoordination()` from `sparkbot/redis` is the one sparkbot ships). The bot itself loads
 * nothing for it: without the option, none of this runs.
 *
 * Each replica keeps its own device and socket, receives every activity and acks it. Before an
 * activity is fetched and handled, the bot asks `claim()`: only the replica given a Claim handles
 * it, and tells `done()` once its handlers ended. A 429 met by one replica pauses the REST calls of
 * all (`rateLimited` out, `holdRequests` in), and one replica at a time is the leader.
 */
import type { SparkBotError } from './errors.js';

/** An activity this replica handles: the coordination renews its claim until `done()` or `release()`. */
export interface Claim {
  /**
   * True when another replica took the activity over (this one's lease ran out: Redis was away, or
   * lost its data): its handlers, if they have not started, must not run.
   */
  readonly lost: boolean;
  /** The handlers ended (or there was nothing to handle): the activity is handled, for every replica. */
  done(): void;
  /** The bot stops before handling it: another replica may take it at once. */
  release(): void;
}

/** What the bot gives its coordination when it starts. */
export interface CoordinationHost {
  /** The bot user's id (uuid): the namespace of what replicas of this bot share. Never the token. */
  readonly botId: string;
  /** The bot's debug log (printf-style). */
  readonly log: (format: string, ...args: unknown[]) => void;
  readonly reportError: (error: SparkBotError) => void;
  readonly reportWarning: (warning: SparkBotError) => void;
  /** Another replica met a 429: send no REST call for `ms`. */
  readonly holdRequests: (ms: number) => void;
  /** This replica became the leader (true), or is no longer (false). */
  readonly leader: (isLeader: boolean) => void;
}

export interface Coordination {
  /** This replica's name (its device record is kept under it). */
  readonly replica: string;
  /** The bot started and knows who it is. Claims asked before wait for it. */
  start(host: CoordinationHost): Promise<void>;
  /**
   * Who handles activity `id`: resolves with a Claim when this replica does; with undefined when
   * another replica did or does, or when `signal` aborts first (the bot stops). While another
   * replica holds it, waits: it resolves undefined once that one is done, or with a Claim when its
   * lease ran out (it died) or it gave the activity back. `from`: the room and author of a
   * message (see `asking`). Never rejects.
   */
  claim(id: string, signal: AbortSignal, from?: { readonly room: string; readonly person: string }): Promise<Claim | undefined>;
  /**
   * A question of this replica (`ctx.ask`) waits for the next message of `person` in `room`
   * (uuids): such messages (`claim`'s `from`) are claimed by this replica until `end()`. The
   * question is posted once `ready` resolves (the other replicas know of it then; it never rejects).
   */
  asking(room: string, person: string): { readonly ready: Promise<void>; end(): void };
  /** This replica met a 429 that pauses its REST calls for `ms`: the other replicas pause too. */
  rateLimited(ms: number): void;
  /** The bot stopped (its handlers ended): give back the leadership, stop waiting, close what it opened. */
  stop(): Promise<void>;
}

/** The option's value is a coordination (checked when the bot is made). */
export function isCoordination(value: unknown): value is Coordination {
  const c = value as Partial<Coordination> | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.replica === 'string' &&
    typeof c.start === 'function' &&
    typeof c.claim === 'function' &&
    typeof c.asking === 'function' &&
    typeof c.rateLimited === 'function' &&
    typeof c.stop === 'function'
  );
}
