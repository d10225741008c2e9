/**
 * With no 'warning' (or 'error') listener, problems become process warnings on stderr. A server
 * that sends bad frames must not make that one line per frame: the first of each code is printed,
 * then at most one a minute, saying how many were not (every one is in the debug log).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SparkBot } from '../../src/index.js';
import { UnheardProblems } from '../../src/log.js';
import { defer, startEmulator, tempDir } from '../support/helpers.js';
import { TestClock } from '../support/test-clock.js';
import { join } from 'node:path';

test('50 unusable frames with no warning listener print one process warning, not 50', async (t) => {
  const emulator = await startEmulator(t);
  const me = emulator.createBot({ displayName: 'Quiet Bot' });
  const bot = new SparkBot({ token: me.token, ...emulator.botOptions(), lastConn: join(await tempDir(t), 'last.json'), clock: new TestClock() });
  defer(t, () => bot.stop());
  const printed: Array<{ code: string | undefined; message: string }> = [];
  const onWarning = (warning: Error & { code?: string }) => {
    if (warning.code?.startsWith('SPARKBOT_')) printed.push({ code: warning.code, message: warning.message });
  };
  process.on('warning', onWarning);
  defer(t, () => process.off('warning', onWarning));
  await bot.start();
  for (let n = 0; n < 50; n++) emulator.sendRaw(`garbage ${n}`);
  emulator.sendRaw(JSON.stringify({ id: 'e1', data: { eventType: 'conversation.activity', activity: { id: 'ok', verb: 'tag', actor: { id: me.uuid } } } }));
  await emulator.waitFor(() => emulator.acks.some((ack) => ack.messageId === 'e1'), { what: 'the frame after the garbage' });
  await new Promise((resolve) => setImmediate(resolve)); // process warnings are emitted on the next tick
  assert.deepEqual(printed, [{ code: 'SPARKBOT_INVALID_FRAME', message: 'ignored an unusable frame: frame is not JSON ("garbage 0")' }], 'one line, the first');
  assert.equal(bot.state, 'open');
});

test('repeated problems: the first is printed, the rest of that minute counted, and the next one printed says how many were not', () => {
  let now = 0;
  const warned: string[] = [];
  const unheard = new UnheardProblems({ debug: () => undefined, info: () => undefined, warn: (m) => warned.push(m), error: (m) => warned.push(`error: ${m}`) }, () => now);
  for (let n = 0; n < 5; n++) unheard.print('warning', 'INVALID_FRAME', `bad frame ${n}`);
  unheard.print('error', 'API_ERROR', 'another kind is printed');
  now = 61_000;
  unheard.print('warning', 'INVALID_FRAME', 'bad frame 5');
  unheard.print('warning', 'INVALID_FRAME', 'bad frame 6');
  assert.deepEqual(warned, [
    'sparkbot INVALID_FRAME: bad frame 0',
    'error: sparkbot API_ERROR: another kind is printed',
    "sparkbot INVALID_FRAME: bad frame 5 (4 more like it were not printed in the minute after the one 61 s ago; listen to the bot's 'warning' event to see each)",
  ]);
});
