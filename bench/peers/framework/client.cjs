// webex-node-bot-framework 2.3.14 (webex 2.4.2), pointed at the emulator through the environment
// variables webex 2.4.2 reads (U2C_SERVICE_URL, HYDRA_SERVICE_URL), as in interop/framework/client.cjs.
// A bot is open when 'initialized' fired; each message reaches framework.on('message').
'use strict';

const ipc = require('../ipc.cjs');
const Framework = require('webex-node-bot-framework');

ipc.driver(async (token, onMessage) => {
  const framework = new Framework({ token });
  framework.on('message', () => onMessage());
  const initialized = new Promise((resolve) => framework.once('initialized', resolve));
  await framework.start();
  await initialized;
  return () => framework.stop();
});
