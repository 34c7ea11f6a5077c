// The daemon's HTTP face: GET /metrics (Prometheus text), GET /health, GET /health/DEVICE.
// Nothing else answers 200. Loopback by default; no auth, no TLS.
//
// The audio threads share a CPU with this server, so every way a client can make it work
// or wait is bounded (HTTP_LIMITS): slow or silent clients are cut by Node's header and
// request timeouts, connections beyond a cap are answered 503 at once instead of queued,
// request bodies are never read, answers have a bounded size, and concurrent scrapes of
// /metrics share one collection.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Registry } from 'prom-client';
import { isServing, type DeviceView, type HealthView } from './view.js';

/**
 * Fixed bounds of the HTTP server. Constants rather than config: the only clients
 * are a Prometheus scraper and `alsa-health status`, which stay far inside them.
 */
export const HTTP_LIMITS = {
  /** Longest request target (path and query), bytes; longer: 414. */
  maxUrlBytes: 2048,
  /** Request line plus headers, bytes; more: 431 (Node's parser stops reading). */
  maxHeaderBytes: 8192,
  /** A request's headers must be in within this (slowloris); else 408 and close. */
  headersTimeoutMs: 5000,
  /** The whole request likewise; bodies are never read, so it equals the headers' bound. */
  requestTimeoutMs: 5000,
  /** How often Node checks the two timeouts: a slow client is cut within timeout + this. One wake-up a second, not more. */
  checkIntervalMs: 1000,
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: 5000,
  /** A socket with no traffic either way (e.g. a client that does not read its answer) is closed. */
  idleTimeoutMs: 15_000,
  /** Connections served at once; further ones are answered 503 + Retry-After and closed. */
  maxConnections: 64,
  /** Sockets of any kind, served or being turned away; beyond it Node drops the connection unanswered. */
  maxSockets: 1024,
  /** How long a turned-away or failed socket may linger (reading the request it is refused) before it is destroyed. */
  lingerMs: 1000,
  /** Retry-After of a 503 for a full server, seconds. */
  retryAfterS: 1,
  /** Characters of a device name echoed back in a 404. */
  maxEchoChars: 64,
} as const;

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

const ALLOW = 'GET, HEAD';
const JSON_TYPE = 'application/json; charset=utf-8';

