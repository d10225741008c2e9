// The IPC plumbing both interop clients share: `report` sends what a client saw to the runner
// (interop/run.ts); `serve(commands)` runs the runner's commands and answers each, then says the
// client is loaded.
'use strict';

const report = (msg) => process.send?.(msg);
const describe = (e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

function serve(commands) {
  process.on('message', async ({ id, cmd, args }) => {
    try {
      report({ re: id, ok: true, value: await commands[cmd](args ?? {}) });
    } catch (error) {
      report({ re: id, ok: false, error: describe(error) });
    }
  });
  report({ event: 'loaded' });
}

module.exports = { report, describe, serve };
