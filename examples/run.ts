/**
 * Runs an example bot on real Webex: `WEBEX_TOKEN=<bot token> npx tsx examples/echo.ts`.
 * Ctrl-C (SIGINT) or SIGTERM stops it cleanly.
 */
import { pathToFileURL } from 'node:url';
import type { SparkBot, SparkBotOptions } from 'sparkbot';

/** True when `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href;
}

export async function runExample(make: (options: SparkBotOptions<SparkBot>) => SparkBot): Promise<void> {
  const token = process.env.WEBEX_TOKEN;
  if (!token) {
    console.error('Set WEBEX_TOKEN to a bot access token from developer.webex.com (or try `npm start` for the offline demo).');
    process.exit(2);
  }
  const bot = make({ token });
  bot.on('state', (state, previous) => console.log(`${previous} -> ${state}`));
  bot.on('error', (error) => console.error(`${error.code}: ${error.message}`));
  const stop = (signal: NodeJS.Signals) => {
    console.log(`${signal}: stopping`);
    void bot.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await bot.start();
  console.log(`running as ${bot.currentUser?.displayName ?? '?'}; Ctrl-C stops`);
}
