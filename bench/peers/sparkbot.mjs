// sparkbot as users get it: the built dist/ through the package name (a self-reference: this file
// is inside the sparkbot package). Configured like the SDK: the U2C catalog and the REST base only.
import { SparkBot } from 'sparkbot';
import ipc from './ipc.cjs';

const { U2C_URL, API_URL } = process.env;

ipc.driver(async (token, onMessage) => {
  const bot = new SparkBot({ token, u2cUrl: U2C_URL, apiUrl: API_URL, allowInsecure: true, lastConn: false });
  bot.on('message', () => onMessage());
  bot.on('error', (error) => ipc.report({ event: 'error', error: ipc.describe(error) }));
  await bot.start();
  return () => bot.stop();
});
