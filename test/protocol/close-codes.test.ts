import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyClose } from '../../src/protocol/close-codes.js';

// [code, reason, ready, expected action, expected fatal reason or reregister]
const TABLE: Array<[number, string, boolean, 'reconnect' | 'fatal', string | boolean]> = [
  [4400, '', true, 'fatal', 'bad-request'],
  [4400, '', false, 'fatal', 'bad-request'],
  [4401, 'Unauthorized', false, 'fatal', 'unauthorized'],
  [4401, '', true, 'fatal', 'unauthorized'],
  [4403, '', false, 'fatal', 'forbidden'],
  [4000, 'Replaced', true, 'fatal', 'replaced'],
  [4000, 'replaced', true, 'fatal', 'replaced'],
  [4000, 'something else', true, 'reconnect', false],
  [4000, '', true, 'reconnect', false],
  [1000, 'Done', true, 'fatal', 'closed'],
  [1000, 'Done', false, 'reconnect', false],
  [4000, 'Replaced', false, 'reconnect', false],
  [1000, '', true, 'fatal', 'closed'],
  [1050, 'logout', true, 'fatal', 'closed'],
  [3050, 'bye', true, 'fatal', 'closed'],
  [1000, 'idle', true, 'reconnect', false],
  [1000, 'Done (forced)', true, 'reconnect', false],
  [1050, 'Pong not received', true, 'reconnect', false],
  [3050, 'PONG MISMATCH', true, 'reconnect', false],
  [1001, '', true, 'reconnect', false],
  [1005, '', true, 'reconnect', false],
  [1005, '', false, 'reconnect', true],
  [1006, '', true, 'reconnect', false],
  [1006, '', false, 'reconnect', false],
  [1011, 'Internal error', true, 'reconnect', false],
  [1012, '', true, 'reconnect', false],
  [1013, '', true, 'reconnect', false],
  [1003, '', true, 'reconnect', false],
  [1008, 'authentication failed', false, 'fatal', 'unauthorized'],
  [1008, 'policy', true, 'reconnect', false],
  [1009, 'Message too big', true, 'reconnect', false],
  [4001, '', true, 'reconnect', false],
  [4404, 'refresh your registration', true, 'reconnect', true],
  [4999, '', true, 'reconnect', false],
  [3999, '', true, 'reconnect', false],
];

for (const [code, reason, ready, action, detail] of TABLE) {
  test(`close ${code} ${JSON.stringify(reason)}${ready ? '' : ' before ready'} -> ${action}${typeof detail === 'string' ? ` (${detail})` : detail ? ' with a new registration' : ''}`, () => {
    const verdict = classifyClose(code, reason, ready);
    assert.equal(verdict.action, action);
    if (verdict.action === 'fatal') assert.equal(verdict.reason, detail);
    else assert.equal(verdict.reregister, detail);
    assert.match(verdict.why, new RegExp(String(code)));
  });
}

test('a 4401 close says the token was refused', () => {
  const verdict = classifyClose(4401, '', false);
  assert.match(verdict.why, /refused the token/);
});
