/**
 * The I/O half of the REST outbox: the machine (machines/outbox.ts) decides when a call is sent
 * and whether it is finished; this class performs the HTTP exchange and settles the caller's
 * promise. Every REST call of a bot goes through one Outbox.
 */
import { createActor, type Actor } from 'xstate';
import { outboxMachine, type OutboxSettings } from '../../machines/outbox.js';
import type { Clock } from '../clock.js';
import { RateLimitError, SparkBotError } from '../errors.js';
import type { Http, HttpRequest, HttpResult } from '../http.js';
import type { Log } from '../log.js';
import type { SparkBotOptions } from '../options.js';
import { parseRetryAfter } from '../protocol/retry-after.js';

interface PendingCall {
  readonly req: HttpRequest;
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
  /** Reports a bug in the machine (it is replaced by a fresh one). */
  readonly onInternalError: (error: unknown) => void;
}

export class Outbox {
  private actor!: Actor<typeof outboxMachine>;
  private readonly calls = new Map<number, PendingCall>();
  private nextId = 1;

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
    return new Promise<HttpResult>((resolve, reject) => {
      this.calls.set(id, { req, resolve, reject, attempts: 0 });
      this.actor.send({ type: 'SEND', call: { id, label: `${req.method} ${req.url}`, retries, ordered: req.method !== 'GET' } });
    });
  }

  /** Rejects every call that has not been sent yet with CANCELLED; calls in flight finish. */
  cancelWaiting(): void {
    this.actor.send({ type: 'CANCEL_ALL' });
  }

  /** Resolves once nothing is queued, in flight or waiting to be retried. */
  idle(): Promise<void> {
    if (this.actor.getSnapshot().matches('idle')) return Promise.resolve();
    return new Promise((resolve) => {
      const subscription = this.actor.subscribe((snapshot) => {
        if (!snapshot.matches('idle')) return;
        subscription.unsubscribe();
        resolve();
      });
    });
  }

  /** 429 answers seen so far. */
  get rateLimits(): number {
    return this.actor.getSnapshot().context.rateLimits;
  }

  private start(): void {
    const actor = createActor(outboxMachine, {
      input: this.deps.settings,
      clock: this.deps.clock,
      ...(this.deps.inspect ? { inspect: this.deps.inspect } : {}),
    });
    actor.on('dispatch', ({ id }) => this.dispatch(id));
    actor.on('settle', ({ id, outcome }) => this.settle(id, outcome));
    actor.subscribe({
      error: (error) => {
        // A bug: fail what was waiting and go on with a fresh machine.
        for (const [id, call] of this.calls) {
          this.calls.delete(id);
          call.reject(new SparkBotError('CANCELLED', `the REST outbox stopped on an internal error: ${(error as Error)?.message ?? String(error)}`));
        }
        this.deps.onInternalError(error);
        this.start();
      },
    });
    this.actor = actor.start();
  }

  private dispatch(id: number): void {
    const call = this.calls.get(id);
    if (!call) return;
    call.attempts += 1;
    this.deps.http.send(call.req).then(
      (result) => {
        call.result = result;
        const retryAfter = parseRetryAfter(result.headers.get('retry-after'));
        this.actor.send({ type: 'CALL_RESULT', id, status: result.status, ...(retryAfter === undefined ? {} : { retryAfter }) });
      },
      (error: unknown) => {
        call.error = error;
        this.actor.send({ type: 'CALL_FAILED', id, ...(call.req.signal?.aborted ? { aborted: true } : {}) });
      },
    );
  }

  private settle(id: number, outcome: 'answered' | 'rateLimited' | 'failed' | 'cancelled'): void {
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
