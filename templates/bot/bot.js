// @ts-check
/**
 * {{name}}: a Webex bot, built with sparkbot.
 *
 * `sparkbot run bot.js` creates the bot, hands it to the function below, then connects it:
 *
 *   npm run dev                  on a local Webex emulator: open the page it prints and chat with the bot
 *   WEBEX_TOKEN=<token> npm start    on Webex, as the bot whose token you give
 *   npm test                     bot.test.js, against the emulator
 */

/**
 * The card `/card` sends: a text input and a button. The button's `data.action` names the
 * `bot.action` that handles the submit; the handler gets every input of the card by id.
 *
 * @type {import('sparkbot').AdaptiveCard}
 */
export const nameCard = {
  type: 'AdaptiveCard',
  $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
  version: '1.2',
  body: [
    { type: 'TextBlock', text: 'What should I call you?', weight: 'Bolder' },
    { type: 'Input.Text', id: 'name', placeholder: 'Your name' },
  ],
  actions: [{ type: 'Action.Submit', title: 'Send', data: { action: 'greet' } }],
};

/**
 * Sets the bot up: its commands and card actions. Nothing here connects: `sparkbot run` (or a
 * test) starts the bot after.
 *
 * @param {import('sparkbot').SparkBot} bot
 */
export default function setup(bot) {
  bot.command('hello', ({ reply }) => reply('Hello! 👋 Send /card for a card.'), { help: 'says hello' });

  bot.command('card', ({ reply }) => reply({ card: nameCard, fallbackText: 'What should I call you? (your Webex client shows a card)' }), {
    help: 'sends a card to fill in',
  });

  bot.action('greet', ({ inputs, reply }) => {
    const name = String(inputs.name ?? '').trim();
    return reply(name === '' ? 'You left the name empty: try /card again.' : `Nice to meet you, ${name}!`);
  });
}
