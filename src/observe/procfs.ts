// Parsers for the kernel's ALSA procfs texts (CONFIG_SND_VERBOSE_PROCFS):
// sub<S>/status is parsed byte by byte from a reused Buffer into a reused
// object (it is read at every poll); hw_params, sw_params and cards are read
// only when the stream or the card changes, so they are parsed as strings.

import type { PcmState } from '../types.js';

/** One read of /proc/asound/cardC/pcmD{c,p}/subS/status. Reused between polls. */
export interface ProcStatus {
  /** 'closed' when no process has the substream open; 'error' for the kernel's `error N` line. */
  state: PcmState | 'error';
  /** The owner (`owner_pid`, in the reader's pid namespace); null when closed. */
  ownerPid: number | null;
  /** `trigger_time`: last start / stop / pause / xrun, in the owner's timestamp clock. */
  triggerSec: number;
  triggerNsec: number;
  /** `tstamp` (0.0 unless the owner enabled timestamps). */
  tstampSec: number;
  tstampNsec: number;
  delay: number;
  avail: number;
  /** Reset by every read of status (the kernel's snd_pcm_status does so). */
  availMax: number;
  hwPtr: number;
  applPtr: number;
  /** `error N` text: the negative errno; 0 otherwise. */
  error: number;
}

export function emptyStatus(): ProcStatus {
  return {
    state: 'closed', ownerPid: null, triggerSec: 0, triggerNsec: 0, tstampSec: 0, tstampNsec: 0,
    delay: 0, avail: 0, availMax: 0, hwPtr: 0, applPtr: 0, error: 0,
  };
}

// Byte codes used by the status parser.
const NL = 10;
const SPACE = 32;
const COLON = 58;
const DOT = 46;
const MINUS = 45;
const ZERO = 48;
const NINE = 57;

/** ALSA's state names (snd_pcm_state_name) as bytes, and ours. */
const STATES: ReadonlyArray<readonly [Buffer, PcmState]> = [
  [Buffer.from('RUNNING'), 'running'],
  [Buffer.from('XRUN'), 'xrun'],
  [Buffer.from('PREPARED'), 'prepared'],
  [Buffer.from('DRAINING'), 'draining'],
  [Buffer.from('SETUP'), 'setup'],
  [Buffer.from('OPEN'), 'open'],
  [Buffer.from('PAUSED'), 'paused'],
  [Buffer.from('SUSPENDED'), 'suspended'],
  [Buffer.from('DISCONNECTED'), 'disconnected'],
];

function startsWithAt(buf: Buffer, at: number, end: number, word: Buffer): boolean {
  if (at + word.length > end) return false;
  for (let i = 0; i < word.length; i++) if (buf[at + i] !== word[i]) return false;
  return true;
}

// Status keys, told apart by their first bytes (no string is made per poll):
//   state, owner_pid, trigger_time, tstamp, delay, avail, avail_max, hw_ptr, appl_ptr
const enum Key {
  None, State, Owner, Trigger, Tstamp, Delay, Avail, AvailMax, HwPtr, ApplPtr,
}

function keyAt(buf: Buffer, at: number, colon: number): Key {
  const c0 = buf[at];
  const len = colon - at; // may include trailing spaces
  switch (c0) {
    case 115: // s
      return Key.State;
    case 111: // o
      return Key.Owner;
    case 116: // t: trigger_time | tstamp
      return buf[at + 1] === 114 ? Key.Trigger : Key.Tstamp;
    case 100: // d
      return Key.Delay;
    case 97: // a: avail | avail_max | appl_ptr
      if (buf[at + 1] === 112) return Key.ApplPtr;
      return len > 5 && buf[at + 5] === 95 ? Key.AvailMax : Key.Avail;
    case 104: // h
      return Key.HwPtr;
    default:
      return Key.None;
  }
}

/** Integer at buf[at..end) (optional '-'), skipping leading spaces. NaN if none. */
function intAt(buf: Buffer, at: number, end: number): number {
  while (at < end && buf[at] === SPACE) at++;
  let neg = false;
  if (buf[at] === MINUS) {
    neg = true;
    at++;
  }
  let n = 0;
  let digits = 0;
  for (; at < end; at++) {
    const c = buf[at]!;
    if (c < ZERO || c > NINE) break;
    n = n * 10 + (c - ZERO);
    digits++;
  }
  if (digits === 0) return NaN;
  return neg ? -n : n;
}