function send(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

function sendJson(res: ServerResponse, code: number, value: unknown): void {
  send(res, code, JSON_TYPE, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A whole HTTP/1.1 answer for a socket that has no ServerResponse (refused or unparsable).
 * `head`: the answer to a HEAD request, which must not carry the body it announces.
 */
function rawAnswer(code: number, reason: string, error: string, extra: Record<string, string> = {}, head = false): string {
  const body = `${JSON.stringify({ error })}\n`;
  const headers = {
    'content-type': JSON_TYPE,
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    connection: 'close',
    ...extra,
  };
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
  return `HTTP/1.1 ${code} ${reason}\r\n${lines.join('')}\r\n${head ? '' : body}`;
}

const busy = (head: boolean) =>
  rawAnswer(503, 'Service Unavailable', 'busy: too many connections', { 'retry-after': String(HTTP_LIMITS.retryAfterS) }, head);
const BUSY = busy(false);
const BUSY_HEAD = busy(true);
const CONNECT_REFUSED = rawAnswer(405, 'Method Not Allowed', 'method not allowed', { allow: ALLOW });
const CLIENT_ERRORS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: rawAnswer(431, 'Request Header Fields Too Large', `request line and headers must fit in ${HTTP_LIMITS.maxHeaderBytes} bytes`),
  ERR_HTTP_REQUEST_TIMEOUT: rawAnswer(408, 'Request Timeout', `the request must arrive within ${HTTP_LIMITS.headersTimeoutMs} ms`),
};
const BAD_REQUEST = rawAnswer(400, 'Bad Request', 'bad request');

/** Sockets answered outside node:http, per server, so closeServer can end them too. */
const lingering = new WeakMap<Server, Set<Socket>>();

/** A socket handled outside node:http: destroyed after lingerMs at the latest, and by closeServer. */
function outsideHttp(server: Server, socket: Socket): void {
  const set = lingering.get(server);
  if (!set || set.has(socket)) return;
  set.add(socket);
  socket.on('error', () => socket.destroy()); // a reset by the peer is expected here
  const timer = setTimeout(() => socket.destroy(), HTTP_LIMITS.lingerMs);
  socket.once('close', () => {
    clearTimeout(timer);
    set.delete(socket);
  });
}

/**
 * Write `answer` and close our side, but keep reading (and discarding) until the peer
 * closes or lingerMs passes: closing a socket with unread input sends a reset, and the
 * client would see that instead of the answer.
 */
function answerAndLinger(server: Server, socket: Socket, answer: string): void {
  outsideHttp(server, socket);
  // node:http servers are half-open: the peer's FIN does not close our side by itself.
  socket.once('end', () => socket.destroy());
  socket.end(answer);
  socket.resume();
}

/**
 * Connections beyond maxConnections are answered 503 without reaching node:http (no
 * parser, no request object), once their first bytes arrive: an answer written before
 * the client has sent its request can reach it as a reset.
 */
function capConnections(server: Server): void {
  // node:http parses a connection in its one 'connection' listener; it is wrapped so
  // that a refused socket never gets a parser. listeners() / on() are public API.
  const parse = server.listeners('connection');
  if (parse.length !== 1) throw new Error(`node:http: expected 1 'connection' listener, found ${parse.length}`);
  const serve = parse[0] as (socket: Socket) => void;
  server.removeAllListeners('connection');
  let served = 0;
  server.on('connection', (socket: Socket) => {
    if (served >= HTTP_LIMITS.maxConnections) {
      // The linger bound starts now: a silent refused socket is gone after lingerMs.
      outsideHttp(server, socket);
      socket.once('data', (first: Buffer) => answerAndLinger(server, socket, first.toString('latin1', 0, 5) === 'HEAD ' ? BUSY_HEAD : BUSY));
      return;
    }
    served++;
    socket.once('close', () => served--);
    serve.call(server, socket);
  });
}

/** The path of an origin-form target, without query, without trailing slashes; null for any other form. */
function pathOf(target: string): string | null {
  if (!target.startsWith('/')) return null;
  const end = target.search(/[?#]/);
  let len = end < 0 ? target.length : end;
  // A loop, not /\/+$/: that regex is quadratic on a target made of slashes.
  while (len > 1 && target.charCodeAt(len - 1) === 0x2f) len--;
  return target.slice(0, len);
}

function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

function echo(name: string): string {
  return name.length <= HTTP_LIMITS.maxEchoChars ? name : `${name.slice(0, HTTP_LIMITS.maxEchoChars)}…`;
}

export function createHttpServer(opts: HttpOptions): Server {
  const { registry, view } = opts;

  // Scrapes share one collection. It starts at the next turn of the event loop, so every
  // /metrics request parsed in this turn (a burst arrives in one) joins it: a flood costs
  // one collection per turn, not one per request, which would hold the loop (and the
  // audio it moves) for the whole burst. A request that arrives while a collection runs
  // joins that one; no result is kept once it is delivered.
  let scrape: Promise<string> | null = null;
  const collect = (): Promise<string> =>
    (scrape ??= new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => registry.metrics())
      .finally(() => {
        scrape = null;
      }));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // The body is never read: answer, then close instead of reading past it to the next request.
    if (hasBody(req)) res.setHeader('connection', 'close');
    const target = req.url ?? '/';
    if (target.length > HTTP_LIMITS.maxUrlBytes) {
      return sendJson(res, 414, { error: `the request target must be at most ${HTTP_LIMITS.maxUrlBytes} bytes` });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', ALLOW);
      return sendJson(res, 405, { error: 'method not allowed' });
    }
    const path = pathOf(target);
    if (path === null) return sendJson(res, 400, { error: 'the request target must be a path' });
    if (path === '/metrics') {
      return send(res, 200, registry.contentType, await collect());
    }
    if (path === '/health') {
      const devices = view.devices();
      const ok = devices.length > 0 && devices.every(isServing);
      const body: HealthBody = { ok, devices };
      return sendJson(res, ok ? 200 : 503, body);
    }
    if (path.startsWith('/health/')) {
      // One decoding, then an exact comparison with the configured names: the name is
      // never normalised, joined to a path or used to open anything.
      let name: string;
      try {
        name = decodeURIComponent(path.slice('/health/'.length));
      } catch {
        return sendJson(res, 400, { error: 'bad percent-encoding in the device name' });
      }
      const d = view.devices().find((x) => x.name === name);
      if (!d) return sendJson(res, 404, { error: `no device named ${JSON.stringify(echo(name))}` });
      return sendJson(res, isServing(d) ? 200 : 503, d);
    }
    return sendJson(res, 404, { error: 'not found', routes: ['/metrics', '/health', '/health/DEVICE'] });
  };

  const server = createServer(
    {
      maxHeaderSize: HTTP_LIMITS.maxHeaderBytes,
      headersTimeout: HTTP_LIMITS.headersTimeoutMs,
      requestTimeout: HTTP_LIMITS.requestTimeoutMs,
      connectionsCheckingInterval: HTTP_LIMITS.checkIntervalMs,
      keepAliveTimeout: HTTP_LIMITS.keepAliveTimeoutMs,
    },
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        opts.onError?.(err, req.url?.slice(0, HTTP_LIMITS.maxUrlBytes) ?? '');
        if (!res.headersSent) sendJson(res, 500, { error: String((err as Error)?.message ?? err) });
        else res.destroy();
      });
    },
  );
  server.keepAliveTimeout = HTTP_LIMITS.keepAliveTimeoutMs;
  server.maxConnections = HTTP_LIMITS.maxSockets;
  server.setTimeout(HTTP_LIMITS.idleTimeoutMs); // no 'timeout' listener: Node destroys the socket
  lingering.set(server, new Set());
  capConnections(server);

  // Node's own handler writes its 400 / 408 / 431 and destroys the socket at once, which
  // resets a client still sending (a long URL) before it reads the answer.
  const answered = new WeakSet<Socket>();
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (answered.has(socket)) return; // the parser reports again as the rest of the request arrives
    answered.add(socket);
    if (err.code === 'ECONNRESET' || !socket.writable || socket.bytesWritten > 0) {
      socket.destroy();
      return;
    }
    answerAndLinger(server, socket, CLIENT_ERRORS[err.code ?? ''] ?? BAD_REQUEST);
  });
  // Without a listener Node closes a CONNECT silently.
  server.on('connect', (_req: IncomingMessage, socket: Socket) => answerAndLinger(server, socket, CONNECT_REFUSED));
  return server;
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
    for (const s of lingering.get(server) ?? []) s.destroy();
  });
}
