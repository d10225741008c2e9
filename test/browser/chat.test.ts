/**
 * The emulator's chat page in a real (headless) Chromium, against a real bot on the real emulator:
 * a person's message and the bot's live answer, an Adaptive Card rendered, filled and submitted, a
 * thread reply and the bot's answer in that thread, and the bot's machine view (localInspector, in
 * the page's machine panel) going open → backoff → open around the "Drop socket" fault.
 *
 * The bot runs on a TestClock: after the drop it stays in backoff until the test moves the clock,
 * so the page can be seen showing it. Nothing here sleeps: every wait is for a selector or a text,
 * with a timeout. With SCREENSHOTS=1 (`npm run screenshots`) it also saves docs/images/chat-page.png
 * and docs/images/machine-view.png.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import type { AdaptiveCard } from '../../src/index.js';
import { localInspector } from '../../src/inspect/index.js';
import { defer, harness, startEmulator, waitForState } from '../support/helpers.js';
import { launchBrowser, screenshot } from './support.js';

/** ms any one thing may take to show in the page before the test fails. */
const SHOW = 10_000;

const voteCard: AdaptiveCard = {
  type: 'AdaptiveCard',
  $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
  version: '1.2',
  body: [
    { type: 'TextBlock', text: 'What should we have for lunch?', weight: 'Bolder', wrap: true },
    { type: 'Input.Text', id: 'choice', placeholder: 'Your choice' },
  ],
  actions: [{ type: 'Action.Submit', title: 'Vote', data: { action: 'vote' } }],
};

/** The message (top level or in a thread) whose text contains `text`, by the author of type `type`. */
function message(page: Page, type: 'person' | 'bot', text: string): Locator {
  return page.locator(`[data-testid="message"][data-author-type="${type}"]`).filter({ has: page.locator(':scope > .main > [data-testid="message-text"]', { hasText: text }) });
}

async function send(page: Page, text: string): Promise<void> {
  const composer = page.getByTestId('composer');
  await composer.fill(text);
  await page.getByTestId('send').click();
  // Sent: the composer is emptied once the emulator took the message.
  await page.waitForFunction(() => (globalThis as any).document.querySelector('[data-testid="composer"]').value === '', undefined, { timeout: SHOW });
}

/** The text of the connection machine's current state in the inspector (in the frame or its own page) once it is `state`. */
async function currentState(view: FrameLocator | Page, state: string): Promise<void> {
  await view.locator('[data-testid="bot"] [data-testid="current-state"]', { hasText: new RegExp(`^${state}$`) }).waitFor({ timeout: SHOW });
}

