/** An echo bot: every message someone sends it comes back, in the same room and thread. */
import { SparkBot, type SparkBotOptions } from 'sparkbot';
import { isMain, runExample } from './run.js';

export function echoBot(options: SparkBotOptions<SparkBot>): SparkBot {
  const bot = new SparkBot(options);
  bot.otherwise(({ text, reply }) => reply(`echo: ${text}`));
  return bot;
}

if (isMain(import.meta.url)) await runExample(echoBot, ['hello', 'how are you?']);
