/**
 * Bad input from WDM: a registration answer without a webSocketUrl, with a socket URL of the
 * wrong scheme, or on a host that is not Webex's (the socketHosts allowlist). Each is refused
 * before any socket opens (so the token goes nowhere), warned with what to fix, and the device
 * that WDM did create is deleted rather than left behind at every attempt. (A ws: socket URL
 * without allowInsecure: test/security/insecure.test.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WebexEmulator, EmulatedPerson } from '../../src/emulator/index.js';
import { harness } from '../support/helpers.js';

/** A device registered behind the bot's back: what WDM created when it sent the odd answer. */
async function registerOutOfBand(emulator: WebexEmulator, person: EmulatedPerson): Promise<{ url: string; webSocketUrl: string }> {
  const response = await fetch(emulator.wdmUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${person.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ deviceName: 'made by WDM' }),
  });
  return (await response.json()) as { url: string; webSocketUrl: string };
}

const CASES = [
  { name: 'no webSocketUrl', socketUrl: undefined, expected: /the device registration answer has no webSocketUrl \(is wdmUrl a Webex WDM devices URL\?\)/ },
  { name: 'an http: webSocketUrl', socketUrl: 'http://127.0.0.1/mercury', expected: /has a webSocketUrl with scheme http: \(wss: required\)/ },
  { name: 'an ftp: webSocketUrl', socketUrl: 'ftp://127.0.0.1/mercury', expected: /has a webSocketUrl with scheme ftp: \(wss: required\)/ },
  { name: 'an invalid webSocketUrl', socketUrl: 'wss://', expected: /has an invalid webSocketUrl/ },
  {
    name: 'a webSocketUrl on a host that is not Webex',
    socketUrl: 'wss://mercury.attacker.example/v1/apps/wx2/registrations/x/messages',
    expected: /names a socket on mercury\.attacker\.example, which is not a Webex host \(.*\); the token is not sent there — set socketHosts if this host is right/,
  },
  {
    name: 'a webSocketUrl on a look-alike host',
    socketUrl: 'wss://mercury-connection.wbx2.com.attacker.example/x',
    expected: /names a socket on mercury-connection\.wbx2\.com\.attacker\.example, which is not a Webex host/,
  },
] as const;

for (const { name, socketUrl, expected } of CASES) {
  test(`a registration answer with ${name} warns CONNECT_FAILED, deletes that device, opens no socket, and retries`, async (t) => {
    const { bot, emulator, person, clock, warnings, until } = await harness(t);
    const made = await registerOutOfBand(emulator, person);
    emulator.failNext('POST /wdm/api/v1/devices', { status: 200, body: socketUrl === undefined ? { url: made.url } : { url: made.url, webSocketUrl: socketUrl } });
    const started = bot.start();
    await until(() => warnings.length === 1 && emulator.deviceDeletions.length === 1, 'the warning and the deletion');
    assert.equal(bot.state, 'backoff');
    assert.equal(warnings[0]?.code, 'CONNECT_FAILED');
    assert.match(warnings[0]?.message ?? '', expected);
    assert.equal(emulator.connections.length, 0, 'no socket was opened');
    assert.deepEqual(emulator.devicesOf(person), [], 'the unusable device was deleted');

    clock.runNext();
    await started;
    assert.equal(emulator.devicesOf(person).length, 1, 'one device: the good one');
  });
}

test('a registration answer whose device url is on another host is refused before anything is sent there', async (t) => {
  const { bot, emulator, clock, warnings, until } = await harness(t);
  emulator.failNext('POST /wdm/api/v1/devices', { status: 200, body: { url: 'https://wdm.attacker.example/wdm/api/v1/devices/x', webSocketUrl: 'wss://mercury.wbx2.com/x' } });
  const started = bot.start();
  await until(() => warnings.length === 1, 'the warning');
  assert.match(warnings[0]?.message ?? '', /device registration answered with a device url on https:\/\/wdm\.attacker\.example, not on http:\/\/127\.0\.0\.1:\d+; the device is not used/);
  assert.equal(emulator.connections.length, 0);
  clock.runNext();
  await started;
});
