// The official Webex JS SDK 3.12.0 (webex-core + device, mercury, metrics, people, messages), used
// as a user would: configured only through `config.services.discovery`. Run by interop/run.ts as a
// child process; it takes commands over IPC and reports what it saw back over IPC.
'use strict';

const { report, describe, serve } = require('../ipc.cjs');

// Any unhandled rejection or uncaught exception is reported, and the process goes on (a check of
// its own: the runner fails the "no unhandled errors" step when any arrives).
process.on('unhandledRejection', (reason) => report({ event: 'unhandledRejection', error: describe(reason), stack: reason?.stack }));
process.on('uncaughtException', (error) => report({ event: 'uncaughtException', error: describe(error), stack: error?.stack }));

const WebexCore = require('@webex/webex-core').default;
require('@webex/internal-plugin-device');
require('@webex/internal-plugin-mercury');
require('@webex/internal-plugin-metrics');
require('@webex/plugin-people');
require('@webex/plugin-messages');

const { TOKEN, U2C_URL, HYDRA_URL } = process.env;
const webex = new WebexCore({
  credentials: { access_token: TOKEN },
  config: { services: { discovery: { u2c: U2C_URL, hydra: HYDRA_URL } } },
});

const commands = {
  async register() {
    await webex.internal.device.register();
    return { url: webex.internal.device.url };
  },
  async connect() {
    await webex.internal.mercury.connect();
    return { connected: webex.internal.mercury.connected };
  },
  async listen() {
    await webex.messages.listen();
    webex.messages.on('created', (event) => report({ event: 'created', data: event.data }));
    return {};
  },
  async peopleGet({ id }) {
    const person = await webex.people.get(id);
    return { id: person.id, displayName: person.displayName, emails: person.emails };
  },
  async createMessage({ toPersonId, text }) {
    const message = await webex.messages.create({ toPersonId, text });
    return { id: message.id, text: message.text };
  },
  async disconnect() {
    await webex.internal.mercury.disconnect();
    await webex.internal.device.unregister();
    return {};
  },
};

serve(commands);
