import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runUntil } from './support/helpers.js';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

test('the demo (npm start without WEBEX_TOKEN) echoes, survives a drop and a dead link, and stops on Ctrl-C', async () => {
  const { code, output } = await runUntil(cli, 'demo: recovered');
  assert.equal(code, 0, output);
  for (const line of [
    /open http:\/\/127\.0\.0\.1:\d+\/ to chat with the bot and watch its machine/,
    /state {4}idle → fetchingUrl/,
    /state {4}connecting → open/,
    /message {2}Echo Bot: echo: hello bot/,
    /state {4}open → backoff {3}\(socket closed \(1011 "Internal error"\)\)/,
    /message {2}Echo Bot: echo: still there\?/,
    /state {4}awaitingPong → backoff {3}\(no pong within pingWait/,
    /message {2}Echo Bot: echo: welcome back/,
    /registrations 1, sockets 3/,
    /SIGINT: stopping/,
    /state {4}open → idle/,
    /stopped/,
  ]) {
    assert.match(output, line);
  }
});

test('sparkbot --help explains the two modes', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, '--help'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0);
  assert.match(output, /WEBEX_TOKEN/);
});
