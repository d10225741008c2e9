import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRetryAfter } from '../../src/protocol/retry-after.js';

test('Retry-After in seconds becomes milliseconds', () => {
  assert.equal(parseRetryAfter('120'), 120_000);
  assert.equal(parseRetryAfter(' 7 '), 7_000);
  assert.equal(parseRetryAfter('0'), 0);
  assert.equal(parseRetryAfter('1.5'), 1_500);
});

test('Retry-After as an HTTP date is the time until then', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now), 0, 'a date in the past means now');
});

test('garbage, negative and missing Retry-After values are unusable', () => {
  for (const value of [undefined, null, '', '  ', 'soon', '-5', '10s', '1e3', 'NaN', 'Infinity']) {
    assert.equal(parseRetryAfter(value as string | undefined), undefined, JSON.stringify(value));
  }
});
