import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { harness, tempDir } from '../support/helpers.js';

for (const [name, content] of [
  ['corrupt', '{"version":1,"device":{"url":'],
  ['empty', ''],
  ['wrongly shaped', '["not", "a", "record"]'],
] as const) {
  test(`a ${name} last-connection file is moved aside with a warning and replaced`, async (t) => {
    const dir = await tempDir(t);
    const lastConn = join(dir, 'last-connection.json');
    await writeFile(lastConn, content);
    const { bot, emulator, warnings, person } = await harness(t, { lastConn });
    await bot.start();
    await bot.stop();
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.code, 'STORE_ERROR');
    assert.match(warnings[0]?.message ?? '', /could not be used .* moved to .*\.corrupt-/);
    const files = await readdir(dir);
    const aside = files.find((f) => f.startsWith('last-connection.json.corrupt-'));
    assert.ok(aside, `moved aside: ${files.join(', ')}`);
    assert.equal(await readFile(join(dir, aside), 'utf8'), content, 'the old content is kept');
    const saved = JSON.parse(await readFile(lastConn, 'utf8')) as { device: { url: string } };
    assert.equal(saved.device.url, emulator.devicesOf(person)[0]?.url);
    assert.equal(emulator.registrations.length, 1);
  });
}

test('a restart on the same last-connection file reuses the saved device', async (t) => {
  const dir = await tempDir(t);
  const lastConn = join(dir, 'nested', 'dirs', 'last-connection.json');
  const first = await harness(t, { lastConn });
  await first.bot.start();
  await first.bot.stop();
  const second = await harness(t, { lastConn, emulator: first.emulator, person: first.person });
  await second.bot.start();
  assert.equal(first.emulator.registrations.length, 1, 'no second registration');
  assert.equal(first.emulator.connections.length, 2);
  assert.equal(first.emulator.connections[1]?.deviceUuid, first.emulator.connections[0]?.deviceUuid);
  assert.equal(dirname(lastConn), join(dir, 'nested', 'dirs'));
});

test('a saved device that WDM no longer knows is replaced by a new registration', async (t) => {
  const dir = await tempDir(t);
  const lastConn = join(dir, 'last-connection.json');
  const first = await harness(t, { lastConn });
  await first.bot.start();
  await first.bot.stop();
  const [device] = first.emulator.devicesOf(first.person);
  first.emulator.markDeviceStale(device?.uuid ?? '');
  const second = await harness(t, { lastConn, emulator: first.emulator, person: first.person });
  await second.bot.start();
  assert.equal(first.emulator.registrations.length, 2);
});

test('lastConn: false keeps the device in memory only: a new bot registers again', async (t) => {
  const first = await harness(t, { lastConn: false });
  await first.bot.start();
  first.emulator.dropConnections({ code: 1011 });
  await first.bot.stop();
  await first.bot.start();
  assert.equal(first.emulator.registrations.length, 1, 'the same bot reuses its device from memory');
  const second = await harness(t, { lastConn: false, emulator: first.emulator, person: first.person });
  await second.bot.start();
  assert.equal(first.emulator.registrations.length, 2);
});
