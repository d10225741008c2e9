/**
 * The emulator's world across restarts (`stateFile`): people with their tokens, rooms,
 * memberships, messages and threads, files; saved atomically with mode 0600 as things change and
 * on close; a corrupt file refused at start with its name.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { WebexEmulator, type EmulatedPerson, type EmulatedUser } from '../../src/emulator/index.js';
import { defer, harness, tempDir } from '../support/helpers.js';

/** Resolves once the file holds `text`, reading it after each short wait; rejects after `timeout`. */
async function fileHolds(file: string, text: string, timeout = 5_000): Promise<string> {
  const until = Date.now() + timeout;
  for (;;) {
    const content = await readFile(file, 'utf8').catch(() => '');
    if (content.includes(text)) return content;
    if (Date.now() > until) throw new Error(`${file} never held ${JSON.stringify(text)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('a state file keeps people (with their tokens), rooms, memberships, messages, threads and files across a restart; a bot with its old token connects', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'state.json');
  const first = await WebexEmulator.start({ stateFile: file });
  defer(t, () => first.close());
  const alice = first.createUser({ displayName: 'Alice' });
  const bob = first.createUser({ displayName: 'Bob', email: 'bob@corp.example' });
  const echo = first.createBot({ displayName: 'Echo Bot' });
  const team = first.createRoom({ title: 'Team', members: [alice, bob, echo] });
  first.setModerator(team, bob, true, alice);
  const parent = first.postMessage({ from: alice, room: team, text: 'first', mentions: [echo] });
  const reply = first.postMessage({ from: bob, room: team, markdown: '**second**', text: 'second', parentId: parent.id });
  const shared = first.shareFile({ from: alice, toPerson: echo, text: 'a file', files: [{ filename: 'notes.txt', data: 'hello file', contentType: 'text/plain' }] });
  const direct = first.directRoom(alice, echo);

  // Saved as things change, before any close.
  await fileHolds(file, 'notes.txt');
  await first.close();
  const mode = (await stat(file)).mode & 0o777;
  assert.equal(mode, 0o600, `mode ${mode.toString(8)}: it holds tokens`);
  assert.deepEqual((await readdir(dir)).filter((f) => f !== 'state.json'), [], 'no temp file left behind');
  assert.ok((await readFile(file, 'utf8')).includes(echo.token));

  const second = await WebexEmulator.start({ stateFile: file });
  defer(t, () => second.close());
  const people = [...second.people.values()];
  assert.deepEqual(
    people.map((p) => [p.id, p.uuid, p.displayName, p.email, p.type, p.token, p.orgId]),
    [alice, bob, echo].map((p) => [p.id, p.uuid, p.displayName, p.email, p.type, p.token, p.orgId]),
  );
  const room = second.rooms.get(team.uuid);
  assert.ok(room);
  assert.equal(room.id, team.id);
  assert.equal(room.title, 'Team');
  assert.deepEqual([...room.members], [alice.uuid, bob.uuid, echo.uuid]);
  assert.deepEqual([...room.moderators], [bob.uuid]);
  assert.equal(second.rooms.get(direct.uuid)?.type, 'direct');
  assert.deepEqual(
    [...second.messages.values()].map((m) => [m.id, m.roomId, m.personId, m.text, m.markdown, m.parentId]),
    [
      [parent.id, team.id, alice.id, 'first', undefined, undefined],
      [reply.id, team.id, bob.id, 'second', '**second**', parent.id],
      [shared.id, direct.id, alice.id, 'a file', undefined, undefined],
    ],
  );
  // Over REST, as a bot sees it: the same ids, the mention, the file's bytes, the membership.
  const auth = { authorization: `Bearer ${echo.token}` };
  const message = (await (await fetch(`${second.apiUrl}/messages/${encodeURIComponent(parent.id)}`, { headers: auth })).json()) as { mentionedPeople: string[] };
  assert.deepEqual(message.mentionedPeople, [echo.id]);
  const files = ((await (await fetch(`${second.apiUrl}/messages/${encodeURIComponent(String(shared.id))}`, { headers: auth })).json()) as { files: string[] }).files;
  assert.equal(await (await fetch(files[0] as string, { headers: auth })).text(), 'hello file');
  const memberships = (await (await fetch(`${second.apiUrl}/memberships?roomId=${encodeURIComponent(team.id)}`, { headers: auth })).json()) as { items: Array<{ personId: string; isModerator: boolean }> };
  assert.deepEqual(memberships.items.map((m) => [m.personId, m.isModerator]), [[alice.id, false], [bob.id, true], [echo.id, false]]);
  // People made after the restart join the same org.
  assert.equal(second.createUser({ displayName: 'Carol' }).orgId, alice.orgId);

  // The bot, started with the token it had before the restart, connects and answers; users still `says`.
  const h = await harness(t, { emulator: second, person: second.people.get(echo.uuid) as EmulatedPerson });
  h.bot.on('message', (m) => void m.reply(`echo ${m.text}`));
  await h.bot.start();
  assert.equal(h.bot.state, 'open');
  const restoredAlice = second.people.get(alice.uuid) as EmulatedUser;
  const answer = await restoredAlice.says(second.rooms.get(direct.uuid)!, 'still there?');
  assert.equal(answer.text, 'echo still there?');
  assert.equal(answer.roomId, direct.id);
});

test('an empty start with a state file writes the file; close() writes the last changes', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'world.json');
  const emulator = await WebexEmulator.start({ stateFile: file });
  defer(t, () => emulator.close());
  await fileHolds(file, '"version": 1');
  emulator.createUser({ displayName: 'Last Minute' });
  await emulator.close();
  const saved = JSON.parse(await readFile(file, 'utf8')) as { people: Array<{ displayName: string }> };
  assert.deepEqual(saved.people.map((p) => p.displayName), ['Last Minute']);
});

test('a corrupt state file fails start() with an Error that names the file', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'state.json');
  await writeFile(file, '{"version": 1, "people": [');
  await assert.rejects(WebexEmulator.start({ stateFile: file }), (error: Error) => error.message.includes(file) && /corrupt/.test(error.message) && /not valid JSON/.test(error.message));
  await writeFile(file, JSON.stringify({ version: 99 }));
  await assert.rejects(WebexEmulator.start({ stateFile: file }), (error: Error) => error.message.includes(file) && /version is 99/.test(error.message));
  await writeFile(file, JSON.stringify({ version: 1, orgUuid: 'x', people: [{ uuid: 'a' }], rooms: [], memberships: [], messages: [], teams: [], actions: [], webhooks: [] }));
  await assert.rejects(WebexEmulator.start({ stateFile: file }), (error: Error) => error.message.includes(file) && /people\[0\]/.test(error.message));
  // The file is left as it was, for someone to look at.
  assert.match(await readFile(file, 'utf8'), /"uuid":"a"/);
  // A file that cannot be written fails the start too, not a save later.
  const nowhere = join(dir, 'no-such-dir', 'state.json');
  await assert.rejects(WebexEmulator.start({ stateFile: nowhere }), (error: Error) => error.message.includes(nowhere) && /could not save/.test(error.message));
});
