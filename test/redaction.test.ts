import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { plainError } from '../src/http.js';
import { REDACTED, Redactor } from '../src/log.js';

const token = 'c2VjcmV0LXRva2VuLWZvci1yZWRhY3Rpb24_P0A1_org';

test('plainError keeps name, message, code and cause, and drops everything else (a request with headers)', () => {
  const inner = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', socket: { authorization: token } });
  const outer = Object.assign(new Error('fetch failed', { cause: inner }), {
    name: 'TimeoutError',
    request: new Request('https://webexapis.com/v1/people/me', { headers: { authorization: `Bearer ${token}` } }),
  });
  assert.ok(inspect(outer, { depth: 8, showHidden: true }).includes(token), 'the raw error does carry the token');
  const copy = plainError(outer);
  assert.equal(copy.name, 'TimeoutError');
  assert.equal(copy.message, 'fetch failed');
  assert.equal(((copy as Error & { cause: Error & { code: string } }).cause).code, 'ECONNREFUSED');
  assert.ok(!inspect(copy, { depth: 8, showHidden: true }).includes(token));
});

test('the redactor removes the token and its URL-encoded form from text and from errors, causes included', () => {
  const redactor = new Redactor();
  redactor.add(token);
  assert.equal(redactor.redact(`Bearer ${token} and ${encodeURIComponent(token)}`), `Bearer ${REDACTED} and ${REDACTED}`);
  const error = new Error(`bad ${token}`, { cause: new Error(`inner ${token}`) });
  redactor.error(error);
  assert.ok(!inspect(error, { depth: 8 }).includes(token));
});

test('the redactor finds any piece of the token of 16 characters or more, at any place and alignment; 15 are no leak', () => {
  const redactor = new Redactor();
  redactor.add(token);
  for (let from = 0; from + 16 <= token.length; from++) {
    for (const pad of ['', 'x', 'xxxxxxx', 'a somewhat longer prefix ']) {
      const piece = token.slice(from, from + 16);
      assert.equal(redactor.redact(`${pad}${piece}!`), `${pad}${REDACTED}!`, `piece at ${from}, after ${pad.length} characters`);
      assert.ok(redactor.contains(`${pad}${piece}`));
    }
  }
  const fifteen = token.slice(3, 18);
  assert.equal(redactor.redact(`only ${fifteen}`), `only ${fifteen}`);
  assert.ok(!redactor.contains(`only ${fifteen}`));
  // Two echoes in one text, one of them the whole token, one overlapping the end of the other.
  assert.equal(redactor.redact(`${token.slice(0, 20)} and ${token}${token.slice(-17)}.`), `${REDACTED} and ${REDACTED}.`);
  assert.equal(inspect(redactor), 'Redactor {}');
  assert.equal(JSON.stringify(redactor), '{}');
});

test("a Webex token's org id (after its last underscores) is no secret: activities carry it; the secret part and the whole token are", () => {
  const org = '0f1e2d3c-aaaa-bbbb-cccc-123456789abc';
  const secret = 'NjYxYzQ0ZGMtZDkxMS00YzU2LWJmOWUtYzM5ZjY0ZTM0ZDQ0NjE2YWMyYjctYzhj';
  const webexToken = `${secret}_PF84_${org}`;
  const redactor = new Redactor();
  redactor.add(webexToken);
  assert.equal(redactor.redact(`actor orgId ${org}`), `actor orgId ${org}`);
  assert.ok(!redactor.contains(`{"orgId":"${org}"}`));
  assert.equal(redactor.redact(`token ${webexToken} here`), `token ${REDACTED} here`);
  assert.equal(redactor.redact(`half ${secret.slice(10, 40)}`), `half ${REDACTED}`);
});
