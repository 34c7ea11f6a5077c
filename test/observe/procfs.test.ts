// Parsers on texts captured from a real kernel (test/observe/fixtures, from the kernel VM).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  emptyStatus, parseCards, parseHwParams, parsePcmList, parseStatus, parseStatusText, parseSwParams, parsePcmSpec,
} from '../../src/observe/index.js';

const fx = (f: string) => readFileSync(new URL(`./fixtures/${f}`, import.meta.url), 'utf8');

describe('status', () => {
  it.each([
    ['status-running-capture.txt', 'running', 122, [11, 828237086], 112, 112, 17193, 17081],
    ['status-owner-stall-capture.txt', 'running', 122, [11, 828237086], 2984, 2984, 21786, 18802],
    ['status-avail-over-buffer-capture.txt', 'running', 122, [11, 828237086], 0, 5056, 23858, 18802],
    ['status-xrun-capture.txt', 'xrun', 122, [12, 325455045], 0, 5056, 23858, 18802],
    ['status-recovered-capture.txt', 'running', 122, [12, 772560193], 357, 357, 4715, 4358],
    ['status-prepared-playback.txt', 'prepared', 123, [0, 0], 0, 48000, 0, 0],
    ['status-running-playback.txt', 'running', 123, [13, 852121480], 47232, 768, 48768, 96000],
    ['status-draining-playback.txt', 'draining', 123, [13, 852121480], 46272, 1728, 54528, 100800],
    ['status-suspended-synthetic.txt', 'suspended', 122, [11, 828237086], 112, 112, 17193, 17081],
  ] as const)('%s', (file, state, pid, [sec, nsec], delay, avail, hw, appl) => {
    const s = parseStatusText(fx(file))!;
    expect(s).not.toBeNull();
    expect(s).toMatchObject({ state, ownerPid: pid, triggerSec: sec, triggerNsec: nsec, delay, avail, hwPtr: hw, applPtr: appl, error: 0 });
  });

  it('closed', () => {
    expect(parseStatusText(fx('status-closed.txt'))).toMatchObject({ state: 'closed', ownerPid: null });
  });

  it('error line, empty text, garbage', () => {
    expect(parseStatusText('error -19\n')).toMatchObject({ state: 'error', error: -19 });
    expect(parseStatusText('')).toBeNull();
    expect(parseStatusText('hello: world\n')).toBeNull();
  });

  it('parses into a reused object from a reused buffer, without stale owner', () => {
    const buf = Buffer.alloc(1024);
    const out = emptyStatus();
    const n1 = buf.write(fx('status-running-capture.txt'));
    expect(parseStatus(buf, n1, out)).toBe(true);
    expect(out.ownerPid).toBe(122);
    const n2 = buf.write(fx('status-closed.txt'));
    expect(parseStatus(buf, n2, out)).toBe(true);
    expect(out).toMatchObject({ state: 'closed', ownerPid: null });
    // Only buf[0..len) counts: the old text after it is ignored.
    const n3 = buf.write(fx('status-xrun-capture.txt'));
    expect(parseStatus(buf, n3, out)).toBe(true);
    expect(out.state).toBe('xrun');
  });

  it('a missing file is the caller\'s business (ENOENT), not a parse', () => {
    expect(() => fx('status-does-not-exist.txt')).toThrow(/ENOENT/);
  });
});

describe('hw_params / sw_params', () => {
  it('capture and playback', () => {
    expect(parseHwParams(fx('hw_params-capture.txt'))).toEqual({
      access: 'RW_INTERLEAVED', format: 'S16_LE', subformat: 'STD', channels: 2, rate: 48000, periodSize: 480, bufferSize: 4800,
    });
    expect(parseHwParams(fx('hw_params-playback.txt'))).toMatchObject({ periodSize: 4800, bufferSize: 48000 });
    expect(parseHwParams(fx('hw_params-closed.txt'))).toBeNull();
    expect(parseHwParams('no setup\n')).toBeNull();
  });
  it('sw_params', () => {
    expect(parseSwParams(fx('sw_params-capture.txt'))).toEqual({
      tstampMode: 'NONE', availMin: 480, startThreshold: 1, stopThreshold: 4800, boundary: 5404319552844595200,
    });
    expect(parseSwParams(fx('sw_params-playback.txt'))).toMatchObject({ availMin: 4800, startThreshold: 48000 });
    expect(parseSwParams('closed\n')).toBeNull();
  });
});

describe('cards and pcm list', () => {
  it('cards', () => {
    expect(parseCards(fx('cards.txt'))).toEqual([
      { index: 0, id: 'Dummy', driver: 'Dummy', name: 'Dummy', longName: 'Dummy 1' },
      { index: 1, id: 'Loopback', driver: 'Loopback', name: 'Loopback', longName: 'Loopback 1' },
    ]);
    expect(parseCards('--- no soundcards ---\n')).toEqual([]);
  });
  it('pcm list', () => {
    expect(parsePcmList(fx('pcm.txt'))).toEqual([
      { card: 0, device: 0, id: 'Dummy PCM', name: 'Dummy PCM', playback: 8, capture: 8 },
      { card: 1, device: 0, id: 'Loopback PCM', name: 'Loopback PCM', playback: 8, capture: 8 },
      { card: 1, device: 1, id: 'Loopback PCM', name: 'Loopback PCM', playback: 8, capture: 8 },
    ]);
  });
});

describe('PCM names', () => {
  it.each([
    ['hw:0,0', { card: 0, device: 0, subdevice: null }],
    ['hw:1,0,3', { card: 1, device: 0, subdevice: 3 }],
    ['hw:Dummy', { card: 'Dummy', device: 0, subdevice: null }],
    ['hw:Loopback,1', { card: 'Loopback', device: 1, subdevice: null }],
    ['hw:CARD=Loopback,DEV=0', { card: 'Loopback', device: 0, subdevice: null }],
    ['hw:CARD=Loopback,DEV=1,SUBDEV=2', { card: 'Loopback', device: 1, subdevice: 2 }],
    ['hw:CARD=1,DEV=0', { card: 1, device: 0, subdevice: null }],
    ['plughw:0,0', { card: 0, device: 0, subdevice: null }],
  ] as const)('%s', (name, want) => {
    expect(parsePcmSpec(name)).toEqual(want);
  });
  it('objects', () => {
    expect(parsePcmSpec({ card: 'Dummy', device: 0, subdevice: 0 })).toEqual({ card: 'Dummy', device: 0, subdevice: 0 });
    expect(parsePcmSpec({ card: 1 })).toEqual({ card: 1, device: 0, subdevice: null });
  });
  it.each(['default', 'dmix:0', 'hw:', 'hw:0,x', 'hw:CARD=0,FOO=1', 'mock:x'])('refuses %s', (name) => {
    expect(() => parsePcmSpec(name)).toThrow(TypeError);
  });
});
