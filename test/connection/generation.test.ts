/**
 * A unit test of the machine's generation guard: events from a socket that is no longer current
 * must be ignored. Over loopback an old socket's events never arrive (its actor is stopped), so
 * the real machine runs here with a stand-in socket service that the test drives.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createActor, fromCallback, fromPromise, waitFor } from 'xstate';
import { connectionMachine, type SocketCommand, type SocketEvent, type SocketInput } from '../../machines/connection.js';
import { TestClock } from '../support/test-clock.js';

const device = { url: 'https://wdm.example/devices/1', webSocketUrl: 'wss://mercury.example/1' };

test('events from an older socket generation are ignored', async () => {
  const clock = new TestClock();
  const machine = connectionMachine.provide({
    actors: {
      device: fromPromise(async () => ({ device, registered: true as boolean })),
      socket: fromCallback<SocketCommand, SocketInput, SocketEvent>(({ input, sendBack, receive }) => {
        sendBack({ type: 'READY', generation: input.generation });
        // No frames here: the link has been silent since READY.
        receive((command) => {
          if (command.type === 'CHECK_SILENCE') sendBack({ type: 'SILENCE', generation: input.generation, ms: 1000 });
        });
      }),
    },
  });
  const actor = createActor(machine, { clock, input: { pingEvery: 1000, pingWait: 1000 } });
  actor.start();
  actor.send({ type: 'START' });
  await waitFor(actor, (s) => s.matches({ online: 'open' }));
  actor.send({ type: 'SOCKET_CLOSED', generation: 1, code: 1011, reason: '', verdict: { action: 'reconnect', reregister: false, why: 'x' } });
  await waitFor(actor, (s) => s.matches('backoff'));
  clock.runNext();
  await waitFor(actor, (s) => s.matches({ online: 'open' }));
  const { generation } = actor.getSnapshot().context;
  assert.equal(generation, 2);

  const old = (event: Omit<SocketEvent, 'generation'>) => ({ ...event, generation: 1 }) as SocketEvent;
  actor.send(old({ type: 'SILENCE', ms: 5000 } as never));
  actor.send(old({ type: 'SOCKET_CLOSED', code: 1011, reason: '', verdict: { action: 'reconnect', reregister: false, why: 'x' } } as never));
  actor.send(old({ type: 'SOCKET_CLOSED', code: 4401, reason: '', verdict: { action: 'fatal', reason: 'unauthorized', why: 'x' } } as never));
  assert.ok(actor.getSnapshot().matches({ online: 'open' }), 'old closes and silences are ignored');

  clock.advance(1000);
  assert.ok(actor.getSnapshot().matches({ online: 'awaitingPong' }));
  const pingId = actor.getSnapshot().context.pingId ?? '';
  actor.send(old({ type: 'PONG', id: 'other' } as never));
  actor.send(old({ type: 'PONG', id: pingId } as never));
  actor.send(old({ type: 'FRAME' } as never));
  assert.ok(actor.getSnapshot().matches({ online: 'awaitingPong' }), 'old pongs and frames are ignored');

  actor.send({ type: 'PONG', generation, id: pingId });
  assert.ok(actor.getSnapshot().matches({ online: 'open' }), 'the current socket is heard');
  clock.advance(1000);
  actor.send({ type: 'FRAME', generation });
  assert.ok(actor.getSnapshot().matches({ online: 'open' }), 'a frame of the current socket while the ping is out');
  actor.stop();
});

test('READY and handshake answers from an older socket are ignored while a new one connects', async () => {
  const clock = new TestClock();
  let readyFor = 1; // only the first socket confirms by itself
  const machine = connectionMachine.provide({
    actors: {
      device: fromPromise(async () => ({ device, registered: true as boolean })),
      socket: fromCallback(({ input, sendBack }) => {
        const { generation } = input as { generation: number };
        if (generation <= readyFor) sendBack({ type: 'READY', generation });
      }),
    },
  });
  const actor = createActor(machine, { clock, input: {} });
  actor.start();
  actor.send({ type: 'START' });
  await waitFor(actor, (s) => s.matches({ online: 'open' }));
  readyFor = 0;
  actor.send({ type: 'SOCKET_CLOSED', generation: 1, code: 1011, reason: '', verdict: { action: 'reconnect', reregister: false, why: 'x' } });
  clock.runNext();
  await waitFor(actor, (s) => s.matches({ online: 'connecting' }));
  assert.equal(actor.getSnapshot().context.generation, 2);
  actor.send({ type: 'READY', generation: 1 });
  for (const status of [401, 403, 404, 429, 500]) actor.send({ type: 'SOCKET_REJECTED', generation: 1, status });
  assert.ok(actor.getSnapshot().matches({ online: 'connecting' }), 'nothing from socket 1 moves socket 2');
  actor.send({ type: 'READY', generation: 2 });
  assert.ok(actor.getSnapshot().matches({ online: 'open' }));
  actor.stop();
});
