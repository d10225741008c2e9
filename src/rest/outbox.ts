/**
 * The I/O half of the REST outbox: the machine (machines/outbox.ts) decides when a call is sent
 * and whether it is finished; this class performs the HTTP exchange and settles the caller's
 * promise. Every REST call of a bot goes through one Outbox.
 *
 * The direct path (see machines/outbox.ts): while the machine is idle, a call it would dispatch at
 * once is sent here without a machine event, and settled here when its answer needs no pause and
 * no retry. The direct calls still out enter the machine (`adopt`) with the first event that makes
 * it leave idle, so that it counts them for `concurrency`, orders writes after them, and pauses,
 * requeues or retries them as its own.
 */
import { createActor, type Actor, type Subscription } from 'xstate';
import { needsMachine, outcomeOf, outboxMachine, sendsDirect, type CallOutcome, type OutboxCall, type OutboxSettings } from '../../machines/outbox.js';
import type { Clock } from '../clock.js';
import { RateLimitError, SparkBotError } from '../errors.js';
import type { Http, HttpRequest, HttpResult } from '../http.js';
import type { Log } from '../log.js';
import type { SparkBotOptions } from '../options.js';
import { parseRetryAfter } from '../protocol/retry-after.js';

interface PendingCall {
  readonly id: number;
  readonly req: HttpRequest;
  readonly retries: number;
  readonly ordered: boolean;
  readonly resolve: (result: HttpResult) => void;
  readonly reject: (error: unknown) => void;
  attempts: number;
  result?: HttpResult;
  error?: unknown;
}

export interface OutboxDeps {
  readonly http: Http;
  readonly settings: Partial<OutboxSettings>;
  readonly clock: Clock;
  readonly log: Log;
  readonly inspect?: SparkBotOptions['inspect'];
  /** A call was answered 429: the pause it asks for, in ms (replicas share it: see hold()). */
  readonly onRateLimit?: (ms: number) => void;
  /** Reports a bug in the machine (it is replaced by a fresh one). */
  readonly onInternalError: (error: unknown) => void;
}

export class Outbox {
  private actor!: Actor<typeof outboxMachine>;
  private readonly calls = new Map<number, PendingCall>();
  /** Calls sent on the direct path and still out, by id (so in the order they were sent); empty whenever the machine is not idle. */
  private readonly direct = new Map<number, PendingCall>();
  private concurrency = 0;
  private retryCount = 0;
  private nextId = 1;
  private readonly idleWaiters: Array<() => void> = [];
  private idleWatch: Subscription | undefined;
  /** No call goes out before this time (ms since the epoch): a 429 met by another replica (hold()). */
  private holdEnd = 0;
  /** Calls due while held (hold()), each with its timer: cancelWaiting() cancels them like the queued ones. */
  private readonly held = new Map<PendingCall, { readonly timer: unknown; readonly direct: boolean }>();

  constructor(private readonly deps: OutboxDeps) {
    this.start();
  }

  /**
   * Queues a request. Resolves with its final HTTP answer (any status but a 429 that outlived
   * the retries); rejects with a RateLimitError, with the ApiError of a request that got no
   * answer, or with a CANCELLED SparkBotError.
   */
  send(req: HttpRequest, options: { retries?: number } = {}): Promise<HttpResult> {
    const retries = options.retries ?? 0;
    const id = this.nextId++;
    const ordered = req.method !== 'GET';
    return new Promise<HttpResult>((resolve, reject) => {
      const call: PendingCall = { id, req, retries, ordered, resolve, reject, attempts: 0 };
      this.calls.set(id, call);
      if (sendsDirect(this.machineIdle(), { calls: this.direct.size, writes: this.directWrites() }, ordered, this.concurrency)) {
        this.direct.set(id, call);
        this.exchange(call, true);
        return;
      }
      this.actor.send({ type: 'SEND', call: outboxCall(call), ...this.adoption() });
    });
  }

  /** Rejects every call that has not been sent yet with CANCELLED; calls in flight (direct ones too) finish. */
  cancelWaiting(): void {
    // Calls held for another replica's 429 were never sent: they end as cancelled, as queued ones do.
    for (const [call, { timer, direct }] of this.held) {
      this.deps.clock.clearTimeout(timer);
      this.held.delete(call);
      call.error = new SparkBotError('CANCELLED', `${call.req.method} ${call.req.url} was cancelled before it was sent: the bot is stopping`);
      if (direct && this.direct.get(call.id) === call) this.settleDirect(call, undefined);
      else this.actor.send({ type: 'CALL_FAILED', id: call.id, aborted: true });
    }
    this.actor.send({ type: 'CANCEL_ALL' });
  }

  /** Resolves once nothing is queued, in flight (through the machine or direct) or waiting to be retried. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.idleWatch ??= this.actor.subscribe(() => this.checkIdle());
    });
  }

  /**
   * Another replica met a 429: no call goes out for `ms` (those due meanwhile wait, then go in
   * their order). The machine knows nothing of it: its own 429s are its own.
   */
  hold(ms: number): void {
    this.holdEnd = Math.max(this.holdEnd, Date.now() + ms);
  }

  /** When the hold of another replica's 429 ends (ms since the epoch); null when there is none. */
  get heldUntil(): number | null {
    return this.holdEnd > Date.now() ? this.holdEnd : null;
  }

  /** 429 answers seen so far. */
  get rateLimits(): number {
    return this.actor.getSnapshot().context.rateLimits;
  }

  /** Writes among the direct calls out (at most `concurrency` calls to count). */
  private directWrites(): number {
    let writes = 0;
    for (const call of this.direct.values()) if (call.ordered) writes += 1;
    return writes;
  }

