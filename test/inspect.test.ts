/**
 * The inspector sees the whole life of a bot — the connection machine and the REST outbox — and
 * never the token: what @statelyai/inspect would publish is serialised here and searched.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect as show } from 'node:util';
import type { InspectionEvent } from 'xstate';
import { harness, waitForState } from './support/helpers.js';

/** JSON as an inspector sends it: circular references and functions dropped. */
function serialise(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'function') return undefined;
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return '[circular]';
      seen.add(v);
    }
    return v;
  });
}

test('an inspector attached for a full cycle (connect, message, reconnect, 429) never sees the token', async (t) => {
  const events: InspectionEvent[] = [];
  const published: string[] = [];
  const h = await harness(t, {
    inspect: (event) => {
      events.push(event);
      // What an inspector publishes: the event, the snapshot, the actor's id.
      const { type } = event;
      published.push(serialise({ type, event: (event as { event?: unknown }).event, snapshot: (event as { snapshot?: unknown }).snapshot, actorId: (event.actorRef as { id?: string }).id }));
      published.push(show((event as { event?: unknown }).event, { depth: 6 }));
    },
  });
  const { bot, emulator, clock, person, until } = h;
  const alice = emulator.createUser({ displayName: 'Alice' });
  const texts: string[] = [];
  bot.on('message', async (message) => {
    texts.push(message.text ?? '');
    await message.reply(`echo: ${message.text ?? ''}`);
  });

  emulator.failNext('POST /wdm/api/v1/devices', { status: 429, retryAfter: 2 });
  const started = bot.start();
  await waitForState(bot, 'rateLimited');
  clock.advance(2000);
  await started;
  emulator.failNext('POST /v1/messages', { status: 429, retryAfter: 3 });
  emulator.postMessage({ from: alice, toPerson: person, text: 'hi' });
  await clock.waitForTimer(3000);
  clock.advance(3000);
  await emulator.waitFor(() => [...emulator.messages.values()].some((m) => m.text === 'echo: hi'));
  emulator.dropConnections({ code: 1011 });
  await waitForState(bot, 'backoff');
  clock.runNext();
  await waitForState(bot, 'open');
  await until(() => texts.length === 1);

  const machines = new Set(events.map((e) => (e.actorRef as { logic?: { id?: string } }).logic?.id).filter(Boolean));
  assert.ok(machines.has('connection') && machines.has('outbox'), `both machines inspected: ${[...machines].join(', ')}`);
  const transitions = events.filter((e) => e.type === '@xstate.snapshot').length;
  assert.ok(transitions > 20, `the inspector saw the cycle (${transitions} snapshots)`);
  const all = published.join('\n');
  for (const word of ['rateLimited', 'backoff', 'CALL_RESULT', 'READY']) assert.ok(all.includes(word), `saw ${word}`);
  assert.ok(!all.includes(person.token), 'the token is in no inspection event');
});
