/**
 * Model-based tests of the claim machine (machines/claim.ts): xstate/graph walks the machine
 * itself (claim-model.ts), and every step of every chosen path is played on a real actor of
 * `claimMachine.provide()` whose four store services (`claim`, `renew`, `finish`, `release`) are
 * deferreds the driver settles as the model's step says, with the TestClock firing the machine's
 * named delays (recheck, retry, renewEvery).
 *
 * After each step the actor must be in the model's state with the model's context (heldFor,
 * failures, lost, noticed, stopping and the settings), must have taken the model's transitions and scheduled and
 * cancelled the model's timers; exactly the service the state invokes must be waiting, asked for
 * this activity's id; and the clock must hold the model's timers, whose delays are the ones the
 * settings promise (recheck = the holder's ttl + margin, retry = retryDelay doubled per failure up
 * to retryMax, renewEvery = a third of the lease). The transitions the real actor took are counted
 * against every transition of the machine's definition.
 *
 * A unit test of a pure machine: the services are deferreds here; src/redis's tests play them
 * against a real store.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createActor, fromPromise, type Actor } from 'xstate';
import type { StatePath, TestParam } from 'xstate/graph';
import { claimMachine, DEFAULT_CLAIM_SETTINGS, type ClaimAnswer, type ClaimContext, type ClaimInput, type ClaimSettings } from '../../machines/claim.js';
import { machineTransitions, stateNodesOf } from '../../scripts/machine-graph.js';
import { TestClock } from '../support/test-clock.js';
import {
  ACTIVITY_ID,
  claimModel,
  delayOf,
  eventVariant,
  invokedBy,
  leafOf,
  MODEL_INPUT,
  MODEL_SETTINGS,
  nextTimer,
  serviceEventOf,
  timersByDue,
  type ClaimModel,
  type ClaimModelEvent,
  type ClaimSnapshot,
  type ServiceName,
} from './claim-model.js';
import { allTransitionKeys, TransitionRecorder, type ModelEffect, type ModelStep, type PlannedPath } from './model.js';

type Path = PlannedPath<typeof claimMachine>;
type Step = ModelStep<typeof claimMachine>;

/** One call of a store service by the actor: a deferred the test settles. */
interface ServiceCall {
  readonly src: ServiceName;
  readonly input: { readonly id: string };
  readonly signal: AbortSignal;
  resolve(output: unknown): void;
  reject(error: unknown): void;
  settled: boolean;
}

/** claimMachine with its four services as deferreds, recorded in `calls` as the actor invokes them. */
function controlledMachine(calls: ServiceCall[]) {
  const service = <Output>(src: ServiceName) =>
    fromPromise<Output, { readonly id: string }>(
      ({ input, signal }) =>
        new Promise<Output>((resolve, reject) => {
          const call: ServiceCall = {
            src,
            input,
            signal,
            settled: false,
            resolve: (output) => {
              call.settled = true;
              resolve(output as Output);
            },
            reject: (error) => {
              call.settled = true;
              reject(error);
            },
          };
          calls.push(call);
        }),
    );
  return claimMachine.provide({
    actors: { claim: service<ClaimAnswer>('claim'), renew: service<boolean>('renew'), finish: service<void>('finish'), release: service<void>('release') },
  });
}

/** Calls still waiting for their answer (not settled, and not cancelled by the actor leaving the state). */
const waitingCalls = (calls: readonly ServiceCall[]) => calls.filter((c) => !c.settled && !c.signal.aborted);

/** Lets the promise callbacks and the actor's resulting steps run. */
async function settle(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 50 && !done(); i += 1) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(done(), `timed out waiting for ${what}`);
}

/** Lets every pending promise callback and the actor's resulting steps run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * The timers a state must hold, from the settings as documented (not from the machine's delay
 * implementations): recheck = the holder's remaining lease (a negative or non-finite ttl, which the
 * store should not give, counts as none) + margin; retry = retryDelay · 2^(failures − 1), at most retryMax;
 * renewEvery = ⌊lease / 3⌋.
 */
function documentedTimers(snapshot: ClaimSnapshot): Array<{ delay: string; ms: number }> {
  const c = snapshot.context;
  return snapshot._nodes.flatMap((node) =>
    node.after.map((after) => {
      const delay = String(after.delay);
      switch (delay) {
        case 'recheck':
          return { delay, ms: (c.heldFor > 0 ? c.heldFor : 0) + c.margin };
        case 'retry':
          return { delay, ms: Math.min(c.retryMax, c.retryDelay * 2 ** (c.failures - 1)) };
        case 'renewEvery':
          return { delay, ms: Math.floor(c.lease / 3) };
        default:
          return assert.fail(`a delay the test does not know: ${delay}`);
      }
    }),
  );
}

