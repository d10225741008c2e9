/**
 * One redactor (src/log.ts) keeps the token out of what leaves the library, also when the token
 * comes back from outside: a server that echoes it in an error body, a handler of the user that
 * puts it in an error. Already covered: logs with DEBUG and the last-connection file
 * (test/secrets.test.ts), timeouts and inspection events (test/secrets.test.ts,
 * test/inspect.test.ts), the redactor itself and error causes (test/redaction.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from 'node:util';
import type { Message } from '../../src/index.js';
import { harness } from '../support/helpers.js';

const deep = (value: unknown) => inspect(value, { depth: 10, showHidden: true });

test('a WDM error body that echoes the token: the warning, health() and the inspector never show it', async (t) => {
  const published: string[] = [];
  const h = await harness(t, {
    inspect: (event) => {
      published.push(deep((event as { event?: unknown }).event), JSON.stringify((event as { snapshot?: { context?: unknown } }).snapshot?.context ?? null));
    },
  });
  const { token } = h.person;
  h.emulator.failNext('POST /wdm/api/v1/devices', { status: 400, body: { message: `Invalid device for token ${token} (Bearer ${encodeURIComponent(token)})` } });
  const started = h.bot.start();
  await h.until(() => h.warnings.length === 1, 'the warning');
  const [warning] = h.warnings;
  assert.match(warning?.message ?? '', /HTTP 400 \(Invalid device for token \[REDACTED\] \(Bearer \[REDACTED\]\)\)/);
  h.clock.runNext();
  await started;
  const everything = [deep(h.warnings), JSON.stringify(h.bot.health()), ...published].join('\n');
  assert.ok(published.length > 10);
  assert.ok(everything.includes('[REDACTED]'));
  assert.ok(!everything.includes(token), 'the token is nowhere');
});

test('a REST error body that echoes the token: the ApiError never shows it', async (t) => {
  const { bot, emulator, person } = await harness(t);
  emulator.failNext('GET /v1/people/*', { status: 401, body: { message: `token ${person.token} has expired` } });
  const error = await bot.api.people.get(person.id).catch((e: unknown) => e);
  assert.match((error as Error).message, /HTTP 401 \(token \[REDACTED\] has expired\)/);
  assert.ok(!deep(error).includes(person.token));
});

test('a handler error that carries the token is reported without it, on the error event and as a process warning', async (t) => {
  const { bot, emulator, person, errors, until } = await harness(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  bot.on('message', (message: Message) => {
    throw new Error(`could not use ${person.token} for ${message.text ?? ''}`, { cause: new Error(`Bearer ${person.token}`) });
  });
  await bot.start();
  emulator.postMessage({ from: alice, toPerson: person, text: 'one' });
  await until(() => errors.length === 1, 'the handler error');
  assert.equal(errors[0]?.code, 'HANDLER_ERROR');
  assert.match(errors[0]?.message ?? '', /a 'message' listener threw: could not use \[REDACTED\] for one/);
  assert.ok(!deep(errors).includes(person.token));

  // Without an 'error' listener it becomes a process warning: redacted too.
  bot.removeAllListeners('error');
  const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
  emulator.postMessage({ from: alice, toPerson: person, text: 'two' });
  const warning = await warned;
  assert.match(warning.message, /could not use \[REDACTED\] for two/);
  assert.ok(!deep(warning).includes(person.token));
});
