import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebexEmulator } from '../../src/emulator/index.js';
import { hydraClusterOf, parseHydraId } from '../../src/protocol/ids.js';
import { defer, harness } from '../support/helpers.js';

test('the cluster of a conversation comes from the service catalog: ids outside the US work', async (t) => {
  const emulator = await WebexEmulator.start({ clusterId: 'urn:TEAM:eu-central-1_k' });
  defer(t, () => emulator.close());
  const { bot, person, until } = await harness(t, { emulator });
  const alice = emulator.createUser({ displayName: 'Alice' });
  const texts: string[] = [];
  bot.on('message', (message) => {
    texts.push(message.text ?? '');
  });
  await bot.start();
  const posted = emulator.postMessage({ from: alice, toPerson: person, text: 'from Frankfurt' });
  assert.equal(parseHydraId(posted.id as string)?.cluster, 'urn:TEAM:eu-central-1_k');
  await until(() => texts.length === 1);
  assert.deepEqual(texts, ['from Frankfurt']);
  assert.equal(emulator.requests.filter((r) => r.path === '/u2c/api/v1/catalog').length, 1, 'the catalog is fetched once');
});

test('without the catalog (u2cUrl: false) the cluster is us, and a non-US message cannot be fetched', async (t) => {
  const emulator = await WebexEmulator.start({ clusterId: 'urn:TEAM:eu-central-1_k' });
  defer(t, () => emulator.close());
  const { bot, person, until, errors, clock } = await harness(t, { emulator, u2cUrl: false });
  const alice = emulator.createUser({ displayName: 'Alice' });
  await bot.start();
  emulator.postMessage({ from: alice, toPerson: person, text: 'lost' });
  for (let retry = 0; retry < 3; retry += 1) {
    await clock.waitForTimer(1000); // a 404 right after a post is retried
    clock.advance(1000);
  }
  await until(() => errors.length === 1);
  assert.match(errors[0]?.message ?? '', /HTTP 404/);
  assert.equal(emulator.requests.filter((r) => r.path.startsWith('/u2c/')).length, 0);
});

test('hydraClusterOf follows the SDK: US clusters are us, others keep three parts', () => {
  assert.equal(hydraClusterOf('urn:TEAM:us-east-2_a:conversation'), 'us');
  assert.equal(hydraClusterOf('urn:TEAM:us-east-1_int13:wdm'), 'us');
  assert.equal(hydraClusterOf('urn:TEAM:eu-central-1_k:conversation'), 'urn:TEAM:eu-central-1_k');
  assert.equal(hydraClusterOf('nonsense'), 'us');
});
