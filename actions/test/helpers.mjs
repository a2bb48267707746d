// A tiny local HTTP server standing in for the agent's telemetry API in these unit tests
// (the lead's end-to-end tests run the actions against the real agent).
import http from 'node:http';

export async function startApi(handler) {
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const r = { method: req.method, url: new URL(req.url, 'http://x'), headers: req.headers, body: body ? JSON.parse(body) : undefined };
      requests.push(r);
      const [status, json] = handler(r);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof json === 'string' ? json : JSON.stringify(json));
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { requests, url: `http://127.0.0.1:${port}`, close: () => new Promise((ok) => server.close(ok)) };
}

export const KEY = '23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP';

export function useApi(url) {
  process.env.__OW_API_HOST = url;
  process.env.__OW_API_KEY = KEY;
}
