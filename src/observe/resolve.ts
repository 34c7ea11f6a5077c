// PCM names an observer accepts, and where their procfs files are:
//   'hw:0,0'  'hw:0,0,1'  'hw:Dummy'  'hw:CARD=Loopback,DEV=0,SUBDEV=1'  'plughw:1,0'
//   { card: 0 | 'Loopback', device: 0, subdevice?: 1 }
// A card given by id ('Dummy') is looked up in /proc/asound/cards at every
// (re)appearance: its index may change after an unplug.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Direction } from '../types.js';
import { parseCards } from './procfs.js';

export interface PcmAddress {
  /** Index or id (`Dummy`). */
  card: number | string;
  device: number;
  /** null: whichever substream of the device is open (the lowest one). */
  subdevice: number | null;
}

export type PcmSpec = string | { card: number | string; device?: number; subdevice?: number | null };

const int = (s: string): number | null => (/^\d+$/.test(s) ? Number(s) : null);

/** Parse a PCM name or address. Throws TypeError for anything but a hw / plughw name. */
export function parsePcmSpec(spec: PcmSpec): PcmAddress {
  if (typeof spec === 'object' && spec !== null) {
    const { card, device = 0, subdevice = null } = spec;
    if (!(typeof card === 'string' ? card.length > 0 : Number.isInteger(card) && card >= 0)) {
      throw new TypeError(`card must be an index or a card id, got ${JSON.stringify(card)}`);
    }
    if (!Number.isInteger(device) || device < 0) throw new TypeError(`device must be a whole number, got ${device}`);
    if (subdevice !== null && (!Number.isInteger(subdevice) || subdevice < 0)) {
      throw new TypeError(`subdevice must be a whole number or null, got ${subdevice}`);
    }
    return { card: typeof card === 'string' ? (int(card) ?? card) : card, device, subdevice };
  }
  if (typeof spec !== 'string') throw new TypeError('device must be a PCM name or { card, device, subdevice }');
  const m = /^(?:plug)?hw:(.+)$/.exec(spec.trim());
  if (!m) {
    throw new TypeError(
      `cannot observe '${spec}': only hardware PCMs have procfs status (hw:CARD,DEV[,SUBDEV], hw:CARD=ID,DEV=N, plughw:...)`,
    );
  }
  const parts = m[1]!.split(',').map((p) => p.trim());
  const out: PcmAddress = { card: '', device: 0, subdevice: null };
  const positional: string[] = [];
  for (const p of parts) {
    const eq = p.indexOf('=');
    if (eq < 0) {
      positional.push(p);
      continue;
    }
    const key = p.slice(0, eq).toUpperCase();
    const value = p.slice(eq + 1).replace(/^"(.*)"$/, '$1');
    if (key === 'CARD') out.card = int(value) ?? value;
    else if (key === 'DEV') out.device = int(value) ?? NaN;
    else if (key === 'SUBDEV') out.subdevice = int(value) ?? NaN;
    else throw new TypeError(`cannot observe '${spec}': unknown key ${key}`);
  }
  if (positional[0] !== undefined) out.card = int(positional[0]) ?? positional[0];
  if (positional[1] !== undefined) out.device = int(positional[1]) ?? NaN;
  if (positional[2] !== undefined) out.subdevice = int(positional[2]) ?? NaN;
  if (out.card === '' || Number.isNaN(out.device) || (out.subdevice !== null && Number.isNaN(out.subdevice))) {
    throw new TypeError(`cannot observe '${spec}': expected hw:CARD[,DEV[,SUBDEV]] with numbers for DEV and SUBDEV`);
  }
  if (out.subdevice !== null && out.subdevice < 0) out.subdevice = null; // SUBDEV=-1: any
  return out;
}

/** The card's index now, or null when it is not there. */
export function resolveCardIndex(procRoot: string, card: number | string): number | null {
  if (typeof card === 'number') {
    try {
      readFileSync(join(procRoot, `card${card}`, 'id'));
      return card;
    } catch {
      return null;
    }
  }
  let text: string;
  try {
    text = readFileSync(join(procRoot, 'cards'), 'utf8');
  } catch {
    return null;
  }
  return parseCards(text).find((c) => c.id === card)?.index ?? null;
}

/** `/proc/asound/card0/pcm0c` */
export function pcmDir(procRoot: string, card: number, device: number, direction: Direction): string {
  return join(procRoot, `card${card}`, `pcm${device}${direction === 'capture' ? 'c' : 'p'}`);
}

/** How a resolved address is written in events and `list`: `hw:0,0,0`. */
export function hwName(card: number, device: number, subdevice?: number | null): string {
  return subdevice === null || subdevice === undefined ? `hw:${card},${device}` : `hw:${card},${device},${subdevice}`;
}
