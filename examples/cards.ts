/**
 * An Adaptive Card bot: "/poll" sends a card with a choice; its Submit button carries
 * `{ action: 'vote' }`, so the submit goes to `bot.action('vote', …)` with the card's inputs.
 */
import { SparkBot, type AdaptiveCard, type SparkBotOptions } from 'sparkbot';
import { isMain, runExample } from './run.js';

export const pollCard: AdaptiveCard = {
  type: 'AdaptiveCard',
  $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
  version: '1.2',
  body: [
    { type: 'TextBlock', text: 'Lunch?', weight: 'Bolder' },
    {
      type: 'Input.ChoiceSet',
      id: 'lunch',
      value: 'pizza',
      choices: [
        { title: 'Pizza', value: 'pizza' },
        { title: 'Salad', value: 'salad' },
      ],
    },
  ],
  actions: [{ type: 'Action.Submit', title: 'Vote', data: { action: 'vote' } }],
};

export function cardBot(options: SparkBotOptions<SparkBot>): SparkBot {
  const bot = new SparkBot(options);
  bot.command('poll', ({ reply }) => reply({ card: pollCard, fallbackText: 'Lunch? (your Webex client shows a card)' }), { help: 'starts a lunch poll' });
  bot.action<{ lunch: string }>('vote', async ({ inputs, personId, reply }) => {
    const voter = await bot.api.people.get(personId);
    await reply(`Thanks ${voter.displayName}, one more vote for ${inputs.lunch}.`);
  });
  return bot;
}

if (isMain(import.meta.url)) await runExample(cardBot, ['/poll', { submit: { action: 'vote', lunch: 'salad' } }]);
