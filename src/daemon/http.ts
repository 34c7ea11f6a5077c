// The daemon's HTTP face: GET /metrics (Prometheus text), GET /health, GET /health/DEVICE.
// Nothing else answers 200. Loopback by default; no auth, no TLS.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { isServing, type DeviceView, type HealthView } from './view.js';

export interface HttpOptions {
  registry: Registry;
  view: HealthView;
  /** Called with errors of the metrics collection, so they reach the log. */
  onError?: (err: unknown, route: string) => void;
}

/** The body of GET /health and of each entry in it. */
export interface HealthBody {
  ok: boolean;
  devices: DeviceView[];
}

function send(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

function sendJson(res: ServerResponse, code: number, value: unknown): void {
  send(res, code, 'application/json; charset=utf-8', `${JSON.stringify(value, null, 2)}\n`);
}

export function createHttpServer(opts: HttpOptions): Server {
  const { registry, view } = opts;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'method not allowed' });
    }
    if (path === '/metrics') {
      return send(res, 200, registry.contentType, await registry.metrics());
    }
    if (path === '/health') {
      const devices = view.devices();
      const ok = devices.length > 0 && devices.every(isServing);
      const body: HealthBody = { ok, devices };
      return sendJson(res, ok ? 200 : 503, body);
    }
    if (path.startsWith('/health/')) {
      const name = decodeURIComponent(path.slice('/health/'.length));
      const d = view.devices().find((x) => x.name === name);
      if (!d) return sendJson(res, 404, { error: `no device named '${name}'` });
      return sendJson(res, isServing(d) ? 200 : 503, d);
    }
    return sendJson(res, 404, { error: 'not found', routes: ['/metrics', '/health', '/health/DEVICE'] });
  };
  return createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      opts.onError?.(err, req.url ?? '');
      if (!res.headersSent) sendJson(res, 500, { error: String((err as Error)?.message ?? err) });
      else res.destroy();
    });
  });
}

/** Parse `HOST:PORT` / `[v6]:PORT`. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(listen);
  if (!m) throw new RangeError(`listen: expected HOST:PORT, got '${listen}'`);
  return { host: m[1] ?? '127.0.0.1', port: Number(m[2]) };
}

export function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