  private machineIdle(): boolean {
    return this.actor.getSnapshot().value === 'idle';
  }

  private isIdle(): boolean {
    return this.direct.size === 0 && this.machineIdle();
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    this.idleWatch?.unsubscribe();
    this.idleWatch = undefined;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** The direct calls still out, handed over to the machine with the event that makes it leave idle. */
  private adoption(): { adopt?: OutboxCall[] } {
    if (this.direct.size === 0) return {};
    const adopt = [...this.direct.values()].map(outboxCall);
    this.direct.clear();
    return { adopt };
  }

  private start(): void {
    const actor = createActor(outboxMachine, {
      input: this.deps.settings,
      clock: this.deps.clock,
      ...(this.deps.inspect ? { inspect: this.deps.inspect } : {}),
    });
    actor.on('dispatch', ({ id }) => {
      const call = this.calls.get(id);
      if (call) this.exchange(call, false);
    });
    actor.on('settle', ({ id, outcome }) => this.settle(id, outcome));
    actor.subscribe({
      error: (error) => {
        // A bug: fail what was waiting and go on with a fresh machine.
        this.direct.clear();
        this.idleWatch = undefined;
        for (const [id, call] of this.calls) {
          this.calls.delete(id);
          call.reject(new SparkBotError('CANCELLED', `the REST outbox stopped on an internal error: ${(error as Error)?.message ?? String(error)}`));
        }
        this.deps.onInternalError(error);
        this.start();
        this.checkIdle();
        if (this.idleWaiters.length > 0) this.idleWatch = this.actor.subscribe(() => this.checkIdle());
      },
    });
    this.actor = actor.start();
    const { concurrency, retryCount } = this.actor.getSnapshot().context;
    this.concurrency = concurrency;
    this.retryCount = retryCount;
  }

  /** One HTTP exchange of `call`; its answer goes to the machine, or, for a direct call that needs no machine, settles it here. */
  private exchange(call: PendingCall, direct: boolean): void {
    const wait = this.holdEnd - Date.now();
    if (wait > 0) {
      const timer = this.deps.clock.setTimeout(() => {
        this.held.delete(call);
        this.exchange(call, direct);
      }, wait);
      this.held.set(call, { timer, direct });
      return;
    }
    call.attempts += 1;
    const actor = this.actor;
    this.deps.http.send(call.req).then(
      (result) => {
        call.result = result;
        if (result.status === 429 && this.deps.onRateLimit !== undefined) this.sharePause(result);
        if (direct && this.direct.get(call.id) === call && !needsMachine(call, result.status, false, this.retryCount)) return this.settleDirect(call, result.status);
        if (actor !== this.actor) return; // the machine that sent it stopped on an error (its caller was told)
        const retryAfter = parseRetryAfter(result.headers.get('retry-after'));
        this.actor.send({ type: 'CALL_RESULT', id: call.id, status: result.status, ...(retryAfter === undefined ? {} : { retryAfter }), ...this.adoptionFor(call, direct) });
      },
      (error: unknown) => {
        call.error = error;
        const aborted = call.req.signal?.aborted === true;
        if (direct && this.direct.get(call.id) === call && !needsMachine(call, undefined, aborted, this.retryCount)) return this.settleDirect(call, undefined);
        if (actor !== this.actor) return;
        this.actor.send({ type: 'CALL_FAILED', id: call.id, ...(aborted ? { aborted: true } : {}), ...this.adoptionFor(call, direct) });
      },
    );
  }

  /** The pause a 429 asks for, as the machine chooses it (Retry-After, else retryTimeout; capped), for the other replicas. */
  private sharePause(result: HttpResult): void {
    const { retryTimeout, retryAfterMax } = this.actor.getSnapshot().context;
    const given = parseRetryAfter(result.headers.get('retry-after'));
    this.deps.onRateLimit?.(Math.min(given === undefined || given < 0 ? retryTimeout : given, retryAfterMax));
  }

  /** A direct call not adopted yet brings every direct call into the machine; one adopted meanwhile is the machine's already. */
  private adoptionFor(call: PendingCall, direct: boolean): { adopt?: OutboxCall[] } {
    return direct && this.direct.get(call.id) === call ? this.adoption() : {};
  }

  private settleDirect(call: PendingCall, status: number | undefined): void {
    this.direct.delete(call.id);
    this.settle(call.id, outcomeOf(status));
    if (this.idleWaiters.length > 0) this.checkIdle();
  }

  private settle(id: number, outcome: CallOutcome): void {
    const call = this.calls.get(id);
    if (!call) return;
    this.calls.delete(id);
    const { req } = call;
    if (outcome === 'answered' && call.result) call.resolve(call.result);
    else if (outcome === 'rateLimited' && call.result) {
      const base = this.deps.http.errorFor(req, call.result, `Webex API call still rate limited after ${call.attempts} attempts`);
      call.reject(
        new RateLimitError({
          message: base.message,
          method: req.method,
          url: req.url,
          attempts: call.attempts,
          ...(base.trackingId === undefined ? {} : { trackingId: base.trackingId }),
          ...(base.retryAfter === undefined ? {} : { retryAfter: base.retryAfter }),
        }),
      );
    } else if (outcome === 'cancelled') call.reject(new SparkBotError('CANCELLED', `${req.method} ${req.url} was cancelled before it was sent: the bot is stopping`));
    else call.reject(call.error ?? new SparkBotError('API_ERROR', `${req.method} ${req.url} failed`));
  }
}

/** A call as the machine knows it. */
function outboxCall(call: PendingCall): OutboxCall {
  return { id: call.id, label: `${call.req.method} ${call.req.url}`, retries: call.retries, ordered: call.ordered };
}
