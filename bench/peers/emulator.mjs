// The emulator of `npm run bench:peers`, in a process of its own (the built one: sparkbot/emulator
// from dist/), driven by the runner over IPC. Four users write to the bots, in their direct rooms.
import { WebexEmulator } from 'sparkbot/emulator';

const wall = () => performance.timeOrigin + performance.now();
const emulator = await WebexEmulator.start();
const users = [0, 1, 2, 3].map((i) => emulator.createUser({ displayName: `User ${i}` }));
let posted = 0;
/** The last message posted to each bot and its author, for `acknowledge` activities. */
const lastMessage = new Map();

const commands = {
  urls: () => ({ u2cUrl: emulator.u2cUrl, apiUrl: emulator.apiUrl, wdmUrl: emulator.wdmUrl }),
  bots({ n }) {
    return Array.from({ length: n }, (_, i) => {
      const bot = emulator.createBot({ displayName: `Bench Bot ${i}` });
      return { token: bot.token, uuid: bot.uuid };
    });
  },
  /** Posts n messages to the bot as fast as it can (round-robin over the users); answers when all are sent. */
  post({ uuid, n }) {
    const bot = emulator.people.get(uuid);
    const at = wall();
    for (let i = 0; i < n; i += 1) {
      posted += 1;
      const from = users[posted % users.length];
      lastMessage.set(uuid, { id: emulator.postMessage({ from, toPerson: bot, text: `message ${posted}` }).id, from });
    }
    return { at };
  },
  /**
   * n `acknowledge` activities (a user read the bot's last message: a read receipt, which no client
   * turns into a REST call); answers when the bot's socket has acked every one of them.
   */
  activities({ uuid, n }) {
    const conns = new Set(emulator.connections.filter((c) => emulator.devices.get(c.deviceUuid)?.ownerUuid === uuid && c.closedAt === undefined).map((c) => c.id));
    const since = emulator.deliveries.length;
    const at = wall();
    const { id, from } = lastMessage.get(uuid);
    for (let i = 0; i < n; i += 1) emulator.acknowledge(id, from);
    const waiting = new Set(emulator.deliveries.slice(since).filter((d) => conns.has(d.connectionId)).map((d) => d.envelopeId));
    if (waiting.size !== n) throw new Error(`${waiting.size} of ${n} activities delivered to the bot's socket`);
    return new Promise((resolve) => {
      const onAck = () => {
        waiting.delete(emulator.acks[emulator.acks.length - 1].messageId);
        if (waiting.size > 0) return;
        emulator.off('ack', onAck);
        resolve({ at, acked: wall() });
      };
      emulator.on('ack', onAck);
    });
  },
};

process.on('message', async ({ id, cmd, args }) => {
  try {
    process.send({ re: id, ok: true, value: await commands[cmd](args ?? {}) });
  } catch (error) {
    process.send({ re: id, ok: false, error: String(error?.stack ?? error) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ event: 'loaded' });
