/**
 * Regenerates the screenshots in docs/images/ (`npm run screenshots`): runs the browser tests with
 * SCREENSHOTS=1, which drive the emulator's chat page and the inspector's page in the system's
 * headless Chromium and save, as they go,
 *
 * - docs/images/chat-page.png: the chat page (1280×800) with a small conversation — a message and
 *   the bot's answer, a rendered Adaptive Card and its answer, a thread — and the machine panel;
 * - docs/images/machine-view.png: the inspector's page, the state lit, transitions in the log.
 *
 * Fails when the tests fail, when Chromium is missing (/usr/bin/chromium), or when an image was
 * not written by this run.
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, hasChromium, IMAGES_DIR } from '../test/browser/support.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TESTS = ['test/browser/chat.test.ts'];
const IMAGES = ['chat-page.png', 'machine-view.png'];

if (!hasChromium()) {
  console.error(`screenshots: ${CHROMIUM} is not installed (apt-get install chromium); nothing was taken.`);
  process.exit(1);
}

const started = Date.now();
const code = await new Promise<number>((resolve) => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', ...TESTS], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, SCREENSHOTS: '1' } });
  child.on('error', (error) => {
    console.error(`screenshots: could not run the browser tests: ${error.message}`);
    resolve(1);
  });
  child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
});
if (code !== 0) {
  console.error(`screenshots: the browser tests failed (exit ${code}); the images may be stale.`);
  process.exit(code);
}

let missing = 0;
for (const name of IMAGES) {
  const file = join(IMAGES_DIR, name);
  const info = await stat(file).catch(() => undefined);
  // File times may be coarser than Date.now(): a second of slack.
  if (!info || info.mtimeMs < started - 1_000) {
    console.error(`screenshots: ${file} was not written by this run`);
    missing += 1;
  } else console.log(`screenshots: wrote ${file} (${Math.round(info.size / 1024)} KB)`);
}
process.exit(missing === 0 ? 0 : 1);
