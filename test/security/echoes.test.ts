/**
 * Server echoes: a server that sends the token back — whole, or any piece of it of 16 characters
 * or more — in a close reason, a `trackingid` header, an error body or a frame. None of it may
 * reach `health()`, the machine's context and the inspector, errors, events or the debug log.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from 'node:util';
import createDebug from 'debug';
import { ApiError, type Activity } from '../../src/index.js';
import { SECRET_PIECE } from '../../src/log.js';
import { harness, secretPieces, waitForState } from '../support/helpers.js';

const deep = (value: unknown) => inspect(value, { depth: 12, showHidden: true });

test('a token echoed whole or in part (close reason, trackingid header, error body, frame) reaches neither health(), the inspector, errors, events nor the log', async (t) => {
  const published: string[] = [];
  const h = await harness(t, {
    inspect: (event) => {
      published.push(deep((event as { event?: unknown }).event), JSON.stringify((event as { snapshot?: { context?: unknown } }).snapshot?.context ?? null));
    },
  });
  const { token } = h.person;
  const piece = token.slice(7, 7 + SECRET_PIECE); // the shortest echo that counts
  const half = token.slice(0, Math.ceil(token.length / 2));

  // The debug log, in this process: every sparkbot line is collected.
  const logged: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (String(chunk).includes('sparkbot:')) {
      logged.push(String(chunk));
      return true;
    }
    return (write as (chunk: string | Uint8Array, ...rest: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  const enabled = createDebug.disable();
  createDebug.enable('sparkbot:*');
  t.after(() => {
    process.stderr.write = write;
    createDebug.enable(enabled);
  });

  const activities: Activity[] = [];
  h.bot.on('activity', (activity) => {
    activities.push(activity);
  });
  await h.bot.start();

  // 1. A close reason with a piece of the token: health().lastClose.reason and the machine's context.
  h.emulator.dropConnections({ code: 1011, reason: `internal error for ${piece}` });
  await waitForState(h.bot, 'backoff');
  assert.equal(h.bot.health().lastClose?.reason, 'internal error for [REDACTED]');
  assert.match(h.bot.health().lastError ?? '', /1011 "internal error for \[REDACTED\]"/);
  h.clock.runNext();
  await waitForState(h.bot, 'open');

  // 2. A trackingid header and an error body echoing it: the ApiError, its fields and its message.
  h.emulator.failNext('GET /v1/rooms/*', { status: 400, body: { message: `bad token ${half}` }, headers: { trackingid: `ROUTER_${token}` } });
  const error = (await h.bot.api.rooms.get('Y2lzY29zcGFyazovL3VzL1JPT00vMQ').catch((e: unknown) => e)) as ApiError;
  assert.ok(error instanceof ApiError);
  assert.equal(error.trackingId, 'ROUTER_[REDACTED]');
  assert.match(error.message, /HTTP 400 \(bad token \[REDACTED\]\) \[trackingId ROUTER_\[REDACTED\]\]/);

  // 3. A WDM error body with a partial echo: the CONNECT_FAILED warning and the machine's lastError.
  await h.bot.stop();
  h.emulator.markDeviceStale(h.emulator.devicesOf(h.person)[0]?.uuid ?? '');
  h.emulator.failNext('POST /wdm/api/v1/devices', { status: 500, body: { message: `no device for ${piece}…` } });
  const restarted = h.bot.start();
  await h.until(() => h.warnings.some((w) => w.code === 'CONNECT_FAILED'), 'the warning');
  assert.match(h.warnings.find((w) => w.code === 'CONNECT_FAILED')?.message ?? '', /no device for \[REDACTED\]/);
  h.clock.runNext();
  await restarted;

  // 4. A frame with the token in an activity: the 'activity' event and the inspector.
  h.emulator.sendEvent(h.person.uuid, {
    eventType: 'conversation.activity',
    activity: { id: 'a0000000-0000-4000-8000-000000000001', verb: 'tag', actor: { id: h.person.uuid, displayName: `Mallory ${token}` }, object: { displayName: half } },
  });
  await h.until(() => activities.length === 1, 'the activity');
  assert.equal(activities[0]?.actor.displayName, 'Mallory [REDACTED]');
  assert.equal(activities[0]?.object?.displayName, '[REDACTED]');

  const everything = [deep(h.bot.health()), deep(h.warnings), deep(h.errors), deep(error), deep(activities), ...published, logged.join('')].join('\n');
  assert.ok(published.length > 20, 'the inspector saw it all');
  assert.ok(logged.join('').includes('sparkbot:socket'), 'the debug log was collected');
  assert.ok(everything.includes('[REDACTED]'));
  assert.deepEqual(secretPieces(everything, token), [], 'no piece of the token anywhere');
});
