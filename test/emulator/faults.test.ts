/** The emulator's fault bookkeeping, as the chaos engine and tests use it: arm, count, hit, clear. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEmulator } from '../support/helpers.js';

test('failNext answers are counted while armed, recorded when hit, and clearFaults disarms the rest of one route or all', async (t) => {
  const emulator = await startEmulator(t);
  const { token } = emulator.createBot({ displayName: 'Faulty' });
  emulator.failNext('GET /v1/people/me', { status: 503, times: 3 });
  emulator.failNext('POST /v1/messages', { status: 429, retryAfter: 1 });
  assert.equal(emulator.armedFaults(), 4);
  assert.equal(emulator.armedFaults('GET  /v1/people/me'), 3, 'the same route, however spaced');

  const me = () => fetch(`${emulator.apiUrl}/people/me`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
  assert.equal(await me(), 503);
  assert.equal(emulator.armedFaults('GET /v1/people/me'), 2);
  assert.deepEqual(
    emulator.faultHits.map(({ route, method, path, status }) => ({ route, method, path, status })),
    [{ route: 'GET /v1/people/me', method: 'GET', path: '/v1/people/me', status: 503 }],
  );

  assert.equal(emulator.clearFaults('GET /v1/people/me'), 2, 'the answers not given yet');
  assert.equal(await me(), 200);
  assert.equal(emulator.armedFaults(), 1, 'the other route is still armed');
  assert.equal(emulator.clearFaults(), 1);
  assert.equal(emulator.armedFaults(), 0);
});

test('a request whose client goes away before the answer is recorded as abandoned, and still handled', async (t) => {
  const emulator = await startEmulator(t);
  const { token } = emulator.createBot({ displayName: 'Impatient' });
  const held = emulator.hold('POST /wdm/api/v1/devices');
  const controller = new AbortController();
  const request = fetch(`${emulator.url}/wdm/api/v1/devices`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{}',
    signal: controller.signal,
  }).catch((error: unknown) => error);
  await emulator.waitFor(() => emulator.heldRequests === 1, { what: 'the request held' });
  controller.abort();
  await request;
  await emulator.waitFor(() => emulator.abandonedRequests.length === 1, { what: 'the abandoned request recorded' });
  assert.deepEqual(
    emulator.abandonedRequests.map(({ method, path }) => ({ method, path })),
    [{ method: 'POST', path: '/wdm/api/v1/devices' }],
  );
  held.release();
  await emulator.waitFor(() => emulator.registrations.length === 1, { what: 'the server registering the device anyway' });
});
