/**
 * Bad input from the network: a host that does not resolve (a name under .invalid, which never
 * does), a port where nothing listens, and a server whose TLS certificate is not trusted (a local
 * HTTPS server with the self-signed certificate of test/fixtures/tls) — for WDM and for the
 * socket. Each warns CONNECT_FAILED with the cause and what to check, backs off, and tries again;
 * nothing reaches an untrusted server (the TLS handshake fails before any request or frame).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WebexEmulator } from '../../src/emulator/index.js';
import { harness, type Harness } from '../support/helpers.js';
import { closedPort, selfSignedServer } from '../fixtures/servers.js';

const DNS = /(ENOTFOUND|EAI_AGAIN) wdm\.sparkbot-test\.invalid: the (host name does not resolve \(DNS\)|DNS lookup failed for now)/;

/** The next registration names `webSocketUrl` (on a device of the emulator's WDM, so it is trusted as a device). */
function registrationNaming(emulator: WebexEmulator, webSocketUrl: string): void {
  emulator.failNext('POST /wdm/api/v1/devices', { status: 200, body: { url: `${emulator.wdmUrl}/00000000-0000-4000-8000-000000000000`, webSocketUrl } });
}

/** Waits for the first failed attempt, checks its warning, and shows that the bot tries again. */
async function failsAndRetries(h: Harness, expected: RegExp): Promise<void> {
  const started = h.bot.start();
  const outcome = started.then(
    () => 'connected',
    (error: unknown) => error,
  );
  await h.until(() => h.warnings.length === 1, 'the first warning');
  assert.equal(h.bot.state, 'backoff');
  assert.equal(h.warnings[0]?.code, 'CONNECT_FAILED');
  assert.match(h.warnings[0]?.message ?? '', expected);
  assert.match(h.bot.health().lastError ?? '', expected);
  h.clock.runNext();
  await h.until(() => h.warnings.length === 2, 'the second attempt');
  assert.match(h.warnings[1]?.message ?? '', expected);
  await h.bot.stop();
  assert.equal(((await outcome) as { code?: string }).code, 'STOPPED', 'start() rejects with STOPPED');
  assert.equal(h.clock.pending, 0, 'stop() left no timer');
}

test('DNS failure of wdmUrl (a host under .invalid)', async (t) => {
  const h = await harness(t, { wdmUrl: 'http://wdm.sparkbot-test.invalid/wdm/api/v1/devices' });
  await failsAndRetries(h, new RegExp(`POST http://wdm\\.sparkbot-test\\.invalid/wdm/api/v1/devices got no answer: getaddrinfo ${DNS.source}`));
});

test('DNS failure of the socket host', async (t) => {
  const h = await harness(t, { socketHosts: ['*.invalid'] });
  registrationNaming(h.emulator, 'ws://mercury.sparkbot-test.invalid/v1/apps/wx2/registrations/x/messages');
  await failsAndRetries(h, /socket closed \(1006\): getaddrinfo (ENOTFOUND|EAI_AGAIN) mercury\.sparkbot-test\.invalid: the (host name does not resolve|DNS lookup failed)/);
});

test('connection refused by wdmUrl (a closed port)', async (t) => {
  const port = await closedPort();
  const h = await harness(t, { wdmUrl: `http://127.0.0.1:${port}/wdm/api/v1/devices` });
  await failsAndRetries(h, new RegExp(`got no answer: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}: nothing accepts connections there; check the host and port of the URL`));
});

test('connection refused by the socket host (a closed port)', async (t) => {
  const port = await closedPort();
  const h = await harness(t);
  registrationNaming(h.emulator, `ws://127.0.0.1:${port}/v1/apps/wx2/registrations/x/messages`);
  await failsAndRetries(h, new RegExp(`socket closed \\(1006\\): connect ECONNREFUSED 127\\.0\\.0\\.1:${port}: nothing accepts connections there`));
});

test('an untrusted (self-signed) certificate on wdmUrl: the error names the certificate; no request reached the server', async (t) => {
  const server = await selfSignedServer(t);
  const h = await harness(t, { wdmUrl: `${server.url}/wdm/api/v1/devices` });
  await failsAndRetries(h, /got no answer: self-signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\): the server's TLS certificate is not trusted; behind a TLS-inspecting proxy, trust its CA/);
  assert.ok(server.connections() >= 2, 'both attempts reached the TLS handshake');
  assert.deepEqual(server.requests, [], 'no HTTP request (nor the token) went over the untrusted connection');
});

test('an untrusted (self-signed) certificate on the socket host: the error names the certificate; no upgrade reached the server', async (t) => {
  const server = await selfSignedServer(t);
  const h = await harness(t);
  registrationNaming(h.emulator, `${server.wssUrl}/v1/apps/wx2/registrations/x/messages`);
  await failsAndRetries(h, /socket closed \(1006\): self-signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\): the server's TLS certificate is not trusted/);
  assert.ok(server.connections() >= 2);
  assert.deepEqual(server.requests, [], 'no upgrade request (nor authorization frame) went over the untrusted connection');
});
