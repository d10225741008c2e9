import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { parseHydraId, type Activity, type ActivityData, type Message, type Result, type SparkBot, type SparkBotError } from '../src/index.js';
import { harness, nextEvent } from './support/helpers.js';

interface Call {
  readonly result: Result<ActivityData>;
  readonly eventType: string;
  readonly verb: string;
  readonly json: unknown;
}

async function botWithCalls(t: Parameters<typeof harness>[0], onMessage?: (bot: SparkBot, call: Call) => unknown) {
  const calls: Call[] = [];
  const h: Awaited<ReturnType<typeof harness>> = await harness(t, {
    onMessage: async (bot, result, eventType, verb, json) => {
      calls.push({ result, eventType, verb, json });
      try {
        return await onMessage?.(bot, { result, eventType, verb, json });
      } finally {
        h.changed();
      }
    },
  });
  const alice = h.emulator.createUser({ displayName: 'Alice' });
  return { ...h, calls, alice };
}

test("a post by someone else arrives as a 'message' event and an onMessage call with the REST message", async (t) => {
  const { bot, emulator, calls, alice, person, until } = await botWithCalls(t);
  await bot.start();
  const received = nextEvent(bot, 'message');
  const posted = emulator.postMessage({ from: alice, toPerson: person, text: 'hello bot' });
  const [message, activity] = (await received) as [Message, Activity];
  assert.equal(message.id, posted.id);
  assert.equal(message.text, 'hello bot');
  assert.equal(message.personId, alice.id);
  assert.equal(activity.verb, 'post');
  assert.equal(activity.actor.id, alice.uuid);
  await until(() => calls.length === 1);
  const [call] = calls;
  assert.ok(call?.result.ok);
  assert.equal((call.result.data as Message).id, posted.id);
  assert.equal(call.eventType, 'conversation.activity');
  assert.equal(call.verb, 'post');
  assert.equal((call.json as { data: { activity: { id: string } } }).data.activity.id, activity.id, 'json is the whole envelope');
});

test("the bot's own messages are skipped by person id, not by display name", async (t) => {
  const { bot, emulator, calls, person, until } = await botWithCalls(t, async (self, call) => {
    const message = call.result.ok ? (call.result.data as Message) : undefined;
    if (message) await self.api.messages.create({ roomId: message.roomId, text: `echo: ${message.text ?? ''}` });
  });
  const namesake = emulator.createUser({ displayName: person.displayName });
  await bot.start();
  emulator.postMessage({ from: namesake, toPerson: person, text: 'same name, other person' });
  await until(() => [...emulator.messages.values()].some((m) => m.text === 'echo: same name, other person'), 'the echo');
  // The echo's own activity reached the bot too (acked), and was not handled.
  await until(() => emulator.deliveries.length === 2 && emulator.acks.length === 3, 'both activities delivered and acked');
  const probe = emulator.createUser({ displayName: 'Probe' });
  emulator.postMessage({ from: probe, toPerson: person, text: 'probe' });
  await until(() => calls.length === 2, 'the probe handled');
  assert.deepEqual(
    calls.map((c) => (c.result.ok ? (c.result.data as Message).text : c.result.error)),
    ['same name, other person', 'probe'],
  );
});

