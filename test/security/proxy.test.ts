/**
 * Proxies: the `agent` option carries the socket's upgrade request (an http.Agent such as
 * https-proxy-agent's), the `dispatcher` option every HTTP request — WDM, REST, U2C — (an undici
 * Dispatcher such as undici's ProxyAgent; Node's fetch ignores http.Agent). Counting subclasses of
 * both stand in for the proxy: every connection of the bot must go through them.
 */
import assert from 'node:assert/strict';
import { Agent, type ClientRequestArgs } from 'node:http';
import type { Duplex } from 'node:stream';
import { test } from 'node:test';
import type { Message } from '../../src/index.js';
import { defer, harness, waitForState } from '../support/helpers.js';
import { undiciAgentClass } from '../fixtures/servers.js';

class CountingAgent extends Agent {
  connections = 0;

  override createConnection(options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    this.connections += 1;
    return super.createConnection(options, callback);
  }
}

test('the socket upgrades go through `agent` and every HTTP request through `dispatcher`', async (t) => {
  const UndiciAgent = await undiciAgentClass();
  class CountingDispatcher extends UndiciAgent {
    dispatched: string[] = [];

    override dispatch(options: unknown, handler: unknown): boolean {
      const { method, path } = options as { method: string; path: string };
      this.dispatched.push(`${method} ${path.split('?')[0] ?? ''}`);
      return super.dispatch(options, handler);
    }
  }
  const agent = new CountingAgent();
  const dispatcher = new CountingDispatcher();
  defer(t, () => dispatcher.close());
  defer(t, () => agent.destroy());

  const { bot, emulator, person, clock, until } = await harness(t, { agent, dispatcher });
  const alice = emulator.createUser({ displayName: 'Alice' });
  const received: Message[] = [];
  bot.on('message', (message) => {
    received.push(message);
  });
  await bot.start();
  emulator.postMessage({ from: alice, toPerson: person, text: 'through the proxy' });
  await until(() => received.length === 1, 'the message, fetched over REST');
  emulator.dropConnections({ code: 1011 });
  await waitForState(bot, 'backoff');
  clock.runNext();
  await waitForState(bot, 'open');
  await bot.api.messages.create({ roomId: received[0]?.roomId ?? '', text: 'reply' });
  await bot.stop();

  assert.equal(emulator.connections.length, 2);
  assert.equal(agent.connections, 2, 'both socket upgrades went through the agent');
  const requests = emulator.requests.filter((r) => r.method !== 'WS').map((r) => `${r.method} ${r.path}`);
  assert.equal(emulator.requests.filter((r) => r.method === 'WS').length, 2, 'the emulator records the upgrades as WS');
  assert.ok(requests.length >= 4, requests.join(', '));
  assert.deepEqual([...dispatcher.dispatched].sort(), [...requests].sort(), 'every HTTP request the emulator saw went through the dispatcher');
  for (const kind of ['POST /wdm/api/v1/devices', 'GET /v1/people/me', 'POST /v1/messages']) assert.ok(dispatcher.dispatched.includes(kind), kind);
  assert.ok(dispatcher.dispatched.some((r) => r.startsWith('GET /v1/messages/')), 'the enrichment of the message');
});
