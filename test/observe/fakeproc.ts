// A fake /proc/asound tree in a temp dir, for the poller tests. Files are
// rewritten in place (same inode), as the kernel regenerates them; an unplug
// empties the status files (a kernel read then fails) before removing the card.
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface StatusFields {
  state: string;
  pid?: number;
  trig?: string;
  delay?: number;
  avail?: number;
  hw?: number;
  appl?: number;
}

/** The kernel's status text (sound/core/pcm.c snd_pcm_substream_proc_status_read). */
export function statusText(f: StatusFields): string {
  return [
    `state: ${f.state}`,
    `owner_pid   : ${f.pid ?? 100}`,
    `trigger_time: ${f.trig ?? '10.000000000'}`,
    `tstamp      : 0.000000000`,
    `delay       : ${f.delay ?? 0}`,
    `avail       : ${f.avail ?? 0}`,
    `avail_max   : ${f.avail ?? 0}`,
    `-----`,
    `hw_ptr      : ${f.hw ?? 0}`,
    `appl_ptr    : ${f.appl ?? 0}`,
    '',
  ].join('\n');
}

export const hwParamsText = (period = 480, buffer = 1920, rate = 48000) =>
  `access: RW_INTERLEAVED\nformat: S16_LE\nsubformat: STD\nchannels: 2\nrate: ${rate} (${rate}/1)\nperiod_size: ${period}\nbuffer_size: ${buffer}\n`;
export const swParamsText = (availMin = 480, boundary = 4611686018427387904, stop = 1920) =>
  `tstamp_mode: NONE\nperiod_step: 1\navail_min: ${availMin}\nstart_threshold: 1\nstop_threshold: ${stop}\nsilence_threshold: 0\nsilence_size: 0\nboundary: ${boundary}\n`;

interface Card {
  index: number;
  id: string;
}

export class FakeProc {
  readonly root = mkdtempSync(join(tmpdir(), 'ah-proc-'));
  private cards: Card[] = [];

  constructor(opts: { verbose?: boolean } = {}) {
    this.verbose = opts.verbose ?? true;
    this.writeCards();
  }
  private readonly verbose: boolean;

  private writeCards(): void {
    const text = this.cards.length
      ? this.cards.map((c) => `${String(c.index).padStart(2)} [${c.id.padEnd(15)}]: ${c.id} - ${c.id}\n                      ${c.id} 1\n`).join('')
      : '--- no soundcards ---\n';
    writeFileSync(join(this.root, 'cards'), text);
    writeFileSync(
      join(this.root, 'pcm'),
      this.cards.map((c) => `${String(c.index).padStart(2, '0')}-00: ${c.id} PCM : ${c.id} PCM : playback 2 : capture 2\n`).join(''),
    );
  }

  dir(card: number, dev: number, dir: 'c' | 'p', sub = 0): string {
    return join(this.root, `card${card}`, `pcm${dev}${dir}`, `sub${sub}`);
  }

  /** A card with device 0, both directions, `subs` substreams each, all closed. */
  addCard(index: number, id: string, subs = 2): void {
    const cd = join(this.root, `card${index}`);
    mkdirSync(cd, { recursive: true });
    writeFileSync(join(cd, 'id'), `${id}\n`);
    for (const d of ['c', 'p'] as const) {
      mkdirSync(join(cd, `pcm0${d}`), { recursive: true });
      if (!this.verbose) continue;
      for (let s = 0; s < subs; s++) {
        mkdirSync(this.dir(index, 0, d, s), { recursive: true });
        this.close(index, d, s);
      }
    }
    if (!this.verbose) rmSync(join(cd, 'pcm0c'), { recursive: true }), rmSync(join(cd, 'pcm0p'), { recursive: true });
    this.cards.push({ index, id });
    this.cards.sort((a, b) => a.index - b.index);
    this.writeCards();
  }

  status(card: number, dir: 'c' | 'p', f: StatusFields, sub = 0): void {
    writeFileSync(join(this.dir(card, 0, dir, sub), 'status'), statusText(f));
  }

  open(card: number, dir: 'c' | 'p', f: StatusFields, sub = 0, period = 480, buffer = 1920): void {
    writeFileSync(join(this.dir(card, 0, dir, sub), 'hw_params'), hwParamsText(period, buffer));
    writeFileSync(join(this.dir(card, 0, dir, sub), 'sw_params'), swParamsText(period, undefined, buffer));
    this.status(card, dir, f, sub);
  }

  close(card: number, dir: 'c' | 'p', sub = 0): void {
    for (const f of ['status', 'hw_params', 'sw_params']) writeFileSync(join(this.dir(card, 0, dir, sub), f), 'closed\n');
  }

  /** The card vanishes: its files read nothing any more, then its directory goes. */
  unplug(index: number): void {
    const cd = join(this.root, `card${index}`);
    for (const d of readdirSync(cd).filter((x) => x.startsWith('pcm'))) {
      for (const s of readdirSync(join(cd, d))) truncateSync(join(cd, d, s, 'status'));
    }
    rmSync(cd, { recursive: true, force: true });
    this.cards = this.cards.filter((c) => c.index !== index);
    this.writeCards();
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