/**
 * The counters follow what the context documents, step by step, independently of the machine's
 * actions (the model computes its context with those same actions, so comparing the two alone would
 * not see a wrong one):
 * - failures: store calls failed in a row: a failure counts one; an answer of the claim or the
 *   renewal resets them (except the stale `held` answer after a NOTICE, which claims again at once
 *   and keeps them); nothing else changes them, so a retry does not forget them and the retry delay
 *   grows (checked while the actor is active: a final state does not count);
 * - noticed, in `claiming`: a NOTICE came since the claim went out;
 * - stopping, in `finishing`: a RELEASE came since the done mark went out.
 */
function assertCounters(before: ClaimSnapshot, event: ClaimModelEvent, after: ClaimSnapshot): void {
  const service = serviceEventOf(event);
  const was = before.context;
  const now = after.context;
  const staleHeld = service?.kind === 'done' && service.src === 'claim' && (service.output as ClaimAnswer).result === 'held' && was.noticed;
  if (after.status === 'active') {
    let failures = was.failures;
    if (service?.kind === 'error') failures += 1;
    else if (service?.kind === 'done' && (service.src === 'claim' || service.src === 'renew') && !staleHeld) failures = 0;
    assert.equal(now.failures, failures, `failures after ${eventVariant(event)}`);
  }
  const stayed = (key: string) => leafOf(before.value) === key && leafOf(after.value) === key && service === undefined;
  if (leafOf(after.value) === 'claiming') {
    assert.equal(now.noticed, stayed('claiming') && (was.noticed || event.type === 'NOTICE'), `noticed after ${eventVariant(event)}`);
  }
  if (leafOf(after.value) === 'finishing') {
    assert.equal(now.stopping, stayed('finishing') && (was.stopping || event.type === 'RELEASE'), `stopping after ${eventVariant(event)}`);
  }
}

/** The built-in actions both sides are compared on: the machine's timers. */
const TIMER_ACTIONS = new Set(['xstate.raise', 'xstate.cancel']);
const timerActions = (effects: readonly ModelEffect[]): ModelEffect[] => effects.filter((e) => TIMER_ACTIONS.has(e.type));

/** Plays one model path on a real actor. */
class ClaimDriver {
  readonly clock = new TestClock();
  readonly calls: ServiceCall[] = [];
  readonly actor: Actor<ReturnType<typeof controlledMachine>>;
  private index = 0;

  constructor(
    private readonly model: ClaimModel,
    private readonly path: Path,
    private readonly recorder: TransitionRecorder,
  ) {
    this.actor = createActor(controlledMachine(this.calls), { input: MODEL_INPUT, clock: this.clock, inspect: recorder.inspect });
  }

  async run(): Promise<void> {
    const exec = (step: Step) => this.exec(step);
    const params = {
      events: new Proxy({}, { get: () => exec }),
      states: { '*': (state: ClaimSnapshot) => this.check(state) },
    } as unknown as TestParam<ClaimSnapshot, ClaimModelEvent>;
    try {
      await this.model.model.testPath(this.path as unknown as StatePath<ClaimSnapshot, ClaimModelEvent>, params);
    } finally {
      this.actor.stop();
    }
  }

  private exec(step: Step): void {
    this.index = this.path.steps.indexOf(step);
    assert.ok(this.index >= 0);
    if (this.index === 0) {
      this.actor.start();
      return;
    }
    const before = this.stepAt(this.index - 1).state;
    const event = step.event;
    const service = serviceEventOf(event);
    if (service) {
      const [call, ...more] = waitingCalls(this.calls);
      assert.ok(call, `a ${service.src} call waits`);
      assert.equal(more.length, 0, 'one service call waits');
      assert.equal(call.src, service.src, `the waiting call is ${service.src}`);
      if (service.kind === 'done') call.resolve(service.output);
      else call.reject(new Error(`${service.src}: the store did not answer (model)`));
      return;
    }
    if (delayOf(event) !== undefined) return this.fireTimer(event, before);
    this.actor.send(event);
  }