test('the chat page against a running bot: messages, cards, threads, and the machine view', { timeout: 30_000 }, async (t) => {
  const browser = await launchBrowser(t);
  if (!browser) return;

  const emulator = await startEmulator(t);
  const inspector = localInspector({ emulator, name: 'Lunch Bot', print: () => {} });
  defer(t, () => inspector.close());
  const { bot, person: botPerson, clock } = await harness(t, { emulator, person: emulator.createBot({ displayName: 'Lunch Bot' }), inspect: inspector });
  bot.command('card', ({ reply }) => reply({ card: voteCard, fallbackText: 'What should we have for lunch? (a card)' }));
  bot.action<{ choice: string }>('vote', ({ inputs, reply }) => reply(`you chose ${inputs.choice}`));
  // Replies go where the message came from: in its thread when it is in one.
  bot.otherwise(({ text, reply }) => reply(`echo: ${text}`));
  emulator.createUser({ displayName: 'Alice Martin' });
  await bot.start();
  const inspectorUrl = await inspector.url;

  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'UTC' });
  // The pages go first (cleanups run last-registered first): no stream of theirs outlives the bot, the inspector or the emulator.
  defer(t, () => context.close());
  const page = await context.newPage();
  const pageErrors: string[] = [];
  const watch = (watched: Page) => {
    watched.on('pageerror', (error) => pageErrors.push(`${watched.url()}: ${error.message}`));
    watched.on('console', (entry) => {
      if (entry.type() === 'error') pageErrors.push(`${watched.url()}: console: ${entry.text()}`);
    });
  };
  watch(page);
  await page.goto(emulator.uiUrl);
  await page.getByTestId('connection-status').and(page.locator('[data-live="true"]')).waitFor({ timeout: SHOW });
  // Alice (the only person) talks to the bot in a direct room.
  await page.locator(`[data-testid="person-item"][data-person-id="${botPerson.id}"]`).click();
  await page.getByTestId('room-title').filter({ hasText: 'Lunch Bot' }).waitFor({ timeout: SHOW });

  await t.test('a person posts and the bot answers live', async () => {
    await send(page, 'hello bot');
    await message(page, 'person', 'hello bot').waitFor({ timeout: SHOW });
    await message(page, 'bot', 'echo: hello bot').waitFor({ timeout: SHOW });
    assert.equal(await page.locator('[data-testid="message"][data-author-type="bot"]').first().getAttribute('data-author'), 'Lunch Bot');
  });

  await t.test('a card is rendered, filled and submitted, and the bot answers', async () => {
    await send(page, '/card');
    const card = page.locator('[data-testid="message"][data-author-type="bot"] [data-testid="card"]');
    await card.getByText('What should we have for lunch?').waitFor({ timeout: SHOW });
    await card.locator('input').fill('pizza');
    await card.getByRole('button', { name: 'Vote' }).click();
    await page.getByTestId('card-status').filter({ hasText: 'Submitted' }).waitFor({ timeout: SHOW });
    await message(page, 'bot', 'you chose pizza').waitFor({ timeout: SHOW });
  });

  await t.test('a reply in a thread lands in the thread, and so does the bot’s answer', async () => {
    const parent = message(page, 'person', 'hello bot');
    const parentId = await parent.getAttribute('data-message-id');
    assert.ok(parentId, 'the first message has an id');
    await parent.getByTestId('reply-button').click();
    await page.getByTestId('reply-banner').filter({ hasText: 'Replying to Alice Martin' }).waitFor({ timeout: SHOW });
    await send(page, 'and a drink?');
    const thread = page.locator(`[data-testid="message"][data-message-id="${parentId}"] > .main > [data-testid="thread"][data-parent-id="${parentId}"]`);
    await thread.locator('[data-testid="message"][data-author-type="person"]', { hasText: 'and a drink?' }).waitFor({ timeout: SHOW });
    await thread.locator('[data-testid="message"][data-author-type="bot"]', { hasText: 'echo: and a drink?' }).waitFor({ timeout: SHOW });
    for (const node of await thread.locator('[data-testid="message"]').all()) assert.equal(await node.getAttribute('data-parent-id'), parentId, 'every message of the thread names its parent');
    // In the thread only: neither message is at the top level of the list.
    assert.equal(await page.locator('[data-testid="message-list"] > [data-testid="message"] > .main > [data-testid="message-text"]', { hasText: 'and a drink?' }).count(), 0);
    await page.getByTestId('reply-banner').waitFor({ state: 'hidden', timeout: SHOW });
    await screenshot(page, 'chat-page.png');
  });

  await t.test('the machine view shows open, backoff after a drop, and open again', async () => {
    const tab = page.getByTestId('machine-tab').filter({ hasText: 'Lunch Bot' });
    await tab.waitFor({ timeout: SHOW });
    assert.equal(await tab.getAttribute('data-url'), inspectorUrl);
    const frameElement = page.getByTestId('machine-frame');
    assert.equal(await frameElement.getAttribute('src'), inspectorUrl);
    const frame = page.frameLocator('[data-testid="machine-frame"]');
    await frame.locator('#status.live').waitFor({ timeout: SHOW });
    await currentState(frame, 'open');
    await frame.locator('[data-testid="state"][data-state="online.open"].current').waitFor({ state: 'attached', timeout: SHOW });

    await page.getByTestId('fault-drop').click();
    await waitForState(bot, 'backoff');
    await currentState(frame, 'backoff');
    await frame.locator('[data-testid="state"][data-state="backoff"].current').waitFor({ state: 'attached', timeout: SHOW });
    await frame.locator('[data-testid="transition-log"] li[data-machine="connection"][data-from="online.open"][data-to="backoff"]').waitFor({ state: 'attached', timeout: SHOW });
    await page.getByTestId('log-entry').filter({ hasText: 'dropped 1 socket(s) with 1011' }).waitFor({ timeout: SHOW });

    // The reconnect delay is on the bot's TestClock: it fires now, and the bot reconnects.
    clock.runNext();
    await waitForState(bot, 'open');
    await currentState(frame, 'open');
    await frame.locator('[data-testid="state"][data-state="online.open"].current').waitFor({ state: 'attached', timeout: SHOW });
    await frame.locator('[data-testid="transition-log"] li[data-machine="connection"][data-from="backoff"][data-to="fetchingUrl"]').waitFor({ state: 'attached', timeout: SHOW });
    assert.equal(await frame.locator('[data-testid="state"].current[data-state="backoff"]').count(), 0, 'backoff is no longer lit');

    // The bot still answers after its reconnect.
    await send(page, 'still there?');
    await message(page, 'bot', 'echo: still there?').waitFor({ timeout: SHOW });

    // The inspector's own page, as the frame shows it, for the docs.
    const view = await context.newPage();
    watch(view);
    await view.goto(inspectorUrl);
    await currentState(view, 'open');
    await view.locator('[data-testid="transition-log"] li[data-to="backoff"]').waitFor({ state: 'attached', timeout: SHOW });
    await screenshot(view, 'machine-view.png', { fullPage: true });
    await view.close();
  });

  assert.deepEqual(pageErrors, [], 'no script error in the pages');
});
