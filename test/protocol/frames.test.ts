import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ackFrame, authorizationFrame, mercuryUrl, parseFrame, pingFrame } from '../../src/protocol/frames.js';

test('mercuryUrl adds the SDK query parameters and keeps existing ones', () => {
  const url = new URL(mercuryUrl('wss://mercury.example/v1/apps/wx2/registrations/x/messages?foo=1&bufferStates=false'));
  assert.equal(url.searchParams.get('outboundWireFormat'), 'text');
  assert.equal(url.searchParams.get('aliasHttpStatus'), 'true');
  assert.equal(url.searchParams.get('bufferStates'), 'false');
  assert.equal(url.searchParams.get('foo'), '1');
});

test('the readiness frame is recognised only without a type', () => {
  const ready = parseFrame(JSON.stringify({ id: 'a', data: { eventType: 'mercury.buffer_state' } }));
  assert.ok(ready.ok && ready.frame.kind === 'ready');
  const registration = parseFrame(JSON.stringify({ id: 'a', data: { eventType: 'mercury.registration_status' } }));
  assert.ok(registration.ok && registration.frame.kind === 'ready');
  const typed = parseFrame(JSON.stringify({ id: 'a', type: 'x', data: { eventType: 'mercury.buffer_state' } }));
  assert.ok(typed.ok && typed.frame.kind === 'event');
});

test('pongs carry their id; other objects are events', () => {
  const pong = parseFrame('{"id":"p1","type":"pong"}');
  assert.ok(pong.ok && pong.frame.kind === 'pong' && pong.frame.id === 'p1');
  assert.equal(parseFrame('{"type":"pong"}').ok, false);
  const event = parseFrame('{"id":"e1","data":{"eventType":"conversation.activity"}}');
  assert.ok(event.ok && event.frame.kind === 'event');
});

test('frames that are not JSON objects are reported, not thrown', () => {
  for (const text of ['not json', '[1,2]', '42', 'null', '"x"', '{"id":5}']) {
    const parsed = parseFrame(text);
    assert.equal(parsed.ok, false, text);
  }
});

test('client frames have the shapes of the official SDK', () => {
  assert.deepEqual(JSON.parse(pingFrame('abc')), { id: 'abc', type: 'ping' });
  assert.deepEqual(JSON.parse(ackFrame({ id: 'm1' }) ?? ''), { type: 'ack', messageId: 'm1' });
  assert.equal(ackFrame({}), undefined);
  assert.deepEqual(JSON.parse(authorizationFrame('T0KEN', 'i', 't')), { id: 'i', type: 'authorization', data: { token: 'Bearer T0KEN' }, trackingId: 't' });
});
