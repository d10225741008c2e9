/**
 * An Adaptive Card bot: "/poll" sends a card with a choice; a submit is answered with the vote.
 * Card submits arrive as 'cardAction' events with the card's inputs.
 */
import { SparkBot, type CardAttachment, type SparkBotOptions } from 'sparkbot';
import { isMain, runExample } from './run.js';

export const pollCard: CardAttachment = {
  contentType: 'application/vnd.microsoft.card.adaptive',
  content: {
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
    actions: [{ type: 'Action.Submit', title: 'Vote' }],
  },
};

export function cardBot(options: SparkBotOptions<SparkBot>): SparkBot {
  const bot = new SparkBot(options);
  bot.command('poll', ({ reply }) => reply({ markdown: 'Lunch? (your Webex client shows a card)', attachments: [pollCard] }), { help: 'starts a lunch poll' });
  bot.on('cardAction', async (action) => {
    const voter = await bot.api.people.get(action.personId);
    await action.reply(`Thanks ${voter.displayName}, one more vote for ${String(action.inputs.lunch)}.`);
  });
  return bot;
}

if (isMain(import.meta.url)) await runExample(cardBot);
