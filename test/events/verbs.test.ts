/**
 * Every verb of webex-protocol.md §4.2 reaches onMessage with its REST result, and the typed event
 * that goes with it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import type { ActivityData, AttachmentAction, Membership, MembershipEvent, Message, MessageDeletedEvent, Result, Room, RoomEvent } from '../../src/index.js';
import { harness } from '../support/helpers.js';

interface Call {
  readonly verb: string;
  readonly eventType: string;
  readonly result: Result<ActivityData>;
}

async function setup(t: TestContext) {
  const calls: Call[] = [];
  const typed: Array<{ name: string; payload: unknown }> = [];
  const h: Awaited<ReturnType<typeof harness>> = await harness(t, {
    onMessage: (_bot, result, eventType, verb) => {
      calls.push({ verb, eventType, result });
      h.changed();
    },
  });
  for (const name of ['message', 'cardAction', 'membership', 'room', 'messageDeleted'] as const) {
    h.bot.on(name, (payload: unknown) => {
      typed.push({ name, payload });
      h.changed();
    });
  }
  const alice = h.emulator.createUser({ displayName: 'Alice Example' });
  const bob = h.emulator.createUser({ displayName: 'Bob Example' });
  await h.bot.start();
  const room = h.emulator.createRoom({ title: 'Project', members: [alice, h.person, bob] });
  await h.until(() => calls.some((c) => c.verb === 'create'), 'the create activity');
  /** The onMessage call of the next activity with this verb. */
  const next = async (verb: string, from = calls.length): Promise<Call> => {
    await h.until(() => calls.slice(from).some((c) => c.verb === verb), `onMessage for ${verb}`);
    return calls.slice(from).find((c) => c.verb === verb) as Call;
  };
  return { ...h, calls, typed, alice, bob, room, next };
}

const data = <T>(call: Call): T => {
  assert.ok(call.result.ok, call.result.ok ? '' : call.result.error);
  return call.result.data as T;
};

test('create → the memberships of the new room, and a room created event', async (t) => {
  const { calls, typed, room, alice, person } = await setup(t);
  const call = calls.find((c) => c.verb === 'create') as Call;
  const memberships = data<Membership[]>(call);
  assert.deepEqual(memberships.map((m) => m.roomId), [room.id, room.id, room.id]);
  assert.ok(memberships.some((m) => m.personId === person.id));
  const event = typed.find((e) => e.name === 'room')?.payload as RoomEvent;
  assert.equal(event.action, 'created');
  assert.equal(event.room.id, room.id);
  assert.equal(event.actorId, alice.id);
});

test('post → the message', async (t) => {
  const { emulator, alice, room, next, typed, person } = await setup(t);
  const from = typed.length;
  const posted = emulator.postMessage({ from: alice, room, mentions: [person], text: 'hello' });
  const message = data<Message>(await next('post'));
  assert.equal(message.id, posted.id);
  assert.equal(message.text, 'hello');
  assert.equal((typed.slice(from).find((e) => e.name === 'message')?.payload as Message).id, posted.id);
});

test('share of a file already scanned → the message at once', async (t) => {
  const { emulator, alice, room, next, person } = await setup(t);
  const shared = emulator.shareFile({ from: alice, room, mentions: [person], text: 'the report', files: ['report.pdf'] });
  const message = data<Message>(await next('share'));
  assert.equal(message.id, shared.id);
  assert.equal(message.files?.length, 1);
});

test('share followed by update: the message is delivered once, when the scan says the file is safe', async (t) => {
  const { emulator, alice, room, next, calls, typed, until, person } = await setup(t);
  const from = calls.length;
  const typedFrom = typed.length;
  const shared = emulator.shareFile({ from: alice, room, mentions: [person], text: 'scan me', files: ['big.zip'], scan: 'pending' });
  const probe = emulator.postMessage({ from: alice, room, mentions: [person], text: 'after the share' });
  await next('post', from);
  assert.ok(!calls.slice(from).some((c) => c.verb === 'share'), 'nothing delivered while the scan runs');
  emulator.finishScan(shared.id as string, 'safe');
  const message = data<Message>(await next('share', from));
  assert.equal(message.id, shared.id);
  emulator.finishScan(shared.id as string, 'safe'); // a second update changes nothing
  emulator.postMessage({ from: alice, room, mentions: [person], text: 'last' });
  await until(() => calls.slice(from).filter((c) => c.verb === 'post').length === 2);
  assert.equal(calls.slice(from).filter((c) => c.verb === 'share').length, 1);
  assert.deepEqual(
    typed.slice(typedFrom).filter((e) => e.name === 'message').map((e) => (e.payload as Message).id),
    [probe.id, shared.id, calls.slice(from).filter((c) => c.verb === 'post').map((c) => (c.result.ok ? (c.result.data as Message).id : ''))[1]],
  );
});

test('a shared file that fails the scan is never delivered, and a warning says so', async (t) => {
  const { emulator, alice, room, calls, warnings, until, person } = await setup(t);
  const from = calls.length;
  const shared = emulator.shareFile({ from: alice, room, mentions: [person], files: ['virus.exe'], scan: 'pending' });
  emulator.finishScan(shared.id as string, 'infected');
  await until(() => warnings.some((w) => w.code === 'UNSAFE_FILE'), 'the warning');
  assert.equal(warnings.find((w) => w.code === 'UNSAFE_FILE')?.context?.verb, 'update');
  assert.ok(!calls.slice(from).some((c) => c.verb === 'share'));
});

