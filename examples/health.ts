/**
 * Serving `bot.health()` on an HTTP endpoint, for a load balancer or a container orchestrator:
 * 200 while the bot is connected, 503 otherwise, with the health as JSON (never the token).
 *
 *   const server = await serveHealth(bot, 8080);   // GET http://localhost:8080/health
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SparkBot } from 'sparkbot';

export async function serveHealth(bot: Pick<SparkBot, 'health'>, port = 8080, host = '127.0.0.1'): Promise<Server & { url: string }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/health') {
      res.writeHead(404).end();
      return;
    }
    const health = bot.health();
    res.writeHead(health.connected ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify(health));
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const { port: actual } = server.address() as AddressInfo;
  return Object.assign(server, { url: `http://${host}:${actual}/health` });
}
