/**
 * Runs an example bot:
 * - on Webex: `WEBEX_TOKEN=<bot token> npx tsx examples/echo.ts`;
 * - offline, without WEBEX_TOKEN: on the built-in Webex emulator, where a simulated person, Alice,
 *   says the example's lines to the bot; every message is printed. Ctrl-C (or SIGTERM) stops it.
 */
import { pathToFileURL } from 'node:url';
import { SparkBot, type SparkBotOptions } from 'sparkbot';
import { WebexEmulator } from 'sparkbot/emulator';

/** True when `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href;
}

/** What Alice says to the bot in the offline run: a line, or a card submit on the bot's last card. */
export type DemoLine = string | { readonly submit: Record<string, unknown> };

export async function runExample(make: (options: SparkBotOptions<SparkBot>) => SparkBot, demo: readonly DemoLine[] = ['hello']): Promise<void> {
  const token = process.env.WEBEX_TOKEN;
  const emulator = token ? undefined : await WebexEmulator.start();
  const me = emulator?.createBot({ displayName: 'Example Bot' });
  const bot = make(emulator && me ? { token: me.token, ...emulator.botOptions(), lastConn: false } : { token: token ?? '' });
  bot.on('state', (state, previous) => console.log(`${previous} -> ${state}`));
  bot.on('error', (error) => console.error(`${error.code}: ${error.message}`));
  const stop = (signal: NodeJS.Signals) => {
    console.log(`${signal}: stopping`);
    void bot.stop().then(async () => {
      await emulator?.close();
      process.exit(0);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await bot.start();
  console.log(`running as ${bot.currentUser?.displayName ?? '?'}; Ctrl-C stops`);
  if (!emulator || !me) return;

  // Offline: Alice talks to the bot, one line after the bot's answer to the one before.
  const alice = emulator.createUser({ displayName: 'Alice', email: 'alice@example.com' });
  const fromBot = () => [...emulator.messages.values()].filter((m) => m.personUuid === me.uuid);
  emulator.on('change', (kind: string, detail: { method?: string; path?: string }) => {
    if (kind === 'request' && detail.method === 'POST' && detail.path === '/v1/messages') {
      const message = fromBot().at(-1);
      const file = message?.shared?.[0]?.name ?? (message?.files?.length ? 'a file' : undefined);
      console.log(`bot:   ${message?.text ?? message?.markdown ?? ''}${file ? ` [file: ${file}]` : ''}${message?.attachments?.length ? ' [card]' : ''}`);
    }
  });
  for (const line of demo) {
    const answered = fromBot().length;
    if (typeof line === 'string') {
      console.log(`alice: ${line}`);
      emulator.postMessage({ from: alice, toPerson: me, text: line });
    } else {
      await emulator.waitFor(() => fromBot().some((m) => m.attachments?.length), { timeout: 10_000, what: 'a card to submit' });
      const card = [...fromBot()].reverse().find((m) => m.attachments?.length);
      console.log(`alice: (submits the card: ${JSON.stringify(line.submit)})`);
      emulator.submitCard({ by: alice, messageId: card?.id ?? '', inputs: line.submit });
    }
    await emulator.waitFor(() => fromBot().length > answered, { timeout: 10_000, what: 'the bot to answer' });
  }
  console.log('(offline demo done; Ctrl-C stops)');
}
