// Which PCMs are open now and by which process: every substream's status in
// /proc/asound (for `alsa-health list`). Read once; not for polling.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Direction, PcmState } from '../types.js';
import { parseCards, parseHwParams, parseStatusText } from './procfs.js';
import { DEFAULT_PROC_ROOT } from './observer.js';

export interface OpenPcmInfo {
  /** hw:C,D,S */
  name: string;
  /** hw:CARD=Id,DEV=D */
  byId: string;
  card: number;
  cardId: string;
  device: number;
  subdevice: number;
  direction: Direction;
  state: PcmState | 'error';
  ownerPid: number | null;
  /** /proc/<pid>/comm of the owner, when readable. */
  ownerCommand: string | null;
  rate: number | null;
  channels: number | null;
  format: string | null;
  periodFrames: number | null;
  bufferFrames: number | null;
}

const read = (p: string): string | null => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
};

/**
 * Every substream that some process has open. `verbose` is false when the
 * kernel has no per-PCM status files (CONFIG_SND_VERBOSE_PROCFS off).
 */
export function listOpenPcms(procRoot = DEFAULT_PROC_ROOT, procPid = '/proc'): { verbose: boolean; pcms: OpenPcmInfo[] } {
  const cards = parseCards(read(join(procRoot, 'cards')) ?? '');
  const out: OpenPcmInfo[] = [];
  let verbose = false;
  for (const c of cards) {
    const cardDir = join(procRoot, `card${c.index}`);
    let entries: string[] = [];
    try {
      entries = readdirSync(cardDir);
    } catch {
      continue;
    }
    for (const e of entries) {
      const m = /^pcm(\d+)([cp])$/.exec(e);
      if (!m) continue;
      const device = Number(m[1]);
      const direction: Direction = m[2] === 'c' ? 'capture' : 'playback';
      let subs: string[] = [];
      try {
        subs = readdirSync(join(cardDir, e)).filter((s) => /^sub\d+$/.test(s));
      } catch {
        continue;
      }
      for (const s of subs) {
        const text = read(join(cardDir, e, s, 'status'));
        if (text === null) continue;
        verbose = true;
        const st = parseStatusText(text);
        if (!st || st.state === 'closed') continue;
        const subdevice = Number(s.slice(3));
        const hw = parseHwParams(read(join(cardDir, e, s, 'hw_params')) ?? '');
        const pid = st.ownerPid;
        out.push({
          name: `hw:${c.index},${device},${subdevice}`,
          byId: `hw:CARD=${c.id},DEV=${device}`,
          card: c.index,
          cardId: c.id,
          device,
          subdevice,
          direction,
          state: st.state,
          ownerPid: pid,
          ownerCommand: pid === null ? null : (read(join(procPid, String(pid), 'comm'))?.trim() ?? null),
          rate: hw?.rate ?? null,
          channels: hw?.channels ?? null,
          format: hw?.format ?? null,
          periodFrames: hw?.periodSize ?? null,
          bufferFrames: hw?.bufferSize ?? null,
        });
      }
    }
  }
  out.sort((a, b) => a.card - b.card || a.device - b.device || a.direction.localeCompare(b.direction) || a.subdevice - b.subdevice);
  return { verbose, pcms: out };
}
