// webex-node-bot-framework 2.3.14 (with the `webex` 2.4.2 it pins), used as a user would: pointed at
// the emulator only through the environment variables webex 2.4.2 reads (U2C_SERVICE_URL,
// HYDRA_SERVICE_URL; set by the runner). Run by interop/run.ts as a child process; it takes
// commands over IPC and reports what it saw back over IPC.
//
// Deliberately no process.on('unhandledRejection' | 'uncaughtException') and no error handler of
// our own: an error the framework lets escape ends this process, and the runner reports that.
'use strict';

const Framework = require('webex-node-bot-framework');

const { report, serve } = require('../ipc.cjs');

const framework = new Framework({ token: process.env.TOKEN });

framework.on('initialized', () => report({ event: 'initialized' }));
framework.on('spawn', (bot, _id, addedBy) => report({ event: 'spawn', roomId: bot.room.id, roomType: bot.room.type, addedBy }));
framework.hears(/hello/i, (bot, trigger) =>
  report({ event: 'hears', roomId: bot.room.id, text: trigger.text, messageId: trigger.message.id }),
);

const commands = {
  async start() {
    return { started: await framework.start() };
  },
  async say({ roomId, text }) {
    const bot = framework.bots.find((b) => b.room.id === roomId);
    if (!bot) throw new Error(`no bot spawned in room ${roomId} (bots in: ${framework.bots.map((b) => b.room.id).join(', ') || 'none'})`);
    const message = await bot.say(text);
    return { id: message?.id };
  },
  async stop() {
    return { stopped: await framework.stop() };
  },
};

serve(commands);
