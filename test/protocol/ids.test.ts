import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildHydraId, parseHydraId, uuidOf } from '../../src/protocol/ids.js';

const uuid = '766bc5a0-6b31-11f1-9a28-4325af6c06a3';

test('Hydra ids round-trip, padded or not', () => {
  const id = buildHydraId('MESSAGE', uuid, 'eu');
  assert.equal(Buffer.from(id, 'base64').toString(), `ciscospark://eu/MESSAGE/${uuid}`);
  assert.deepEqual(parseHydraId(id), { cluster: 'eu', type: 'MESSAGE', uuid });
  assert.deepEqual(parseHydraId(id.replace(/=+$/, '')), { cluster: 'eu', type: 'MESSAGE', uuid });
  assert.equal(uuidOf(id), uuid);
  assert.equal(uuidOf(uuid), uuid);
});

test('PEOPLE ids always use the us cluster', () => {
  assert.equal(parseHydraId(buildHydraId('PEOPLE', uuid, 'eu'))?.cluster, 'us');
});

test('things that are not Hydra ids are refused', () => {
  assert.equal(parseHydraId('hello world'), undefined);
  assert.equal(parseHydraId(Buffer.from('http://x/y').toString('base64')), undefined);
});