  /** Fires the timer due next: nothing happens a millisecond before it is due; then it fires. */
  private fireTimer(event: ClaimModelEvent, before: ClaimSnapshot): void {
    const timer = nextTimer(this.model.logic.shadow(before).timers);
    assert.ok(timer && timer.event.type === event.type, `${eventVariant(event)} is the timer due next`);
    assert.equal(this.clock.nextIn(), timer.remaining, `${eventVariant(event)} is due in ${timer.remaining} ms`);
    const taken = this.recorder.taken.length;
    this.clock.advance(timer.remaining - 1);
    assert.equal(this.recorder.taken.length, taken, `nothing happens before ${delayOf(event)} is due`);
    this.clock.advance(1);
  }

  private async check(state: ClaimSnapshot): Promise<void> {
    const step = this.stepAt(this.index);
    assert.equal(step.state, state);
    const { logic } = this.model;
    const upTo = this.path.steps.slice(0, this.index + 1);
    const taken = upTo.flatMap((s) => logic.taken(s.state));
    const effects = upTo.flatMap((s) => logic.effects(s.state));

    // The machine: the same transitions and timers, the same state and context.
    await settle(() => this.recorder.taken.length >= taken.length, 'the actor to take the step');
    assert.deepEqual(this.recorder.problems, []);
    assert.deepEqual(this.recorder.taken, taken, 'the transitions the actor took');
    assert.deepEqual(timerActions(this.recorder.actions), timerActions(effects), 'the timers the actor scheduled and cancelled');
    const real = this.actor.getSnapshot();
    assert.deepEqual(real.value, state.value, 'the state');
    assert.deepEqual(real.context, state.context, 'the context');
    const { heldFor, failures, lost, noticed, stopping } = real.context;
    const model = state.context;
    assert.deepEqual({ heldFor, failures, lost, noticed, stopping }, { heldFor: model.heldFor, failures: model.failures, lost: model.lost, noticed: model.noticed, stopping: model.stopping });
    assert.equal(real.status, state.status, 'the status (done in a final state)');
    if (this.index > 0) assertCounters(this.stepAt(this.index - 1).state, step.event, real);

    // The services: one call per state entered that invokes one, of that service, for this activity; the state's own still waits.
    const spawned = effects.filter((e) => e.type === 'xstate.spawnChild').map((e) => (e.params as { src: unknown }).src);
    assert.deepEqual(
      this.calls.map((c) => c.src),
      spawned,
      'the services invoked, in order',
    );
    assert.ok(
      this.calls.every((c) => c.input.id === ACTIVITY_ID),
      'every call is for this activity',
    );
    const invoked = invokedBy(state);
    assert.deepEqual(
      waitingCalls(this.calls).map((c) => ({ src: c.src, id: c.input.id })),
      invoked.map((i) => ({ src: i.src, id: ACTIVITY_ID })),
      'the service the state invokes waits, and nothing else',
    );

    // The clock holds the model's timers, as the settings say, and nothing else.
    const timers = timersByDue(logic.shadow(state).timers);
    assert.deepEqual(this.clock.pendingDelays(), timers.map((t) => t.delay), 'the pending timers');
    assert.equal(this.clock.nextIn(), timers[0]?.remaining, 'the next timer');
    assert.deepEqual(
      timers.map((t) => ({ delay: delayOf(t.event), ms: t.delay })),
      documentedTimers(state),
      'the timers are timed as the settings say',
    );
    if (state.status === 'done') {
      assert.equal(this.clock.pending, 0, 'no timer in a final state');
      assert.equal(invoked.length, 0);
    }
  }

  private stepAt(index: number): Step {
    const step = this.path.steps[index];
    assert.ok(step, `step ${index}`);
    return step;
  }
}

function describePath(path: Path): string {
  return path.steps
    .slice(1)
    .map((step) => `${eventVariant(step.event)} → ${leafOf(step.state.value)}`)
    .join(', ');
}

