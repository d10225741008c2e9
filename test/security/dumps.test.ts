/**
 * Object dumps: a bot handed to user code (`onMessage(bot, …)`) gets logged. Nothing reachable
 * from a SparkBot, `bot.api`, an error or an event may show the token through `console.log`,
 * `util.inspect` or `JSON.stringify` — nor through any property a debugger would walk.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { format, inspect } from 'node:util';
import type { Activity, Message, SparkBot, SparkBotError } from '../../src/index.js';
import { harness, secretPieces } from '../support/helpers.js';

/**
 * Every string reachable from `root` through properties (own, enumerable or not, symbols too),
 * array items and Map and Set entries — what a debugger or a deep dump could reach. Private
 * `#fields` and closures are out of reach, which is where the token must live.
 */
function reachableStrings(root: unknown): string[] {
  const strings: string[] = [];
  const seen = new Set<unknown>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') {
      strings.push(value);
      continue;
    }
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null || seen.has(value)) continue;
    seen.add(value);
    if (value instanceof Map) for (const [k, v] of value) stack.push(k, v);
    if (value instanceof Set) for (const v of value) stack.push(v);
    for (const key of Reflect.ownKeys(value)) {
      if (typeof key === 'string') strings.push(key);
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (descriptor && 'value' in descriptor) stack.push(descriptor.value);
    }
  }
  return strings;
}

test('console.log, util.inspect and JSON.stringify of a bot, its api, its errors and its events never show the token, and show what helps', async (t) => {
  const { bot, emulator, person, errors, until } = await harness(t);
  const { token } = person;
  const alice = emulator.createUser({ displayName: 'Alice' });
  const handed: unknown[] = [];
  bot.on('message', (message: Message, activity: Activity) => {
    handed.push(message, activity);
  });
  await bot.start();
  emulator.postMessage({ from: alice, toPerson: person, text: 'hello' });
  await until(() => handed.length === 2, 'the message');
  emulator.failNext('GET /v1/rooms/*', { status: 401, body: { message: 'expired' } });
  const failure = (await bot.api.rooms.get('Y2lzY29zcGFyazovL3VzL1JPT00vMQ').catch((e: unknown) => e)) as SparkBotError;
  assert.equal(failure.code, 'API_ERROR');

  const dumps = [
    format('%s', bot),
    format('%o', bot),
    inspect(bot, { depth: Number.POSITIVE_INFINITY, showHidden: true, getters: true }),
    JSON.stringify(bot),
    inspect(bot.api, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
    JSON.stringify(bot.api),
    inspect(failure, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
    JSON.stringify(failure),
    inspect(handed, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
    JSON.stringify(handed),
    inspect(errors, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
  ];
  for (const dump of dumps) assert.deepEqual(secretPieces(dump, token), [], `a dump shows the token:\n${dump.slice(0, 2000)}`);

  // What a dump shows instead: the state, the device and who the bot is.
  const shown = JSON.parse(JSON.stringify(bot)) as ReturnType<SparkBot['toJSON']>;
  assert.equal(shown.state, 'open');
  assert.equal(shown.deviceId, bot.health().deviceId);
  assert.equal(shown.user?.id, person.id);
  assert.match(inspect(bot, { breakLength: Number.POSITIVE_INFINITY }), /^SparkBot \{ state: 'open', deviceId: '[0-9a-f-]+', reconnects: 0, user: \{ id: '\S+', displayName: 'Test Bot' \} \}$/);
  assert.match(inspect(bot.api), /^WebexApi \{ apiUrl: 'http:\/\/127\.0\.0\.1:\d+\/v1' \}$/);

  // Nor can anything walk its way to it through the objects' properties.
  for (const [name, root] of [
    ['bot', bot],
    ['bot.api', bot.api],
    ['an error', failure],
    ['the events', handed],
  ] as const) {
    const found = reachableStrings(root).filter((text) => secretPieces(text, token).length > 0);
    assert.deepEqual(found.map((text) => text.slice(0, 80)), [], `a string reachable from ${name} holds the token`);
  }
});
