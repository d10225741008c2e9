/**
 * A command bot: `/roll [sides]`, `/echo <text>`, "what time is it", a generated `/help`, and a
 * polite answer to everything else. In group rooms people mention the bot ("@Bot /roll 20"); the
 * mention is stripped for you. Routes are exclusive: each message gets one answer.
 */
import { SparkBot, type SparkBotOptions } from 'sparkbot';
import { isMain, runExample } from './run.js';

export function commandBot(options: SparkBotOptions<SparkBot>, random: () => number = Math.random): SparkBot {
  const bot = new SparkBot(options);
  bot.command(
    'roll',
    ({ args, reply }) => {
      const sides = Number(args[0] ?? 6);
      if (!Number.isInteger(sides) || sides < 2) return reply('Give me a whole number of sides, at least 2: `/roll 20`');
      return reply(`🎲 ${1 + Math.floor(random() * sides)} (d${sides})`);
    },
    { help: 'rolls a die (6 sides unless you say)', usage: '/roll [sides]' },
  );
  bot.command('echo', ({ rest, reply }) => reply(rest === '' ? '…' : rest), { help: 'says it back', usage: '/echo <text>' });
  bot.hears(/what time is it/i, ({ reply }) => reply(`It is ${new Date().toISOString()} (UTC).`), { help: 'the time', usage: 'what time is it?' });
  bot.otherwise(({ reply }) => reply("Sorry, I don't know that one. Try `/help`."));
  return bot;
}

if (isMain(import.meta.url)) await runExample(commandBot, ['/roll 20', '/roll abc', 'what time is it?', 'hello', '/help']);
