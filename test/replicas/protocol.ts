/**
 * What a replica process (replica.ts) and the replica chaos engine (engine.ts) say to each other
 * over the IPC channel. Every report carries `at`, the replica's Date.now() (one machine, one
 * clock: the engine compares them with its own). Nothing here ever holds the token.
 */

/** The handler of message `seq` (its text) began. `work` is the ms it will sleep before replying. */
export interface StartEvent {
  readonly event: 'start';
  readonly id: string;
  readonly seq: number;
  readonly replica: string;
  readonly pid: number;
  readonly work: number;
  readonly at: number;
}

/** The handler of message `seq` ended (after its reply, or after the reply failed). */
export interface EndEvent {
  readonly event: 'end';
  readonly id: string;
  readonly seq: number;
  readonly replica: string;
  readonly pid: number;
  readonly replied: boolean;
  readonly at: number;
}

/** The bot started: `bot.start()` resolved. */
export interface OpenEvent {
  readonly event: 'open';
  readonly replica: string;
  readonly pid: number;
  readonly deviceId: string | null;
  readonly isLeader: boolean;
  readonly at: number;
}

/** The bot's 'leader' event; `agrees`: `bot.isLeader` said the same at that moment. */
export interface LeaderEvent {
  readonly event: 'leader';
  readonly replica: string;
  readonly pid: number;
  readonly isLeader: boolean;
  readonly agrees: boolean;
  readonly at: number;
}

/** The bot's 'error' or 'warning' (or the replica's own: REPLY_FAILED, STOP_FAILED, START_FAILED, UNCAUGHT…). */
export interface ProblemEvent {
  readonly event: 'error' | 'warning';
  readonly replica: string;
  readonly code: string;
  readonly message: string;
  readonly at: number;
}

export interface StateEvent {
  readonly event: 'state';
  readonly replica: string;
  readonly state: string;
  readonly previous: string;
  readonly at: number;
}

/** `bot.stop()` resolved; the process exits 0 next. */
export interface StoppedEvent {
  readonly event: 'stopped';
  readonly replica: string;
  readonly pid: number;
  readonly tookMs: number;
  readonly at: number;
}

/** With REPLICA_TRACE_CLAIMS=1: a claim the bot asked was decided (`claimed` false: skipped, or given up). */
export interface ClaimEvent {
  readonly event: 'claim';
  readonly replica: string;
  readonly activityId: string;
  readonly claimed: boolean;
  readonly aborted: boolean;
  readonly waitedMs: number;
  readonly at: number;
}

export type ReplicaEvent = ClaimEvent | StartEvent | EndEvent | OpenEvent | LeaderEvent | ProblemEvent | StateEvent | StoppedEvent;

/** From the engine: stop gracefully (`bot.stop()`), then exit 0. */
export interface ParentCommand {
  readonly type: 'stop';
}
