// Config validation: each kind of mistake gets its own message naming the field, the value and the reason.

import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  EX_CONFIG,
  builtinMockConfig,
  diffDevices,
  parseConfigText,
  pcmOptionsOf,
  validateConfig,
} from '../../src/daemon/config.js';

const dev = (extra: Record<string, unknown> = {}) => ({ name: 'hdmi-in', pcm: 'hw:0,0', direction: 'capture', ...extra });

function problems(input: unknown): string {
  try {
    validateConfig(input, 'test.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(EX_CONFIG);
    return (err as ConfigError).message;
  }
  throw new Error('config was accepted');
}

describe('config validation', () => {
  it.each([
    ['unknown key in a device', { devices: [dev({ colour: 'red' })] }, 'devices[0].colour: unknown key (got "red")'],
    ['unknown top-level key', { devices: [dev()], http_port: 9595 }, 'http_port: unknown key (got 9595)'],
    ['unknown key in monitor', { devices: [dev()], monitor: { windowSeconds: 60 } }, 'monitor.windowSeconds: unknown key'],
    ['wrong type', { devices: [dev({ rate: '48000' })] }, 'devices[0].rate: must be a number (frames per second) (got "48000")'],
    ['negative period', { devices: [dev({ periodFrames: -960 })] }, 'devices[0].periodFrames: must be greater than 0 (got -960)'],
    ['fractional period', { devices: [dev({ periodFrames: 9.5 })] }, 'devices[0].periodFrames: must be a whole number (got 9.5)'],
    ['missing devices', {}, 'devices: is required'],
    ['empty devices', { devices: [] }, 'devices: must list at least one device (got [])'],
    ['missing pcm', { devices: [{ name: 'a', direction: 'capture' }] }, 'devices[0].pcm: is required'],
    [
      'duplicate names',
      { devices: [dev(), dev({ pcm: 'hw:1,0', direction: 'playback' })] },
      'devices[1].name: duplicate device name (devices[0] has it already) (got "hdmi-in")',
    ],
    ['bad direction', { devices: [dev({ direction: 'both' })] }, "devices[0].direction: must be 'capture' or 'playback' (got \"both\")"],
    ['playback sink on capture', { devices: [dev({ audio: 'silence' })] }, 'devices[0].audio: is not a capture sink'],
    ['socket source on playback', { devices: [dev({ direction: 'playback', audio: { socket: '/run/x' } })] }, 'devices[0].audio: is not a playback source'],
    ['relative audio path', { devices: [dev({ audio: { file: 'out.raw' } })] }, 'devices[0].audio'],
    ['mock faults on a real PCM', { devices: [dev({ mock: { faults: [] } })] }, "devices[0].mock: is only allowed for 'mock:<name>' PCMs"],
    [
      'unknown fault type',
      { devices: [dev({ pcm: 'mock:a', mock: { faults: [{ at: 1, type: 'boom' }] } })] },
      'devices[0].mock.faults[0].type: must have a type: xrun, stall',
    ],
    ['bad listen', { devices: [dev()], http: { listen: 9595 } }, "http.listen: must be a string 'HOST:PORT' or 'off' (got 9595)"],
    ['bad log level', { devices: [dev()], logLevel: 'loud' }, 'logLevel: must be one of fatal, error'],
    [
      'backoff max below initial',
      { devices: [dev()], recovery: { initialBackoffMs: 1000, maxBackoffMs: 10 } },
      'recovery.maxBackoffMs: must be at least initialBackoffMs (1000)',
    ],
    ['not a mapping', [1, 2], '(top level): must be a mapping with a devices list'],
  ])('%s', (_name, input, message) => {
    const m = problems(input);
    expect(m).toContain('invalid config test.yaml');
    expect(m).toContain(message);
  });

  it('reports every problem, not just the first', () => {
    const m = problems({ devices: [dev({ rate: -1, channels: 'two', extra: true })] });
    expect(m).toContain('devices[0].rate');
    expect(m).toContain('devices[0].channels');
    expect(m).toContain('devices[0].extra: unknown key');
  });

  it('fills in the DESIGN.md defaults', () => {
    const c = validateConfig({ devices: [dev()] });
    expect(c.http.listen).toBe('127.0.0.1:9595');
    expect(c.logLevel).toBe('info');
    expect(c.monitor).toEqual({
      checkIntervalMs: 5000,
      recoveryThreshold: 3,
      latencyThresholdMs: 100,
      errorRateLimit: 6,
      supervisorTimeoutMs: 10000,
      maxDroppedFrames: 10,
      windowMs: 60000,
      windowBuckets: 60,
      hysteresisMs: 5000,
    });
    expect(c.recovery).toMatchObject({ initialBackoffMs: 250, maxBackoffMs: 30000 });
    expect(pcmOptionsOf(c.devices[0]!)).toEqual({
      device: 'hw:0,0',
      direction: 'capture',
      rate: 48000,
      channels: 2,
      format: 'S16_LE',
      periodFrames: 960,
      bufferPeriods: 4,
      sampleIntervalMs: 100,
    });
  });

  it('parses YAML and JSON, and names a syntax error', () => {
    const yaml = 'devices:\n  - name: a\n    pcm: "mock:a"\n    direction: playback\n    audio: silence\n';
    expect(parseConfigText(yaml, 'x.yaml').devices[0]!.audio).toBe('silence');
    expect(parseConfigText(JSON.stringify({ devices: [dev()] }), 'x.json').devices).toHaveLength(1);
    expect(() => parseConfigText('{ devices: [', 'x.json')).toThrow(/x\.json:\n {2}\(top level\): not valid JSON/);
    expect(() => parseConfigText('devices: [\n', 'x.yaml')).toThrow(/not valid YAML/);
  });

  it('the built-in mock config is valid and uses the mock backend', () => {
    const c = builtinMockConfig();
    expect(c.devices).toHaveLength(1);
    expect(c.devices[0]!.pcm.startsWith('mock:')).toBe(true);
  });
});

describe('diffDevices', () => {
  it('sorts devices into added, removed, changed and unchanged by name', () => {
    const a = validateConfig({ devices: [dev(), dev({ name: 'out', pcm: 'hw:1,0', direction: 'playback' }), dev({ name: 'gone', pcm: 'hw:2' })] });
    const b = validateConfig({
      devices: [dev(), dev({ name: 'out', pcm: 'hw:1,0', direction: 'playback', bufferPeriods: 8 }), dev({ name: 'new', pcm: 'hw:3' })],
    });
    const d = diffDevices(a.devices, b.devices);
    expect(d.unchanged.map((x) => x.name)).toEqual(['hdmi-in']);
    expect(d.changed.map((x) => x.after.name)).toEqual(['out']);
    expect(d.added.map((x) => x.name)).toEqual(['new']);
    expect(d.removed.map((x) => x.name)).toEqual(['gone']);
  });

  it('a key written out with its default value is not a change', () => {
    const a = validateConfig({ devices: [dev()] });
    const b = validateConfig({ devices: [dev({ rate: 48000, bufferPeriods: 4 })] });
    expect(diffDevices(a.devices, b.devices).unchanged).toHaveLength(1);
  });
});
