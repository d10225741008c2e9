// What every client driver of `npm run bench:peers` shares: the IPC with the runner (bench/peers/run.ts)
// and the measures taken inside the client process. A driver only says how to open one bot:
//
//   driver(async (token, onMessage) => { …connect, call onMessage() per enriched message…; return close; })
//
// Commands (each answered over IPC): start {token} → {ms} (start → open of one bot, kept as the
// current one), stop, arm {n} → {cpu} (then one 'done' report when the n-th message is handled,
// with the time and the process CPU), cpu → {cpu}, heap {tokens} → heap per idle connected bot.
'use strict';

const report = (msg) => process.send?.(msg);
/** Wall clock in ms with sub-ms precision, comparable across processes of one machine. */
const wall = () => performance.timeOrigin + performance.now();
const describe = (e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

async function settledHeap() {
  if (typeof global.gc !== 'function') throw new Error('run the client with --expose-gc');
  for (let i = 0; i < 4; i += 1) {
    await new Promise((resolve) => setImmediate(resolve));
    global.gc();
  }
  return process.memoryUsage().heapUsed;
}

function driver(open) {
  let current;
  let target = 0;
  let seen = 0;
  const onMessage = () => {
    seen += 1;
    if (seen === target) report({ event: 'done', at: wall(), cpu: process.cpuUsage() });
  };
  const commands = {
    async start({ token }) {
      const began = performance.now();
      current = await open(token, onMessage);
      return { ms: performance.now() - began };
    },
    async stop() {
      await current?.();
      current = undefined;
      return {};
    },
    arm({ n }) {
      seen = 0;
      target = n;
      return { cpu: process.cpuUsage() };
    },
    cpu: () => ({ cpu: process.cpuUsage(), seen }),
    // One bot connected first (kept) so that what every client builds once per process is not
    // counted; then the heap of the other bots, all connected and idle, after full GCs.
    async heap({ tokens }) {
      const [first, ...rest] = tokens;
      const closers = [await open(first, () => {})];
      const before = await settledHeap();
      for (const token of rest) closers.push(await open(token, () => {}));
      await new Promise((resolve) => setTimeout(resolve, 500)); // let the last handshakes settle
      const after = await settledHeap();
      return { bots: rest.length, perBot: (after - before) / rest.length };
    },
  };
  process.on('message', async ({ id, cmd, args }) => {
    try {
      report({ re: id, ok: true, value: await commands[cmd](args ?? {}) });
    } catch (error) {
      report({ re: id, ok: false, error: describe(error) });
    }
  });
  process.on('disconnect', () => process.exit(0)); // the runner is gone
  report({ event: 'loaded' });
}

module.exports = { driver, report, wall, describe };
