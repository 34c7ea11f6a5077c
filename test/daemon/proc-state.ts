// What a killed process left behind, read from /proc: its children, a zombie,
// TCP sockets in TIME_WAIT on a port. Plus a free port and a FIFO reader for
// the kill -9 / restart tests (kill-restart.test.ts).

import { constants, openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';

interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  comm: string;
}

function statOf(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null; // gone, or gone while we looked
  }
  // comm may hold spaces and parentheses: the fields after it follow the last ')'
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  return { pid, comm: text.slice(text.indexOf('(') + 1, close), state: rest[0] ?? '?', ppid: Number(rest[1]) };
}

function allStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = statOf(Number(name));
    if (s) out.push(s);
  }
  return out;
}

/** Every live process below pid (children, grandchildren...). */
export function descendants(pid: number): ProcStat[] {
  const all = allStats();
  const found: ProcStat[] = [];
  let parents = new Set([pid]);
  while (parents.size > 0) {
    const next = all.filter((s) => parents.has(s.ppid));
    found.push(...next);
    parents = new Set(next.map((s) => s.pid));
  }
  return found;
}

/** The process's state letter ('Z' = zombie), or null when it is gone from /proc (reaped). */
export function procState(pid: number): string | null {
  return statOf(pid)?.state ?? null;
}

/** TCP sockets (v4 and v6) whose local port is `port`, in TIME_WAIT (state 06). */
export function timeWaitOn(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 3 && f[1]!.endsWith(`:${hex}`) && f[3] === '06') n++;
    }
  }
  return n;
}

/** A port nobody listens on now (the kernel's pick, closed again). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface Chunk {
  /** performance.now() at arrival */
  at: number;
  data: Buffer;
}

/**
 * Reads a FIFO as long as the test runs, whoever writes it. O_RDWR: the read
 * end never sees EOF when a writer dies, as a long-lived consumer of the
 * daemon's audio would not want either.
 */
export class FifoReader {
  readonly chunks: Chunk[] = [];
  private readonly sock: Socket;

  constructor(path: string) {
    const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
    this.sock = new Socket({ fd, readable: true, writable: false });
    this.sock.on('data', (data: Buffer) => this.chunks.push({ at: performance.now(), data }));
  }

  bytes(): number {
    return this.chunks.reduce((n, c) => n + c.data.length, 0);
  }

  /**
   * When the bytes of u32 LE frames 0,1,2,3 (a mock card's first captured
   * frames) arrived after index `from`, or null. Searched across chunk
   * boundaries and at any alignment: a writer killed mid-write may leave a
   * partial frame in the pipe.
   */
  firstFrameZeroAfter(from: number): number | null {
    const pattern = Buffer.alloc(16);
    for (let i = 0; i < 4; i++) pattern.writeUInt32LE(i, i * 4);
    const tail = this.chunks.slice(from);
    const all = Buffer.concat(tail.map((c) => c.data));
    const at = all.indexOf(pattern);
    if (at < 0) return null;
    let end = at + pattern.length;
    for (const c of tail) {
      if (end <= c.data.length) return c.at;
      end -= c.data.length;
    }
    return null;
  }

  close(): void {
    this.sock.destroy();
  }
}