/** `sec.nsec` (9 fraction digits) into out[0], out[1]. */
function timeAt(buf: Buffer, at: number, end: number, out: [number, number]): void {
  while (at < end && buf[at] === SPACE) at++;
  let sec = 0;
  for (; at < end; at++) {
    const c = buf[at]!;
    if (c < ZERO || c > NINE) break;
    sec = sec * 10 + (c - ZERO);
  }
  let nsec = 0;
  let scale = 100_000_000;
  if (buf[at] === DOT) {
    for (at++; at < end; at++) {
      const c = buf[at]!;
      if (c < ZERO || c > NINE) break;
      nsec += (c - ZERO) * scale;
      scale /= 10;
    }
  }
  out[0] = sec;
  out[1] = Math.round(nsec);
}

const tmp: [number, number] = [0, 0];
const CLOSED = Buffer.from('closed');
const ERROR = Buffer.from('error');

/**
 * Parse a status text held in buf[0..len) into `out` (reused; no allocation).
 * Returns false when the text is not a status (empty, unknown state line).
 * Pointer values above 2^53 (a 64-bit boundary nearly reached) lose precision;
 * on 32-bit kernels they wrap at sw_params' boundary well below that.
 */
export function parseStatus(buf: Buffer, len: number, out: ProcStatus): boolean {
  if (len <= 0) return false;
  if (startsWithAt(buf, 0, len, CLOSED)) {
    out.state = 'closed';
    out.ownerPid = null;
    out.error = 0;
    return true;
  }
  if (startsWithAt(buf, 0, len, ERROR)) {
    out.state = 'error';
    out.ownerPid = null;
    out.error = intAt(buf, ERROR.length, len) || -5;
    return true;
  }
  let sawState = false;
  out.error = 0;
  out.ownerPid = null;
  let line = 0;
  while (line < len) {
    let eol = line;
    while (eol < len && buf[eol] !== NL) eol++;
    let colon = line;
    while (colon < eol && buf[colon] !== COLON) colon++;
    if (colon < eol) {
      const v = colon + 1;
      switch (keyAt(buf, line, colon)) {
        case Key.State: {
          let at = v;
          while (at < eol && buf[at] === SPACE) at++;
          for (let k = 0; k < STATES.length; k++) {
            const [word, state] = STATES[k]!;
            if (startsWithAt(buf, at, eol, word)) {
              out.state = state;
              sawState = true;
              break;
            }
          }
          break;
        }
        case Key.Owner:
          out.ownerPid = intAt(buf, v, eol);
          break;
        case Key.Trigger:
          timeAt(buf, v, eol, tmp);
          out.triggerSec = tmp[0];
          out.triggerNsec = tmp[1];
          break;
        case Key.Tstamp:
          timeAt(buf, v, eol, tmp);
          out.tstampSec = tmp[0];
          out.tstampNsec = tmp[1];
          break;
        case Key.Delay:
          out.delay = intAt(buf, v, eol);
          break;
        case Key.Avail:
          out.avail = intAt(buf, v, eol);
          break;
        case Key.AvailMax:
          out.availMax = intAt(buf, v, eol);
          break;
        case Key.HwPtr:
          out.hwPtr = intAt(buf, v, eol);
          break;
        case Key.ApplPtr:
          out.applPtr = intAt(buf, v, eol);
          break;
        default:
          break;
      }
    }
    line = eol + 1;
  }
  if (out.ownerPid !== null && Number.isNaN(out.ownerPid)) out.ownerPid = null;
  return sawState;
}

/** Convenience for tests and one-off reads. */
export function parseStatusText(text: string): ProcStatus | null {
  const buf = Buffer.from(text, 'utf8');
  const out = emptyStatus();
  return parseStatus(buf, buf.length, out) ? out : null;
}

/** `key: value` lines into a map (for the texts read only on changes). */
function keyValues(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    m.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return m;
}

function intOf(s: string | undefined): number | null {
  if (s === undefined) return null;
  const n = Number.parseInt(s, 10);
  return Number.isFinite(n) ? n : null;
}