test('the claim machine, path by path, on a real actor with controlled services and clock', async (t) => {
  const all = allTransitionKeys(claimMachine);
  const states = stateNodesOf(claimMachine).map((node) => node.id);
  const model = claimModel();
  t.diagnostic(`${model.plan.states} model states, ${model.plan.edges} edges, ${model.plan.paths.length} paths, ${model.plan.goals.size} goals`);
  assert.deepEqual(
    all.filter((key) => !model.plan.covered.has(key)),
    [],
    'transitions the model does not reach',
  );
  const covered = new Set<string>();
  const visited = new Set<string>();
  for (const path of model.plan.paths) {
    await t.test(describePath(path), async () => {
      const recorder = new TransitionRecorder(claimMachine.id);
      await new ClaimDriver(model, path, recorder).run();
      for (const key of recorder.taken) covered.add(key);
      for (const id of recorder.visited) visited.add(id);
    });
  }
  const missing = all.filter((key) => !covered.has(key));
  const unvisited = states.filter((id) => !visited.has(id));
  t.diagnostic(`transitions covered: ${all.length - missing.length}/${all.length}, states covered: ${states.length - unvisited.length}/${states.length}, paths: ${model.plan.paths.length}`);
  assert.deepEqual(missing, [], 'transitions no path exercised on the real actor');
  assert.deepEqual(unvisited, [], 'states no path reached on the real actor');
});

// ------------------------------------------------------------------ plain tests

/** A started actor with controlled services and clock. */
function start(input: ClaimInput) {
  const calls: ServiceCall[] = [];
  const clock = new TestClock();
  const actor = createActor(controlledMachine(calls), { input, clock });
  actor.start();
  /** The one call waiting: must be of `src`. */
  const waiting = (src: ServiceName): ServiceCall => {
    const [call, ...more] = waitingCalls(calls);
    assert.equal(more.length, 0, 'one call waits');
    assert.equal(call?.src, src, `${src} waits`);
    return call;
  };
  const answer = async (src: ServiceName, output?: unknown): Promise<void> => {
    const before = calls.length;
    const value = actor.getSnapshot().value;
    waiting(src).resolve(output);
    await settle(() => actor.getSnapshot().value !== value || calls.length > before, `${src} answered`);
  };
  const fail = async (src: ServiceName): Promise<void> => {
    const value = actor.getSnapshot().value;
    const before = actor.getSnapshot().context.failures;
    waiting(src).reject(new Error(`${src}: the store did not answer`));
    await settle(() => actor.getSnapshot().value !== value || actor.getSnapshot().context.failures > before, `${src} failed`);
  };
  return { actor, calls, clock, waiting, answer, fail, value: () => actor.getSnapshot().value };
}

test('default settings: a 10 s lease, retries from 250 ms up to 5 s, a 25 ms margin', () => {
  assert.deepEqual(DEFAULT_CLAIM_SETTINGS, { lease: 10_000, retryDelay: 250, retryMax: 5_000, margin: 25 });
  const actor = createActor(claimMachine, { input: { id: 'a1' } });
  const context: ClaimContext = actor.getSnapshot().context;
  assert.deepEqual(context, { ...DEFAULT_CLAIM_SETTINGS, id: 'a1', heldFor: 0, failures: 0, lost: false, noticed: false, stopping: false });
  assert.equal(actor.getSnapshot().value, 'claiming');
});

test('input overrides the settings it gives; undefined keeps the default; id and counters are not settings', () => {
  const given: ClaimInput = { id: 'a2', lease: 6_000, margin: 5, retryMax: undefined } as ClaimInput;
  const context = createActor(claimMachine, { input: given }).getSnapshot().context;
  const counters = { heldFor: 0, failures: 0, lost: false, noticed: false, stopping: false };
  assert.deepEqual(context, { lease: 6_000, retryDelay: 250, retryMax: 5_000, margin: 5, id: 'a2', ...counters });
  const all: ClaimSettings = { lease: 1, retryDelay: 2, retryMax: 3, margin: 4 };
  assert.deepEqual(createActor(claimMachine, { input: { id: 'a3', ...all } }).getSnapshot().context, { ...all, id: 'a3', ...counters });
});

test('without provided services a claim fails as a store failure would: the activity waits offline', async () => {
  const actor = createActor(claimMachine, { input: { id: 'a4' }, clock: new TestClock() });
  actor.start();
  try {
    await settle(() => actor.getSnapshot().value === 'offline', 'offline');
    assert.equal(actor.getSnapshot().context.failures, 1);
  } finally {
    actor.stop();
  }
});

