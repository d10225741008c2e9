/** An echo bot: every message someone sends it comes back, in the same room and thread. */
import { SparkBot, type SparkBotOptions } from 'sparkbot';
import { isMain, runExample } from './run.js';

export function echoBot(options: SparkBotOptions<SparkBot>): SparkBot {
  const bot = new SparkBot(options);
  bot.on('message', async (message) => {
    await message.reply(`echo: ${message.text ?? ''}`);
  });
  return bot;
}

if (isMain(import.meta.url)) await runExample(echoBot);