test('update of the room (renamed), lock and unlock → the room, and room updated events', async (t) => {
  const { emulator, alice, room, next, typed, person } = await setup(t);
  const from = typed.length;
  emulator.renameRoom(room, 'Renamed', alice);
  assert.equal(data<Room>(await next('update')).title, 'Renamed');
  emulator.setLocked(room, true, alice);
  assert.equal(data<Room>(await next('lock')).isLocked, true);
  emulator.setLocked(room, false, alice);
  assert.equal(data<Room>(await next('unlock')).isLocked, false);
  const events = typed.slice(from).filter((e) => e.name === 'room').map((e) => e.payload as RoomEvent);
  assert.deepEqual(events.map((e) => [e.action, e.room.title, e.room.isLocked]), [
    ['updated', 'Renamed', false],
    ['updated', 'Renamed', true],
    ['updated', 'Renamed', false],
  ]);
});

test('add (person) → the memberships of that person in the room, and membership created', async (t) => {
  const { emulator, alice, room, next, typed, person } = await setup(t);
  const carol = emulator.createUser({ displayName: 'Carol Example' });
  const from = typed.length;
  emulator.addMember(room, carol, alice);
  const memberships = data<Membership[]>(await next('add'));
  assert.deepEqual(memberships.map((m) => [m.personEmail, m.roomId]), [[carol.email, room.id]]);
  const event = typed.slice(from).find((e) => e.name === 'membership')?.payload as MembershipEvent;
  assert.equal(event.action, 'created');
  assert.equal((event.membership as Membership).personId, carol.id);
  assert.equal(event.actorId, alice.id);
});

test('leave → membership deleted', async (t) => {
  const { emulator, bob, room, next, typed } = await setup(t);
  const from = typed.length;
  emulator.removeMember(room, bob);
  const ref = data<{ personId: string; roomId: string }>(await next('leave'));
  assert.equal(ref.personId, bob.id);
  assert.equal(ref.roomId, room.id);
  assert.equal((typed.slice(from).find((e) => e.name === 'membership')?.payload as MembershipEvent).action, 'deleted');
});

test('assignModerator and unassignModerator → the membership, and membership updated', async (t) => {
  const { emulator, alice, bob, room, next, typed, person } = await setup(t);
  const from = typed.length;
  emulator.setModerator(room, bob, true, alice);
  assert.equal(data<Membership>(await next('assignModerator')).isModerator, true);
  emulator.setModerator(room, bob, false, alice);
  assert.equal(data<Membership>(await next('unassignModerator')).isModerator, false);
  const events = typed.slice(from).filter((e) => e.name === 'membership').map((e) => (e.payload as MembershipEvent).action);
  assert.deepEqual(events, ['updated', 'updated']);
});

test('hide → the membership, and membership updated', async (t) => {
  const { emulator, bob, room, next, person } = await setup(t);
  emulator.sendEvent(person.uuid, {
    eventType: 'conversation.activity',
    activity: { id: randomUUID(), verb: 'hide', actor: { id: bob.uuid, type: 'PERSON' }, object: { id: bob.uuid, objectType: 'person' }, target: { id: room.uuid, objectType: 'conversation' } },
  });
  assert.equal(data<Membership>(await next('hide')).personId, bob.id);
});

test('acknowledge → membership seen with the last message read', async (t) => {
  const { emulator, alice, bob, room, next, typed, person } = await setup(t);
  const posted = emulator.postMessage({ from: alice, room, mentions: [person], text: 'read me' });
  await next('post');
  const from = typed.length;
  emulator.acknowledge(posted.id as string, bob);
  const ref = data<{ lastSeenId: string; personId: string }>(await next('acknowledge'));
  assert.equal(ref.lastSeenId, posted.id);
  assert.equal(ref.personId, bob.id);
  assert.equal((typed.slice(from).find((e) => e.name === 'membership')?.payload as MembershipEvent).action, 'seen');
});

test('delete → messageDeleted', async (t) => {
  const { emulator, alice, room, next, typed, person } = await setup(t);
  const posted = emulator.postMessage({ from: alice, room, mentions: [person], text: 'oops' });
  await next('post');
  const from = typed.length;
  emulator.deleteMessage(posted.id as string, alice);
  const deleted = data<MessageDeletedEvent>(await next('delete'));
  assert.deepEqual(deleted, { id: posted.id, roomId: room.id, actorId: alice.id });
  assert.deepEqual(typed.slice(from).find((e) => e.name === 'messageDeleted')?.payload, deleted);
});

test('cardAction → the attachment action, and a cardAction event', async (t) => {
  const { emulator, alice, room, next, typed, bot, person } = await setup(t);
  const card = await bot.api.messages.create({
    roomId: room.id,
    text: 'a card',
    attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard', version: '1.2', body: [] } }],
  });
  const from = typed.length;
  const submitted = emulator.submitCard({ by: alice, messageId: card.id, inputs: { answer: '42' } });
  const action = data<AttachmentAction>(await next('cardAction'));
  assert.equal(action.id, submitted.id);
  assert.deepEqual(action.inputs, { answer: '42' });
  assert.equal(action.messageId, card.id);
  assert.equal((typed.slice(from).find((e) => e.name === 'cardAction')?.payload as AttachmentAction).id, submitted.id);
});

test('any other verb → onMessage with the seed\'s "Unsupported" result and no typed event', async (t) => {
  const { emulator, alice, room, next, typed, person } = await setup(t);
  const from = typed.length;
  emulator.sendEvent(person.uuid, {
    eventType: 'conversation.activity',
    activity: { id: randomUUID(), verb: 'tag', actor: { id: alice.uuid, type: 'PERSON' }, object: { objectType: 'conversation' }, target: { id: room.uuid } },
  });
  const call = await next('tag');
  assert.deepEqual(call.result, { ok: false, error: 'Unsupported EventType: [conversation.activity] and Verb: [tag]' });
  assert.equal(typed.length, from);
});
