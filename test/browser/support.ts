/**
 * A headless Chromium for the browser tests, through playwright-core and the system's
 * /usr/bin/chromium (Debian's package; Playwright never downloads a browser here). Tests call
 * `launchBrowser(t)`, which skips them when the binary is missing (and fails them in CI, like
 * `startRedis`), and closes the browser after the test.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { defer } from '../support/helpers.js';

/** The only browser the tests use: the system's Chromium. */
export const CHROMIUM = '/usr/bin/chromium';

/** The flags of every launch: headless, no sandbox (containers), nothing that talks to the network by itself. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] as const;

const SKIP_MESSAGE = `chromium not installed at ${CHROMIUM} (apt-get install chromium): browser tests skipped`;

/** Where the screenshots go: docs/images/ of the repository. */
export const IMAGES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'images');

/** True when the system's Chromium is there and executable. */
export function hasChromium(): boolean {
  try {
    if (!statSync(CHROMIUM).isFile()) return false;
    accessSync(CHROMIUM, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

let skipNoted = false;

/**
 * A headless Chromium for test `t`, closed after the test (and with it every page). Without the
 * binary: fails in CI (CI=true), otherwise skips the test and resolves undefined (the test then
 * returns), saying so once per process.
 */
export async function launchBrowser(t: TestContext): Promise<Browser | undefined> {
  if (!hasChromium()) {
    if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is not installed: CI needs it for the browser tests (apt-get install chromium)`);
    t.skip(SKIP_MESSAGE);
    if (!skipNoted) {
      skipNoted = true;
      console.log(SKIP_MESSAGE);
    }
    return undefined;
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS], timeout: 20_000 });
  defer(t, () => browser.close());
  return browser;
}

/** Whether this run takes screenshots (SCREENSHOTS=1, as `npm run screenshots` sets it). */
export const SCREENSHOTS = process.env.SCREENSHOTS === '1';

/** Saves a screenshot of `page` (its viewport, or the whole page) as docs/images/<name> when SCREENSHOTS=1; otherwise does nothing. */
export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  if (!SCREENSHOTS) return;
  await mkdir(IMAGES_DIR, { recursive: true });
  await page.screenshot({ path: join(IMAGES_DIR, name), animations: 'disabled', caret: 'hide', fullPage: options.fullPage === true });
}