test('the retry delay doubles per failure in a row and stops at retryMax; a claim resets it', async () => {
  const { actor, clock, fail, answer } = start({ id: 'r1' });
  const delays: number[] = [];
  for (let i = 0; i < 7; i += 1) {
    await fail('claim');
    assert.equal(actor.getSnapshot().value, 'offline');
    assert.equal(actor.getSnapshot().context.failures, i + 1);
    delays.push(...clock.pendingDelays());
    clock.runNext();
    assert.equal(actor.getSnapshot().value, 'claiming');
  }
  assert.deepEqual(delays, [250, 500, 1_000, 2_000, 4_000, 5_000, 5_000]);
  await answer('claim', { result: 'claimed' });
  assert.deepEqual(actor.getSnapshot().value, { running: 'holding' });
  assert.equal(actor.getSnapshot().context.failures, 0);
  assert.deepEqual(clock.pendingDelays(), [Math.floor(DEFAULT_CLAIM_SETTINGS.lease / 3)]);
  // Finishing counts its own failures from there (and a failed renewal before it).
  actor.send({ type: 'HANDLED' });
  await fail('finish');
  assert.equal(actor.getSnapshot().value, 'retryingFinish');
  assert.deepEqual(clock.pendingDelays(), [250]);
  clock.runNext();
  await fail('finish');
  assert.deepEqual(clock.pendingDelays(), [500]);
  actor.stop();
});

test('NOTICE in waiting or offline claims again at once, dropping the timer', async () => {
  const waiting = start({ id: 'n1' });
  await waiting.answer('claim', { result: 'held', ttl: 8_000 });
  assert.equal(waiting.value(), 'waiting');
  assert.deepEqual(waiting.clock.pendingDelays(), [8_000 + DEFAULT_CLAIM_SETTINGS.margin]);
  waiting.actor.send({ type: 'NOTICE' });
  assert.equal(waiting.value(), 'claiming');
  assert.equal(waiting.clock.pending, 0);
  assert.equal(waiting.waiting('claim').input.id, 'n1');
  assert.equal(waiting.calls.length, 2);
  await waiting.answer('claim', { result: 'done' });
  assert.equal(waiting.value(), 'skipped');
  assert.equal(waiting.actor.getSnapshot().status, 'done');

  const offline = start({ id: 'n2' });
  await offline.fail('claim');
  assert.equal(offline.value(), 'offline');
  assert.deepEqual(offline.clock.pendingDelays(), [DEFAULT_CLAIM_SETTINGS.retryDelay]);
  offline.actor.send({ type: 'NOTICE' });
  assert.equal(offline.value(), 'claiming');
  assert.equal(offline.clock.pending, 0);
  assert.equal(offline.waiting('claim').input.id, 'n2');
  // The failures in a row still count: the next failure waits twice as long.
  await offline.fail('claim');
  assert.deepEqual(offline.clock.pendingDelays(), [2 * DEFAULT_CLAIM_SETTINGS.retryDelay]);
  offline.actor.stop();
});

type Where = 'claiming' | 'waiting' | 'offline' | 'holding' | 'renewing' | 'finishing' | 'retryingFinish' | 'releasing';

/** A fresh actor (activity `<prefix>-<where>`) brought to `where`. */
async function bringTo(where: Where, prefix: string) {
  const s = start({ id: `${prefix}-${where}` });
  if (where === 'waiting') await s.answer('claim', { result: 'held', ttl: 1_000 });
  if (where === 'offline') await s.fail('claim');
  if (where === 'holding' || where === 'renewing' || where === 'finishing' || where === 'retryingFinish' || where === 'releasing') await s.answer('claim', { result: 'claimed' });
  if (where === 'renewing') s.clock.runNext();
  if (where === 'finishing' || where === 'retryingFinish') s.actor.send({ type: 'HANDLED' });
  if (where === 'retryingFinish') await s.fail('finish');
  if (where === 'releasing') s.actor.send({ type: 'RELEASE' });
  assert.equal(leafOf(s.value()), where);
  return s;
}

/** Brings a fresh actor to `where` and sends RELEASE; returns the driver. */
async function releaseIn(where: Exclude<Where, 'releasing'>) {
  const s = await bringTo(where, 'rel');
  s.actor.send({ type: 'RELEASE' });
  return s;
}

