/**
 * A command bot: `/roll [sides]`, `/echo <text>`, "what time is it", and a generated `/help`.
 * In group rooms people mention the bot ("@Bot /roll 20"); the mention is stripped for you.
 */
import { SparkBot, type SparkBotOptions } from 'sparkbot';
import { isMain, runExample } from './run.js';

export function commandBot(options: SparkBotOptions<SparkBot>, random: () => number = Math.random): SparkBot {
  const bot = new SparkBot(options);
  bot.command(
    'roll',
    async ({ args, reply }) => {
      const sides = Number(args[0] ?? 6);
      if (!Number.isInteger(sides) || sides < 2) return reply('Give me a whole number of sides, at least 2: `/roll 20`');
      return reply(`🎲 ${1 + Math.floor(random() * sides)} (d${sides})`);
    },
    { help: 'rolls a die (6 sides unless you say)', usage: '/roll [sides]' },
  );
  bot.command('echo', ({ rest, reply }) => reply(rest === '' ? '…' : rest), { help: 'says it back', usage: '/echo <text>' });
  bot.hears(/what time is it/i, ({ reply }) => reply(`It is ${new Date().toISOString()} (UTC).`), { help: 'the time' });
  return bot;
}

if (isMain(import.meta.url)) await runExample(commandBot);
