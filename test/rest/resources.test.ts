import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLinkHeader, restoreDroppedParams } from '../../src/rest/paging.js';
import { harness } from '../support/helpers.js';

test('a list follows Link rel="next" across three pages and puts back a query parameter the next link dropped', async (t) => {
  const { bot, emulator, person } = await harness(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  const room = emulator.createRoom({ title: 'busy', members: [alice, person] });
  for (let i = 0; i < 10; i += 1) {
    emulator.postMessage({ from: alice, room, text: `message ${i}`, ...(i % 3 === 0 ? {} : { mentions: [person] }) });
  }
  emulator.dropQueryParamInNextLinks('mentionedPeople');
  const messages = await bot.api.messages.list({ roomId: room.id, mentionedPeople: 'me', max: 2 }).all();
  const pages = emulator.requests.filter((r) => r.method === 'GET' && r.path === '/v1/messages');
  assert.equal(pages.length, 3, 'three pages of at most 2 (6 messages mention the bot)');
  assert.ok(pages.every((p) => p.status === 200), 'a bot listing a group room without mentionedPeople=me would get 403');
  assert.equal(messages.length, 6);
  assert.ok(messages.every((m) => m.mentionedPeople?.includes(person.id)));
});

test('lists can be iterated lazily with for await', async (t) => {
  const { bot, emulator, person } = await harness(t);
  const alice = emulator.createUser({ displayName: 'Alice' });
  for (let i = 0; i < 5; i += 1) emulator.createRoom({ title: `room ${i}`, members: [alice, person] });
  const titles: string[] = [];
  for await (const room of bot.api.rooms.list({ max: 2 })) {
    titles.push(room.title);
    if (titles.length === 3) break;
  }
  assert.deepEqual(titles, ['room 0', 'room 1', 'room 2']);
  assert.equal(emulator.requests.filter((r) => r.path === '/v1/rooms').length, 2, 'the third page was never fetched');
});

test('Link headers with several relations parse; restoreDroppedParams keeps what the link has', () => {
  const links = parseLinkHeader('<https://x/v1/messages?max=2&cursor=2>; rel="next", <https://x/v1/messages?max=2>; rel="first"');
  assert.equal(links.get('next'), 'https://x/v1/messages?max=2&cursor=2');
  assert.equal(links.get('first'), 'https://x/v1/messages?max=2');
  assert.equal(parseLinkHeader(null).size, 0);
  const restored = new URL(restoreDroppedParams('https://x/v1/messages?max=2&cursor=2', new URLSearchParams('roomId=r&mentionedPeople=me&max=5')));
  assert.equal(restored.searchParams.get('mentionedPeople'), 'me');
  assert.equal(restored.searchParams.get('roomId'), 'r');
  assert.equal(restored.searchParams.get('max'), '2', 'parameters of the link win');
});

test('people, rooms, memberships, teams, team memberships, webhooks and attachment actions', async (t) => {
  const { bot, emulator, person } = await harness(t);
  const alice = emulator.createUser({ displayName: 'Alice Wonder' });
  const { api } = bot;

  assert.equal((await api.people.me()).id, person.id);
  assert.equal((await api.people.get(alice.id)).displayName, 'Alice Wonder');
  assert.deepEqual((await api.people.list({ email: alice.email }).all()).map((p) => p.id), [alice.id]);

  const room = await api.rooms.create({ title: 'Made by the bot' });
  assert.equal((await api.rooms.get(room.id)).title, 'Made by the bot');
  assert.equal((await api.rooms.update(room.id, { title: 'Renamed' })).title, 'Renamed');
  const membership = await api.memberships.create({ roomId: room.id, personEmail: alice.email });
  assert.equal(membership.personId, alice.id);
  assert.equal((await api.memberships.update(membership.id, { isModerator: true })).isModerator, true);
  assert.equal((await api.memberships.get(membership.id)).isModerator, true);
  assert.equal((await api.memberships.list({ roomId: room.id }).all()).length, 2);
  await api.memberships.delete(membership.id);
  assert.equal((await api.memberships.list({ roomId: room.id }).all()).length, 1);

  const card = await api.messages.create({
    roomId: room.id,
    markdown: '**card**',
    attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard', version: '1.2', body: [] } }],
  });
  const action = await api.attachmentActions.create({ type: 'submit', messageId: card.id, inputs: { ok: true } });
  assert.deepEqual((await api.attachmentActions.get(action.id)).inputs, { ok: true });
  const reply = await api.messages.create({ roomId: room.id, text: 'in the thread', parentId: card.id });
  assert.equal(reply.parentId, card.id);
  assert.equal((await api.messages.update(reply.id, { roomId: room.id, text: 'edited' })).text, 'edited');
  await api.messages.delete(reply.id);
  await assert.rejects(api.messages.get(reply.id), { status: 404 });

  const team = await api.teams.create({ name: 'Team' });
  assert.equal((await api.teams.update(team.id, { name: 'Team 2' })).name, 'Team 2');
  const teamMembership = await api.teamMemberships.create({ teamId: team.id, personId: alice.id });
  assert.equal((await api.teamMemberships.list({ teamId: team.id }).all()).length, 2);
  await api.teamMemberships.delete(teamMembership.id);
  await api.teams.delete(team.id);
  await assert.rejects(api.teams.get(team.id), { status: 404 });

  const webhook = await api.webhooks.create({ name: 'hook', targetUrl: 'https://example.com/hook', resource: 'messages', event: 'created' });
  assert.equal((await api.webhooks.list().all()).length, 1);
  assert.equal((await api.webhooks.update(webhook.id, { name: 'hook 2', targetUrl: 'https://example.com/2' })).name, 'hook 2');
  await api.webhooks.delete(webhook.id);
  assert.equal((await api.webhooks.list().all()).length, 0);

  await api.rooms.delete(room.id);
  await assert.rejects(api.rooms.get(room.id), { status: 404 });
});