test('NOTICE while the claim is out: a `held` answer is stale, so the claim is asked again at once; other answers stand', async () => {
  const s = start({ id: 'nc1' });
  s.actor.send({ type: 'NOTICE' });
  s.actor.send({ type: 'NOTICE' });
  assert.equal(s.value(), 'claiming');
  assert.equal(s.actor.getSnapshot().context.noticed, true);
  assert.equal(s.calls.length, 1, 'the claim out is not asked again yet');
  assert.equal(s.clock.pending, 0);
  await s.answer('claim', { result: 'held', ttl: 8_000 });
  assert.equal(s.value(), 'claiming', 'claimed again at once, not waiting');
  assert.equal(s.calls.length, 2);
  assert.ok(s.calls[0]?.settled);
  assert.equal(s.waiting('claim').input.id, 'nc1');
  assert.equal(s.clock.pending, 0, 'no recheck timer');
  assert.deepEqual(
    { noticed: s.actor.getSnapshot().context.noticed, heldFor: s.actor.getSnapshot().context.heldFor },
    { noticed: false, heldFor: 0 },
    'the notice is forgotten; the stale holder is not noted',
  );
  // Without a notice since, a `held` answer waits for the holder's lease.
  await s.answer('claim', { result: 'held', ttl: 8_000 });
  assert.equal(s.value(), 'waiting');
  assert.deepEqual(s.clock.pendingDelays(), [8_000 + DEFAULT_CLAIM_SETTINGS.margin]);
  s.actor.stop();

  // The other answers are not stale: they stand.
  const claimed = start({ id: 'nc2' });
  claimed.actor.send({ type: 'NOTICE' });
  await claimed.answer('claim', { result: 'claimed' });
  assert.deepEqual(claimed.value(), { running: 'holding' });
  assert.equal(claimed.calls.length, 1);
  assert.deepEqual(claimed.clock.pendingDelays(), [Math.floor(DEFAULT_CLAIM_SETTINGS.lease / 3)]);
  claimed.actor.stop();

  const done = start({ id: 'nc3' });
  done.actor.send({ type: 'NOTICE' });
  await done.answer('claim', { result: 'done' });
  assert.equal(done.value(), 'skipped');
  assert.equal(done.calls.length, 1);

  const failed = start({ id: 'nc4' });
  failed.actor.send({ type: 'NOTICE' });
  await failed.fail('claim');
  assert.equal(failed.value(), 'offline');
  assert.equal(failed.actor.getSnapshot().context.failures, 1);
  assert.deepEqual(failed.clock.pendingDelays(), [DEFAULT_CLAIM_SETTINGS.retryDelay]);
  failed.clock.runNext();
  assert.equal(failed.value(), 'claiming');
  assert.deepEqual(
    { noticed: failed.actor.getSnapshot().context.noticed, failures: failed.actor.getSnapshot().context.failures },
    { noticed: false, failures: 1 },
    'a new claim forgets the notice, not the failures in a row',
  );
  // The stale `held` re-entry takes no action: the failures in a row are kept, and the next failure waits twice as long.
  failed.actor.send({ type: 'NOTICE' });
  await failed.answer('claim', { result: 'held', ttl: 8_000 });
  assert.equal(failed.value(), 'claiming');
  assert.equal(failed.actor.getSnapshot().context.failures, 1);
  await failed.fail('claim');
  assert.deepEqual(failed.clock.pendingDelays(), [2 * DEFAULT_CLAIM_SETTINGS.retryDelay]);
  failed.actor.stop();
});

test('DONE: another replica handled it: claiming, waiting and offline skip it at once; the other states ignore it', async () => {
  for (const where of ['claiming', 'waiting', 'offline'] as const) {
    const s = await bringTo(where, 'done');
    s.actor.send({ type: 'DONE' });
    assert.equal(s.value(), 'skipped', where);
    assert.equal(s.actor.getSnapshot().status, 'done');
    assert.equal(s.clock.pending, 0, 'the timer is dropped');
    assert.equal(waitingCalls(s.calls).length, 0, 'the claim out is cancelled');
    assert.equal(s.calls.length, 1, 'nothing more is asked of the store');
    if (where === 'claiming') assert.ok(s.calls[0]?.signal.aborted);
  }
  for (const where of ['holding', 'renewing', 'finishing', 'retryingFinish', 'releasing'] as const) {
    const s = await bringTo(where, 'done');
    const before = s.actor.getSnapshot();
    assert.equal(before.can({ type: 'DONE' }), false, where);
    const calls = s.calls.length;
    const pending = s.clock.pendingDelays();
    s.actor.send({ type: 'DONE' });
    assert.deepEqual(s.value(), before.value, `${where}: DONE changes nothing`);
    assert.deepEqual(s.actor.getSnapshot().context, before.context);
    assert.equal(s.calls.length, calls);
    assert.deepEqual(s.clock.pendingDelays(), pending);
    s.actor.stop();
  }
});

