// The official Webex JS SDK 3.12.0 pieces, configured as in interop/sdk/client.cjs (services.discovery
// only). A bot is open when `messages.listen()` resolved: device registered, Mercury connected.
'use strict';

const ipc = require('../ipc.cjs');

const WebexCore = require('@webex/webex-core').default;
require('@webex/internal-plugin-device');
require('@webex/internal-plugin-mercury');
require('@webex/internal-plugin-metrics');
require('@webex/plugin-people');
require('@webex/plugin-messages');

const { U2C_URL, API_URL } = process.env;
process.on('unhandledRejection', (reason) => ipc.report({ event: 'error', error: `unhandledRejection ${ipc.describe(reason)}` }));

ipc.driver(async (token, onMessage) => {
  const webex = new WebexCore({ credentials: { access_token: token }, config: { services: { discovery: { u2c: U2C_URL, hydra: API_URL } } } });
  await webex.messages.listen();
  webex.messages.on('created', () => onMessage());
  return async () => {
    await webex.internal.mercury.disconnect();
    await webex.internal.device.unregister();
  };
});
