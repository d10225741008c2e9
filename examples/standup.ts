/**
 * A standup bot, showing most of the toolkit together:
 * - `restrictTo`: only people of example.com may use it (others get a polite no);
 * - `/standup`: asks two questions (`ctx.ask`) and waits for the answers, keeps them in the room's
 *   storage, thanks in a thread under the command (`reply(…, { thread: true })`), then sends a
 *   card whose Submit is routed by its action id (`bot.action('mood', …)`);
 * - `/report`: uploads today's answers as a CSV file (`files` with bytes and a name).
 */
import { restrictTo, SparkBot, type AdaptiveCard, type SparkBotOptions } from 'sparkbot';
import { isMain, runExample } from './run.js';

interface Entry {
  readonly who: string;
  readonly yesterday: string;
  readonly today: string;
}

export const moodCard: AdaptiveCard = {
  type: 'AdaptiveCard',
  version: '1.3',
  body: [
    { type: 'TextBlock', text: 'How do you feel about today?', weight: 'Bolder' },
    { type: 'Input.ChoiceSet', id: 'mood', value: 'good', choices: ['great', 'good', 'meh'].map((m) => ({ title: m, value: m })) },
  ],
  actions: [{ type: 'Action.Submit', title: 'Send', data: { action: 'mood' } }],
};

export function standupBot(options: SparkBotOptions<SparkBot>): SparkBot {
  const bot = new SparkBot(options);
  bot.use(restrictTo({ domains: ['example.com'] }));

  bot.command(
    'standup',
    async ({ ask, reply, say, storage, personEmail }) => {
      const yesterday = await ask('What did you do yesterday?', { timeout: 10 * 60_000 });
      const today = await ask('And what will you do today?', { timeout: 10 * 60_000 });
      const entry: Entry = { who: personEmail ?? '?', yesterday: yesterday.text ?? '', today: today.text ?? '' };
      // update, not get-then-set: two people may finish their standup at once.
      await storage.update<Entry[]>('standup', (entries = []) => [...entries, entry]);
      await reply({ markdown: `Thanks! **Yesterday:** ${entry.yesterday} — **today:** ${entry.today}` }, { thread: true });
      await say({ card: moodCard, fallbackText: 'How do you feel about today? (your Webex client shows a card)' });
    },
    { help: 'tell the team what you did and will do', usage: '/standup' },
  );

  bot.action<{ mood: string }>('mood', ({ inputs, reply }) => reply(`Noted: you feel ${inputs.mood}.`));

  bot.command(
    'report',
    async ({ reply, storage }) => {
      const entries = (await storage.get<Entry[]>('standup')) ?? [];
      if (entries.length === 0) return reply('Nobody has done their standup yet: `/standup`');
      const quote = (text: string) => `"${text.replace(/"/g, '""')}"`;
      const csv = ['who,yesterday,today', ...entries.map((e) => [e.who, e.yesterday, e.today].map(quote).join(','))].join('\n');
      return reply({ text: `${entries.length} standup(s) so far`, files: [{ data: Buffer.from(`${csv}\n`), filename: 'standup.csv', contentType: 'text/csv' }] });
    },
    { help: "today's answers, as a CSV file", usage: '/report' },
  );
  return bot;
}

if (isMain(import.meta.url)) await runExample(standupBot, ['/standup', 'fixed the build', 'release 1.2', { submit: { action: 'mood', mood: 'great' } }, '/report']);