test('a failed REST enrichment, after its three retries a second apart, reaches onMessage as ok: false and the error event', async (t) => {
  const { bot, emulator, calls, alice, person, errors, until, clock } = await botWithCalls(t);
  await bot.start();
  emulator.failNext('GET /v1/messages/*', { status: 500, times: 4 });
  emulator.postMessage({ from: alice, toPerson: person, text: 'lost in REST' });
  for (let retry = 1; retry <= 3; retry += 1) {
    await clock.waitForTimer(1_000);
    clock.advance(1_000);
  }
  await until(() => calls.length === 1);
  assert.equal(emulator.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/messages/')).length, 4, 'the fetch and its three retries');
  const [call] = calls;
  assert.ok(call && !call.result.ok);
  assert.match(call.result.error, /HTTP 500/);
  assert.equal(errors.at(-1)?.code, 'API_ERROR');
  assert.match(errors.at(-1)?.message ?? '', /trackingId/);
});

test("an enrichment still rate limited after retryCount is reported as RATE_LIMITED with the activity's context", async (t) => {
  const { bot, emulator, calls, alice, person, errors, until, clock } = await botWithCalls(t);
  await bot.start();
  emulator.failNext('GET /v1/messages/*', { status: 429, retryAfter: 1, times: 2 });
  const json = emulator.postMessage({ from: alice, toPerson: person, text: 'throttled' });
  await clock.waitForTimer(1_000);
  clock.advance(1_000);
  await until(() => calls.length === 1 && errors.length === 1);
  assert.equal(calls[0]?.result.ok, false);
  const [error] = errors;
  assert.equal(error?.code, 'RATE_LIMITED');
  assert.match(error?.message ?? '', /could not enrich post .*rate limited after 2 attempts/);
  assert.equal(error?.context?.verb, 'post');
  assert.equal(error?.context?.activityId, parseHydraId(String(json.id))?.uuid);
});

test('handlers that throw or reject are reported and the bot goes on', async (t) => {
  let n = 0;
  const { bot, emulator, calls, alice, person, errors, until } = await botWithCalls(t, () => {
    n += 1;
    if (n === 1) throw new Error('onMessage blew up');
    return undefined;
  });
  bot.on('message', () => {
    if (n === 0) throw new Error('listener blew up');
  });
  bot.on('message', async () => {
    if (n === 0) throw new Error('async listener blew up');
  });
  await bot.start();
  emulator.postMessage({ from: alice, toPerson: person, text: 'first' });
  emulator.postMessage({ from: alice, toPerson: person, text: 'second' });
  await until(() => calls.length === 2 && errors.length >= 3, 'both handled, three failures reported');
  const messages = errors.map((e: SparkBotError) => `${e.code}: ${e.message}`).sort();
  assert.ok(messages.some((m) => /HANDLER_ERROR: a 'message' listener threw: listener blew up/.test(m)), messages.join('\n'));
  assert.ok(messages.some((m) => /HANDLER_ERROR: a 'message' listener rejected: async listener blew up/.test(m)), messages.join('\n'));
  assert.ok(messages.some((m) => /HANDLER_ERROR: onMessage threw: onMessage blew up/.test(m)), messages.join('\n'));
  assert.equal(bot.state, 'open');
});

test("an 'error' listener that rejects is printed, not fed back to itself", async (t) => {
  const { bot, emulator, alice, person, until } = await botWithCalls(t);
  let calls = 0;
  bot.on('error', async () => {
    calls += 1;
    throw new Error('the error listener fails too');
  });
  const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
  await bot.start();
  emulator.failNext('GET /v1/messages/*', { status: 400 });
  emulator.postMessage({ from: alice, toPerson: person, text: 'x' });
  const warning = await warned;
  assert.match(warning.message, /'error' listener rejected: the error listener fails too/);
  assert.equal(calls, 1);
});

test('verbs other than post and share reach onMessage as unsupported', async (t) => {
  const { bot, emulator, calls, alice, person, until } = await botWithCalls(t);
  await bot.start();
  const activity = { id: randomUUID(), verb: 'lock', actor: { id: alice.uuid, type: 'PERSON' }, object: { objectType: 'conversation' } };
  emulator.sendEvent(person.uuid, { eventType: 'conversation.activity', activity });
  await until(() => calls.length === 1);
  assert.deepEqual(calls[0]?.result, { ok: false, error: 'Unsupported EventType: [conversation.activity] and Verb: [lock]' });
  assert.equal(calls[0]?.verb, 'lock');
});

test('event types other than conversation.activity are ignored', async (t) => {
  const { bot, emulator, calls, alice, person, until } = await botWithCalls(t);
  await bot.start();
  emulator.sendEvent(person.uuid, { eventType: 'conversation.highlight', highlight: {} });
  emulator.sendEvent(person.uuid, { eventType: 'featureToggle_update' });
  emulator.postMessage({ from: alice, toPerson: person, text: 'after the noise' });
  await until(() => calls.length === 1 && emulator.acks.length === 4);
  assert.equal(calls.length, 1);
  assert.ok(calls[0]?.result.ok && (calls[0].result.data as Message).text === 'after the noise');
});

test('unusable frames are reported as warnings and never drop the link', async (t) => {
  const { bot, emulator, calls, alice, person, warnings, states, until } = await botWithCalls(t);
  await bot.start();
  emulator.sendRaw('this is not JSON');
  emulator.sendRaw(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  emulator.sendRaw('[1,2,3]');
  emulator.sendRaw(JSON.stringify({ id: randomUUID(), data: { eventType: 'conversation.activity', activity: { verb: 'post' } } }));
  emulator.postMessage({ from: alice, toPerson: person, text: 'still here' });
  await until(() => calls.length === 1 && warnings.length === 4, 'four warnings and the message');
  assert.deepEqual(
    warnings.map((w) => w.code),
    ['INVALID_FRAME', 'INVALID_FRAME', 'INVALID_FRAME', 'INVALID_FRAME'],
  );
  assert.match(warnings[0]?.message ?? '', /not JSON/);
  assert.match(warnings[1]?.message ?? '', /binary frame of 4 bytes/);
  assert.match(warnings[2]?.message ?? '', /array/);
  assert.match(warnings[3]?.message ?? '', /without id, verb or actor/);
  assert.deepEqual(states, ['idle', 'fetchingUrl', 'connecting', 'open']);
  assert.equal(emulator.connections.length, 1);
});
