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
