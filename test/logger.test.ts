/**
 * The `logger` option: sparkbot's debug lines, state changes, and the errors and warnings nobody
 * listens to go to the given logger (console, pino…) — redacted, as the default `debug` output is.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from '../src/index.js';
import { harness, secretPieces, waitForState } from './support/helpers.js';

function recordingLogger(debugOn = true): Logger & { lines: Record<'debug' | 'info' | 'warn' | 'error', string[]> } {
  const lines = { debug: [] as string[], info: [] as string[], warn: [] as string[], error: [] as string[] };
  return {
    lines,
    debug: (message) => lines.debug.push(message),
    info: (message) => lines.info.push(message),
    warn: (message) => lines.warn.push(message),
    error: (message) => lines.error.push(message),
    isLevelEnabled: (level) => level !== 'debug' || debugOn,
  };
}

test('a logger gets the debug lines, the state changes and the unheard warnings and errors, never the token', async (t) => {
  const logger = recordingLogger();
  const h = await harness(t, { logger });
  h.bot.removeAllListeners('warning');
  h.bot.removeAllListeners('error');
  await h.bot.start();
  h.emulator.sendRaw('not json');
  h.emulator.dropConnections({ code: 1011, reason: `bye ${h.person.token.slice(0, 40)}` });
  await waitForState(h.bot, 'backoff');
  await h.emulator.waitFor(() => logger.lines.warn.length === 1, { what: 'the warning' });

  assert.ok(logger.lines.debug.some((line) => line.startsWith('sparkbot:http GET ')), 'debug lines, with their area');
  assert.ok(logger.lines.debug.some((line) => line.includes('[REDACTED]')), 'the echoed token, redacted');
  assert.deepEqual(logger.lines.info.slice(0, 3), ['sparkbot: idle -> fetchingUrl', 'sparkbot: fetchingUrl -> connecting', 'sparkbot: connecting -> open']);
  assert.equal(logger.lines.info.at(-1), 'sparkbot: open -> backoff (socket closed (1011 "bye [REDACTED]"))');
  assert.deepEqual(logger.lines.warn, ['sparkbot INVALID_FRAME: ignored an unusable frame: frame is not JSON ("not json")']);
  const everything = Object.values(logger.lines).flat().join('\n');
  assert.deepEqual(secretPieces(everything, h.person.token), []);
});

test('a logger whose debug level is off gets no debug line (and sparkbot formats none)', async (t) => {
  const logger = recordingLogger(false);
  const h = await harness(t, { logger });
  await h.bot.start();
  assert.deepEqual(logger.lines.debug, []);
  assert.ok(logger.lines.info.length >= 3);
});

test('the logger option must have debug, info, warn and error', async (t) => {
  const h = await harness(t);
  const { SparkBot } = await import('../src/index.js');
  assert.throws(() => new SparkBot({ token: h.person.token, logger: { info: () => undefined } as never }), /logger must be an object with debug, info, warn, error methods \(e\.g\. console, or a pino logger\); it lacks debug, warn, error/);
});
