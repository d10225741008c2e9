/**
 * Clear-text transports need allowInsecure. http: URLs in the options: test/options.test.ts
 * ("http: URLs need allowInsecure…"). Here, the socket URL WDM answers with: an https WDM (a local
 * server with the self-signed certificate, reached through a dispatcher that trusts it) naming a
 * ws: socket is refused without allowInsecure, before anything connects there.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SparkBot } from '../../src/index.js';
import { TestClock } from '../support/test-clock.js';
import { defer } from '../support/helpers.js';
import { recorder, selfSignedServer, TLS, undiciAgentClass } from '../fixtures/servers.js';

const TOKEN = 'aW5zZWN1cmUtdGVzdC10b2tlbi0wMTIzNDU2Nzg5_P0A1_org';

test('a ws: webSocketUrl from an https WDM is refused without allowInsecure; no socket opens, the device is deleted', async (t) => {
  const socketHost = await recorder(t);
  let wdm = '';
  const server = await selfSignedServer(t, (req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.method === 'POST' && req.url === '/wdm/api/v1/devices') {
      res.end(JSON.stringify({ url: `${wdm}/wdm/api/v1/devices/d1`, webSocketUrl: `${socketHost.wsUrl}/v1/apps/wx2/registrations/d1/messages` }));
    } else if (req.method === 'GET' && req.url === '/v1/people/me') {
      res.end(JSON.stringify({ id: 'me', displayName: 'Bot' }));
    } else {
      res.statusCode = req.method === 'DELETE' ? 204 : 404;
      res.end();
    }
  });
  wdm = server.url;
  const Agent = await undiciAgentClass();
  const dispatcher = new Agent({ connect: { ca: TLS.cert } });
  defer(t, () => dispatcher.close());
  const clock = new TestClock();
  const bot = new SparkBot({ token: TOKEN, wdmUrl: `${wdm}/wdm/api/v1/devices`, apiUrl: `${wdm}/v1`, u2cUrl: false, lastConn: false, dispatcher, clock });
  defer(t, () => bot.stop());
  const warning = new Promise<Error & { code?: string }>((resolve) => bot.once('warning', resolve));
  const started = bot.start().catch((error: unknown) => error);

  const first = await warning;
  assert.equal(first.code, 'CONNECT_FAILED');
  assert.match(first.message, /the device registration answer has a webSocketUrl with scheme ws: \(wss: required; set allowInsecure to permit ws:\)/);
  assert.equal(bot.state, 'backoff');
  await bot.stop();
  assert.equal(((await started) as { code?: string }).code, 'STOPPED');
  assert.equal(socketHost.connections(), 0, 'nothing connected to the ws: host');
  assert.deepEqual(
    server.requests.filter((r) => r.url.startsWith('/wdm')).map((r) => `${r.method} ${r.url} ${r.authorization === `Bearer ${TOKEN}` ? 'with token' : 'without'}`),
    ['POST /wdm/api/v1/devices with token', 'DELETE /wdm/api/v1/devices/d1 with token'],
  );
});
