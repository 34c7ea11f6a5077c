// Wrong input gets a TypeError / RangeError naming the option; a device that
// cannot be opened gets a PcmError naming the device and the ALSA error.
import { describe, expect, it } from 'vitest';

import { openPcm, PcmError, PcmStream, sdNotify } from '../../src/index.js';
import type { PcmOptions } from '../../src/types.js';

const base: PcmOptions = { device: 'mock:args', direction: 'capture' };

describe('argument validation', () => {
  const cases: Array<[string, unknown, ErrorConstructor, RegExp]> = [
    ['options not an object', 42, TypeError, /options must be an object, got 42/],
    ['options null', null, TypeError, /options must be an object, got null/],
    ['device missing', { direction: 'capture' }, TypeError, /options\.device must be a string, got undefined/],
    ['device empty', { ...base, device: '' }, RangeError, /options\.device must be a non-empty ALSA PCM name/],
    ['device a number', { ...base, device: 7 }, TypeError, /options\.device must be a string, got 7/],
    ['direction wrong', { ...base, direction: 'sideways' }, RangeError, /options\.direction must be "capture" or "playback", got "sideways"/],
    ['rate 0', { ...base, rate: 0 }, RangeError, /options\.rate must be between 1000 and 768000, got 0/],
    ['rate a string', { ...base, rate: '48000' }, TypeError, /options\.rate must be a number, got "48000"/],
    ['rate fractional', { ...base, rate: 44100.5 }, RangeError, /options\.rate must be an integer/],
    ['rate NaN', { ...base, rate: NaN }, RangeError, /options\.rate must be an integer, got NaN/],
    ['channels 0', { ...base, channels: 0 }, RangeError, /options\.channels must be between 1 and 64/],
    ['unknown format', { ...base, format: 'S17_XX' }, RangeError, /options\.format "S17_XX" is not a known linear or float PCM format/],
    ['non-linear format', { ...base, format: 'MU_LAW' }, RangeError, /options\.format "MU_LAW"/],
    ['periodFrames negative', { ...base, periodFrames: -960 }, RangeError, /options\.periodFrames must be between 16 and 1048576, got -960/],
    ['bufferPeriods 1', { ...base, bufferPeriods: 1 }, RangeError, /options\.bufferPeriods must be between 2 and 1024/],
    ['sampleIntervalMs huge', { ...base, sampleIntervalMs: 1e12 }, RangeError, /options\.sampleIntervalMs must be between 10 and 60000/],
    ['rtPriority 100', { ...base, rtPriority: 100 }, RangeError, /options\.rtPriority must be between 0 and 99/],
    ['mock on a real device', { device: 'hw:0,0', direction: 'capture', mock: { faults: [] } }, TypeError, /options\.mock is only for mock:<name> devices/],
    ['faults not an array', { ...base, mock: { faults: {} } }, TypeError, /options\.mock\.faults must be an array/],
    ['fault type unknown', { ...base, mock: { faults: [{ at: 1, type: 'explode' }] } }, RangeError, /faults\[0\]\.type "explode" is not one of/],
    ['fault at negative', { ...base, mock: { faults: [{ at: -5, type: 'xrun' }] } }, RangeError, /faults\[0\]\.at must be a duration in ms/],
    ['fault at missing', { ...base, mock: { faults: [{ type: 'xrun' }] } }, TypeError, /faults\[0\]\.at is required/],
    ['fault duration missing', { ...base, mock: { faults: [{ at: 1, type: 'stall' }] } }, TypeError, /faults\[0\]\.durationMs is required/],
    ['fault errno unknown', { ...base, mock: { faults: [{ at: 1, type: 'openFail', count: 1, errno: 'EWHAT' }] } }, RangeError, /errno "EWHAT" is not a known errno name/],
    ['a ring past the limit', { ...base, rate: 768000, channels: 64, format: 'FLOAT64_LE', sampleIntervalMs: 60000 }, RangeError, /options: the audio ring for these settings needs \d+ bytes .*lower sampleIntervalMs/],
    ['fault count huge', { ...base, mock: { faults: [{ at: 1, type: 'xrun', count: 1e9 }] } }, RangeError, /count must be between 1 and 100000/],
  ];

  it.each(cases)('%s', async (_name, options, cls, message) => {
    // Synchronously from the constructor, and as a rejection from openPcm.
    expect(() => new PcmStream(options as PcmOptions)).toThrow(cls);
    await expect(openPcm(options as PcmOptions)).rejects.toThrow(message);
    await expect(openPcm(options as PcmOptions)).rejects.toBeInstanceOf(cls);
  });

  it('an unknown ALSA device names the device and the ALSA error', async () => {
    const err = await openPcm({ device: 'no_such_pcm_here', direction: 'playback' }).catch((e) => e);
    expect(err).toBeInstanceOf(PcmError);
    expect(err.code).toBe('ENOENT');
    expect(err.errno).toBe(-2);
    expect(err.device).toBe('no_such_pcm_here');
    expect(err.message).toMatch(/cannot open playback PCM "no_such_pcm_here": No such file or directory \(ENOENT\)/);
  });

  it('a card that is not there: hw:7,0 fails with the ALSA error', async () => {
    const err = await openPcm({ device: 'hw:7,0', direction: 'capture' }).catch((e) => e);
    expect(err).toBeInstanceOf(PcmError);
    expect(['ENOENT', 'ENODEV', 'ENXIO']).toContain(err.code);
    expect(err.message).toContain('"hw:7,0"');
  });

  it('a mock open failure by script rejects with that errno, then opens', async () => {
    const options = { ...base, device: 'mock:busy', mock: { faults: [{ at: 0, type: 'openFail' as const, count: 1, errno: 'EBUSY' }] } };
    const err = await openPcm(options).catch((e) => e);
    expect(err).toBeInstanceOf(PcmError);
    expect(err).toMatchObject({ code: 'EBUSY', errno: -16, device: 'mock:busy' });
    expect(err.message).toMatch(/cannot open capture PCM "mock:busy": Device or resource busy \(EBUSY\)/);
  });

  it('wrong calls on an open stream', async () => {
    const pcm = await openPcm(base);
    await expect(pcm.close()).resolves.toBeUndefined();
    await expect(pcm.close()).resolves.toBeUndefined(); // idempotent
    await expect(pcm.reopen()).rejects.toMatchObject({ code: 'EBADFD' });
    expect(() => sdNotify(42 as unknown as string)).toThrow(TypeError);
  });
});