/** /proc/asound/.../subS/hw_params; null when `closed` or not set up yet. */
export interface ProcHwParams {
  access: string | null;
  format: string | null;
  subformat: string | null;
  channels: number;
  rate: number;
  periodSize: number;
  bufferSize: number;
}

export function parseHwParams(text: string): ProcHwParams | null {
  const t = text.trim();
  if (t === '' || t === 'closed' || t.startsWith('no setup')) return null;
  const kv = keyValues(t);
  const channels = intOf(kv.get('channels'));
  const rate = intOf(kv.get('rate')); // "48000 (48000/1)"
  const periodSize = intOf(kv.get('period_size'));
  const bufferSize = intOf(kv.get('buffer_size'));
  if (channels === null || rate === null || periodSize === null || bufferSize === null) return null;
  return {
    access: kv.get('access') ?? null,
    format: kv.get('format') ?? null,
    subformat: kv.get('subformat') ?? null,
    channels,
    rate,
    periodSize,
    bufferSize,
  };
}

/** /proc/asound/.../subS/sw_params (the figures the observer uses). */
export interface ProcSwParams {
  tstampMode: string | null;
  availMin: number | null;
  startThreshold: number | null;
  stopThreshold: number | null;
  /** hw_ptr / appl_ptr wrap here (2^30-ish on 32-bit kernels). */
  boundary: number | null;
}

export function parseSwParams(text: string): ProcSwParams | null {
  const t = text.trim();
  if (t === '' || t === 'closed' || t.startsWith('no setup')) return null;
  const kv = keyValues(t);
  return {
    tstampMode: kv.get('tstamp_mode') ?? null,
    availMin: intOf(kv.get('avail_min')),
    startThreshold: intOf(kv.get('start_threshold')),
    stopThreshold: intOf(kv.get('stop_threshold')),
    boundary: intOf(kv.get('boundary')),
  };
}

/** One card of /proc/asound/cards. */
export interface ProcCard {
  index: number;
  /** `Dummy`, `Loopback`: what `hw:Dummy` / `CARD=Loopback` name. */
  id: string;
  driver: string;
  name: string;
  longName: string;
}

/**
 * /proc/asound/cards:
 *    0 [Dummy          ]: Dummy - Dummy
 *                         Dummy 1
 * ("--- no soundcards ---" when there is none.)
 */
export function parseCards(text: string): ProcCard[] {
  const out: ProcCard[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const open = line.indexOf('[');
    const close = line.indexOf(']:', open + 1);
    if (open < 0 || close < 0) continue;
    const index = Number.parseInt(line.slice(0, open), 10);
    if (!Number.isInteger(index)) continue;
    const rest = line.slice(close + 2).trim(); // "Dummy - Dummy"
    const dash = rest.indexOf(' - ');
    const next = lines[i + 1];
    const longName = next !== undefined && next.indexOf('[') < 0 ? next.trim() : '';
    out.push({
      index,
      id: line.slice(open + 1, close).trim(),
      driver: dash >= 0 ? rest.slice(0, dash).trim() : rest,
      name: dash >= 0 ? rest.slice(dash + 3).trim() : rest,
      longName,
    });
  }
  return out;
}

/** /proc/asound/pcm: `00-00: Dummy PCM : Dummy PCM : playback 8 : capture 8`. */
export interface ProcPcmEntry {
  card: number;
  device: number;
  id: string;
  name: string;
  playback: number;
  capture: number;
}

export function parsePcmList(text: string): ProcPcmEntry[] {
  const out: ProcPcmEntry[] = [];
  for (const line of text.split('\n')) {
    const parts = line.split(' : ');
    const head = parts[0];
    if (!head) continue;
    const m = head.indexOf(': ');
    if (m < 0) continue;
    const cd = head.slice(0, m).split('-');
    const card = Number.parseInt(cd[0] ?? '', 10);
    const device = Number.parseInt(cd[1] ?? '', 10);
    if (!Number.isInteger(card) || !Number.isInteger(device)) continue;
    let playback = 0;
    let capture = 0;
    for (const p of parts.slice(2)) {
      const [what, n] = p.trim().split(' ');
      if (what === 'playback') playback = Number(n) || 0;
      if (what === 'capture') capture = Number(n) || 0;
    }
    out.push({ card, device, id: head.slice(m + 2).trim(), name: (parts[1] ?? '').trim(), playback, capture });
  }
  return out;
}
