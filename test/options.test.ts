import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SparkBot, SparkBotError } from '../src/index.js';
import { defaultLastConn } from '../src/options.js';

const TOKEN = 'ZmFrZS10b2tlbi1mb3ItdGVzdHM_P0A1_org';

function rejects(options: Record<string, unknown>, pattern: RegExp): void {
  assert.throws(
    () => new SparkBot(options as never),
    (error: unknown) => {
      assert.ok(error instanceof SparkBotError, 'a SparkBotError');
      assert.equal(error.code, 'INVALID_OPTION');
      assert.match(error.message, pattern);
      assert.ok(!error.message.includes(TOKEN), 'the message never contains the token');
      return true;
    },
  );
}

test('a missing or blank token is refused with a hint', () => {
  rejects({}, /token option is required/);
  rejects({ token: '' }, /token option is required/);
  rejects({ token: '   ' }, /blank/);
  rejects({ token: 42 }, /must be a string/);
});

test('a token with whitespace inside or a Bearer prefix is refused', () => {
  rejects({ token: `${TOKEN.slice(0, 10)}\n${TOKEN.slice(10)}` }, /whitespace or a line break/);
  rejects({ token: `Bearer ${TOKEN}` }, /Bearer/);
});

test('surrounding whitespace (a trailing newline from a file) is trimmed', () => {
  const bot = new SparkBot({ token: `${TOKEN}\n`, lastConn: false });
  assert.equal(bot.state, 'idle');
});

test('negative, non-numeric and overflowing timings are refused', () => {
  rejects({ token: TOKEN, pingEvery: -1 }, /pingEvery must be at least 1 milliseconds, got -1/);
  rejects({ token: TOKEN, pingWait: 0 }, /pingWait/);
  rejects({ token: TOKEN, reconnectSleep: Number.NaN }, /reconnectSleep must be a number of milliseconds/);
  rejects({ token: TOKEN, connectTimeout: '30000' }, /connectTimeout must be a number/);
  rejects({ token: TOKEN, retryTimeout: -5 }, /retryTimeout must be zero or more/);
  rejects({ token: TOKEN, pingEvery: 3e9 }, /at most 2147483647/);
  rejects({ token: TOKEN, reconnectSleep: 5000, reconnectSleepMax: 1000 }, /reconnectSleepMax \(1000\) must not be below reconnectSleep \(5000\)/);
  rejects({ token: TOKEN, retryCount: 1.5 }, /retryCount/);
  rejects({ token: TOKEN, reconnect: 'yes' }, /reconnect must be true or false/);
});

test('http: URLs need allowInsecure; other schemes and bad URLs are refused', () => {
  rejects({ token: TOKEN, wdmUrl: 'http://127.0.0.1:1/wdm/api/v1/devices' }, /wdmUrl uses http:.*allowInsecure/);
  rejects({ token: TOKEN, apiUrl: 'http://127.0.0.1:1/v1' }, /apiUrl uses http:/);
  rejects({ token: TOKEN, apiUrl: 'ws://127.0.0.1:1/v1', allowInsecure: true }, /apiUrl must be an https: URL/);
  rejects({ token: TOKEN, wdmUrl: 'not a url' }, /wdmUrl is not a valid URL/);
  const bot = new SparkBot({ token: TOKEN, lastConn: false, allowInsecure: true, wdmUrl: 'http://127.0.0.1:1/wdm/api/v1/devices', apiUrl: 'http://127.0.0.1:1/v1' });
  assert.equal(bot.state, 'idle');
});

test('unknown options are named', () => {
  rejects({ token: TOKEN, pingevery: 5 }, /unknown option: pingevery/);
});

test('the default last-connection file is per bot and never contains the token', () => {
  const a = defaultLastConn('https://wdm-a.wbx2.com/wdm/api/v1/devices', TOKEN);
  const b = defaultLastConn('https://wdm-a.wbx2.com/wdm/api/v1/devices', `${TOKEN}x`);
  assert.notEqual(a, b);
  assert.ok(!a.includes(TOKEN));
  assert.match(a, /\.sparkbot[\\/]last-connection-[0-9a-f]{16}\.json$/);
});

test('a token with an invisible or control character inside (a zero-width space, a word joiner, a NUL, a curly quote) is refused at construction, naming the character, not the token', () => {
  for (const [odd, what] of [
    ['\u200b', /an invisible character \(U\+200B\) at position 11/],
    ['\u2060', /an invisible character \(U\+2060\) at position 11/],
    ['\u0000', /a control character \(U\+0000\) at position 11/],
    ['\u2019', /a character that is not printable ASCII \(U\+2019\) at position 11/],
  ] as const) {
    rejects({ token: `${TOKEN.slice(0, 10)}${odd}${TOKEN.slice(10)}` }, what);
  }
  rejects({ token: `\u200b${TOKEN}` }, /U\+200B\) at position 1: copy the token again, as plain text/);
});

test('durations that look like seconds (pingEvery: 60, as the Perl module counted) are refused against Webex, naming the option and the unit', () => {
  rejects({ token: TOKEN, pingEvery: 60 }, /^pingEvery is 60 milliseconds: durations are in milliseconds — for 60 seconds write pingEvery: 60000 /);
  for (const name of ['pingWait', 'connectTimeout', 'requestTimeout', 'retryTimeout', 'reconnectSleepMax']) {
    rejects({ token: TOKEN, [name]: 10, reconnectSleep: 1 }, new RegExp(`^${name} is 10 milliseconds: durations are in milliseconds — for 10 seconds write ${name}: 10000`));
  }
  // A second and more, or 0 where 0 means "at once", are fine; so is anything with allowInsecure (the emulator, tests).
  assert.equal(new SparkBot({ token: TOKEN, lastConn: false, pingEvery: 1000, retryTimeout: 0 }).state, 'idle');
  assert.equal(new SparkBot({ token: TOKEN, lastConn: false, allowInsecure: true, pingEvery: 60, pingWait: 10 }).state, 'idle');
});

test('maxResponseSize must be a whole number of bytes, at least 1024', () => {
  rejects({ token: TOKEN, maxResponseSize: 10 }, /maxResponseSize must be a whole number of bytes, at least 1024, got 10/);
  rejects({ token: TOKEN, maxResponseSize: '1mb' }, /maxResponseSize/);
});