test('the store services run under invoke ids of their own: claim, renew, finish, release', () => {
  assert.deepEqual(
    stateNodesOf(claimMachine).flatMap((node) => node.invoke.map((invoke) => ({ state: node.key, id: invoke.id, src: String(invoke.src) }))),
    [
      { state: 'claiming', id: 'claim', src: 'claim' },
      { state: 'renewing', id: 'renew', src: 'renew' },
      { state: 'finishing', id: 'finish', src: 'finish' },
      { state: 'releasing', id: 'release', src: 'release' },
    ],
  );
  const events = new Set(machineTransitions(claimMachine).map((t) => t.eventType));
  for (const id of ['claim', 'renew', 'finish', 'release']) {
    assert.ok(events.has(`xstate.done.actor.${id}`), `xstate.done.actor.${id}`);
    assert.ok(events.has(`xstate.error.actor.${id}`), `xstate.error.actor.${id}`);
  }
});

test('RELEASE: a claim asked or held is given back; waiting and offline are abandoned', async () => {
  // claiming: the claim may have been taken already, so it is given back; a late answer of the claim changes nothing.
  for (const releaseAnswers of [true, false]) {
    const s = await releaseIn('claiming');
    assert.equal(s.value(), 'releasing');
    const [claim, release] = s.calls;
    assert.ok(claim?.signal.aborted, 'the claim is cancelled');
    claim.resolve({ result: 'claimed' });
    assert.equal(release?.src, 'release');
    assert.equal(release.input.id, 'rel-claiming');
    await flush();
    assert.equal(s.value(), 'releasing');
    if (releaseAnswers) await s.answer('release');
    else await s.fail('release');
    assert.equal(s.value(), 'released', 'released whether the store answered the release or not');
    assert.equal(s.actor.getSnapshot().status, 'done');
  }
  // waiting, offline: nothing held here; the timer is dropped.
  for (const where of ['waiting', 'offline'] as const) {
    const s = await releaseIn(where);
    assert.equal(s.value(), 'abandoned', where);
    assert.equal(s.clock.pending, 0);
    assert.equal(waitingCalls(s.calls).length, 0);
    assert.equal(s.calls.length, 1, 'no release: nothing is held');
  }
  // running (holding, or renewing): the claim is given back; a renewal in flight is cancelled.
  for (const where of ['holding', 'renewing'] as const) {
    const s = await releaseIn(where);
    assert.equal(s.value(), 'releasing', where);
    assert.equal(s.clock.pending, 0);
    assert.equal(s.waiting('release').input.id, `rel-${where}`);
    if (where === 'renewing') assert.ok(s.calls.find((c) => c.src === 'renew')?.signal.aborted, 'the renewal is cancelled');
    await s.answer('release');
    assert.equal(s.value(), 'released');
  }
  // retryingFinish: stopping, one last try was all there is: abandoned (the lease runs out).
  {
    const s = await releaseIn('retryingFinish');
    assert.equal(s.value(), 'abandoned');
    assert.equal(s.clock.pending, 0);
    assert.equal(waitingCalls(s.calls).length, 0, 'no release');
  }
  // finishing: the done mark in flight goes on (noting the stop): answered, the activity is done;
  // failed, there is no retry (stopping): abandoned, the lease runs out.
  for (const finishAnswers of [true, false]) {
    const s = await releaseIn('finishing');
    assert.equal(s.value(), 'finishing');
    assert.equal(s.actor.getSnapshot().context.stopping, true);
    s.actor.send({ type: 'RELEASE' });
    assert.equal(s.value(), 'finishing');
    assert.equal(s.calls.length, 2, 'no release: the finish goes on');
    assert.equal(s.waiting('finish').input.id, 'rel-finishing');
    if (finishAnswers) {
      await s.answer('finish');
      assert.equal(s.value(), 'done');
    } else {
      const failures = s.actor.getSnapshot().context.failures;
      await s.fail('finish');
      assert.equal(s.value(), 'abandoned', 'no retry once stopping');
      assert.equal(s.actor.getSnapshot().context.failures, failures, 'not counted: nothing is retried');
      assert.equal(s.clock.pending, 0);
    }
    assert.equal(s.actor.getSnapshot().status, 'done');
    assert.equal(waitingCalls(s.calls).length, 0);
  }
});
