/**
 * Bad input: REST answers with a 2xx status whose body is not what the route returns — empty,
 * `null`, a string, a number, an array, an object without the fields used — on the fetches that
 * enrich an event (the activity is acked already). Each is an API_ERROR on 'error' naming the
 * route and what was wrong; the bot stays up and later events arrive.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError, type Message } from '../../src/index.js';
import { harness, type Harness } from '../support/helpers.js';

/** Bodies that are no REST object, and what the error says of each. */
type BadBody = readonly [body: string, says: RegExp];

const NOT_OBJECTS: readonly BadBody[] = [
  ['', /got an empty body/],
  ['null', /got null/],
  ['"a string"', /got a string/],
  ['42', /got the number 42/],
  ['[]', /got an array/],
  ['{}', /got an object without a non-empty string "id"/],
];

/** A bot whose every 'error' is collected, with Alice in a direct room and in a group room with it. */
async function setup(t: Parameters<typeof harness>[0]): Promise<Harness & { alice: ReturnType<Harness['emulator']['createUser']>; texts: string[]; check: (n: number) => Promise<void> }> {
  const h = await harness(t);
  const alice = h.emulator.createUser({ displayName: 'Alice' });
  const texts: string[] = [];
  h.bot.on('message', (message: Message) => {
    texts.push(message.text ?? '');
  });
  const crashes: unknown[] = [];
  const onCrash = (error: unknown) => crashes.push(error);
  process.on('unhandledRejection', onCrash);
  process.on('uncaughtException', onCrash);
  t.after(() => {
    process.off('unhandledRejection', onCrash);
    process.off('uncaughtException', onCrash);
  });
  await h.bot.start();
  /** The bot is still up, nothing crashed, and a message posted now arrives. */
  const check = async (n: number) => {
    assert.equal(h.bot.state, 'open');
    h.emulator.postMessage({ from: alice, toPerson: h.person, text: `still here ${n}` });
    await h.until(() => texts.includes(`still here ${n}`), `message ${n} after the bad answer`);
    assert.deepEqual(crashes, [], 'nothing reached the process');
  };
  return { ...h, alice, texts, check };
}

function lastError(h: Harness): ApiError {
  const error = h.errors.at(-1);
  assert.ok(error instanceof Error, 'an error was reported');
  const cause = (error as { cause?: unknown }).cause;
  const api = error instanceof ApiError ? error : cause;
  assert.ok(api instanceof ApiError, `an ApiError: ${error.message}`);
  assert.equal(error.code, 'API_ERROR');
  return api;
}

test("a message fetch answered 2xx with a body that is no message: 'error' API_ERROR naming the route, and the next message arrives", async (t) => {
  const h = await setup(t);
  const bodies: readonly BadBody[] = [...NOT_OBJECTS, ['{"id":"x"}', /without a non-empty string "roomId"/], ['{"id":"x","roomId":"r","text":5}', /with a wrong string "text" \(the number 5\)/]] as const;
  for (const [n, [body, says]] of bodies.entries()) {
    const before = h.errors.length;
    h.emulator.failNext('GET /v1/messages/*', { status: 200, body, headers: { 'content-type': 'application/json' } });
    h.emulator.postMessage({ from: h.alice, toPerson: h.person, text: `bad ${n}` });
    await h.until(() => h.errors.length === before + 1, `the error for ${JSON.stringify(body)}`);
    const error = lastError(h);
    assert.equal(h.errors.at(-1)?.context?.verb, 'post');
    assert.match(error.message, /Webex API answered GET messages\/\S+ with an unexpected body \(HTTP 200\): expected a message, /);
    assert.match(error.message, says);
    await h.check(n);
  }
  assert.ok(!h.texts.some((text) => text.startsWith('bad')), 'no message built from a bad answer');
});

test('a card action, room or membership fetch answered 2xx with the wrong body: API_ERROR naming it, and the bot goes on', async (t) => {
  const h = await setup(t);
  const bob = h.emulator.createUser({ displayName: 'Bob' });
  const group = h.emulator.createRoom({ title: 'Team', members: [h.alice, h.person] });
  const card = h.emulator.postMessage({
    from: h.alice,
    toPerson: h.person,
    text: 'a card',
    attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard', version: '1.3', body: [] } }],
  });
  await h.until(() => h.texts.length === 1);
  const cases = [
    { route: 'GET /v1/attachment/actions/*', names: /attachment\/actions\/\S+ .*expected a card action/, trigger: () => h.emulator.submitCard({ by: h.alice, messageId: card.id as string, inputs: { a: 1 } }) },
    { route: 'GET /v1/rooms/*', names: /rooms\/\S+ .*expected a room/, trigger: () => h.emulator.renameRoom(group, `renamed ${h.errors.length}`, h.alice) },
    { route: 'GET /v1/memberships', names: /GET memberships with an unexpected body \(HTTP 200\): expected a page of a list/, trigger: () => {
        if (group.members.has(bob.uuid)) h.emulator.removeMember(group, bob, h.alice);
        h.emulator.addMember(group, bob, h.alice);
      },
    },
  ];
  let n = 0;
  for (const { route, names, trigger } of cases) {
    const bodies: readonly BadBody[] = route === 'GET /v1/memberships' ? [...NOT_OBJECTS.slice(0, 5), ['{"items":"none"}', /without an "items" array/], ['{"items":[null]}', /item 0 of "items" is not a membership: it is null/]] : NOT_OBJECTS;
    for (const [body, says] of bodies) {
      const before = h.errors.length;
      h.emulator.failNext(route, { status: 200, body, headers: { 'content-type': 'application/json' } });
      trigger();
      await h.until(() => h.errors.length === before + 1, `the error of ${route} for ${JSON.stringify(body)}`);
      const error = lastError(h);
      assert.match(error.message, names);
      assert.match(error.message, says);
      await h.check(n++);
    }
  }
});

test("an empty /people/me is not taken for the bot's identity: messages are delivered once it loads", async (t) => {
  const h = await harness(t);
  const alice = h.emulator.createUser({ displayName: 'Alice' });
  const texts: string[] = [];
  h.bot.on('message', (message: Message) => {
    texts.push(message.text ?? '');
  });
  // Both loads of start() (one alongside the connection, one once it is open) get the empty answer.
  h.emulator.failNext('GET /v1/people/me', { status: 200, body: '{}', headers: { 'content-type': 'application/json' }, times: 2 });
  await h.bot.start();
  assert.equal(h.bot.currentUser, undefined, 'an empty answer is no identity');
  assert.match(h.errors[0]?.message ?? '', /GET people\/me with an unexpected body \(HTTP 200\): expected a person, got an object without a non-empty string "id"/);
  h.emulator.postMessage({ from: alice, toPerson: h.person, text: 'hello' });
  await h.until(() => texts.length === 1, 'the message');
  assert.deepEqual(texts, ['hello']);
  assert.equal((h.bot.currentUser as { id?: string } | undefined)?.id, h.person.id);
});
