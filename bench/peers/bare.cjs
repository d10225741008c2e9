// The floor: a minimal Webex client on `ws` and node:http, nothing else. It registers a device at the
// WDM URL it is given (no service catalog), opens the socket, authorizes, waits for
// mercury.buffer_state, acks every frame with an id, and for each `post` activity GETs the message
// (keep-alive, at most 8 requests in flight, like sparkbot's default concurrency) before its handler.
// No retries, no reconnects, no validation: not a client to use, only what the work costs at least.
'use strict';

const http = require('node:http');
const { randomUUID } = require('node:crypto');
const WebSocket = require('ws');
const ipc = require('./ipc.cjs');

const { WDM_URL, API_URL } = process.env;
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function request(method, url, token, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers = { authorization: `Bearer ${token}`, ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}) };
    const req = http.request(url, { method, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode >= 300) reject(new Error(`${method} ${url}: ${res.statusCode}`));
        else resolve(text ? JSON.parse(text) : undefined);
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

const messageId = (uuid) => Buffer.from(`ciscospark://us/MESSAGE/${uuid}`).toString('base64');

ipc.driver(async (token, onMessage) => {
  const device = await request('POST', WDM_URL, token, { deviceName: 'bench', deviceType: 'DESKTOP', localizedModel: 'nodeJS', model: 'nodeJS', name: 'bench', systemName: 'bench', systemVersion: '1' });
  const ws = new WebSocket(`${device.webSocketUrl}?outboundWireFormat=text&bufferStates=true&aliasHttpStatus=true`);
  await new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ id: randomUUID(), type: 'authorization', data: { token: `Bearer ${token}` } })));
    ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString());
      if (frame.id) ws.send(JSON.stringify({ type: 'ack', messageId: frame.id }));
      const eventType = frame.data?.eventType;
      if (eventType === 'mercury.buffer_state') resolve();
      const activity = frame.data?.activity;
      if (eventType === 'conversation.activity' && activity?.verb === 'post') {
        request('GET', `${API_URL}/messages/${messageId(activity.id)}`, token).then(onMessage, (error) => ipc.report({ event: 'error', error: ipc.describe(error) }));
      }
    });
  });
  return async () => {
    ws.close(1000);
    await request('DELETE', device.url, token);
  };
});
