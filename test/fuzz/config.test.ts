// Property tests of the daemon's config loader: any document is accepted or
// refused with a ConfigError (never another exception), and a valid config
// with one field broken (wrong type, out of range, unknown key) is refused
// with a problem whose path is exactly that field. Seeded and bounded.
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';

import { ConfigError, parseConfigText, validateConfig } from '../../src/daemon/config.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261204);
const run = (numRuns: number) => ({ seed: SEED, numRuns, endOnFailure: true });

type Path = Array<string | number>;
const fmt = (path: Path): string =>
  path.reduce<string>((out, k) => (typeof k === 'number' ? `${out}[${k}]` : out ? `${out}.${k}` : k), '');

function refusal(input: unknown): ConfigError {
  try {
    validateConfig(input, 'fuzz.yaml');
  } catch (err) {
    expect(err, String(err)).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`accepted: ${JSON.stringify(input)}`);
}

function checkError(err: ConfigError): void {
  expect(err.problems.length).toBeGreaterThan(0);
  for (const p of err.problems) {
    expect(typeof p.path).toBe('string');
    expect(p.reason.length).toBeGreaterThan(0);
    expect(err.message).toContain(`${p.path || '(top level)'}: ${p.reason}`);
  }
}

// ---- valid configs ---------------------------------------------------------

const ms = (min: number, max: number) => fc.integer({ min, max });
const faultArb = fc.oneof(
  fc.record({ at: ms(0, 1e6), type: fc.constant('xrun'), count: ms(1, 10), everyMs: ms(1, 1000) }, { requiredKeys: ['at', 'type'] }),
  fc.record({ at: ms(0, 1e6), type: fc.constantFrom('stall', 'suspend', 'disconnect'), durationMs: ms(1, 5000) }),
  fc.record({ at: ms(0, 1e6), type: fc.constant('delay'), extraMs: ms(1, 100), durationMs: ms(1, 5000) }),
  fc.record({ at: ms(0, 1e6), type: fc.constant('openFail'), count: ms(1, 5), errno: fc.constantFrom('EBUSY', 'ENOENT') }),
  fc.record({ at: ms(0, 1e6), type: fc.constant('ioError'), errno: fc.constantFrom('EIO', 'ENODEV') }),
);

const streamDevice = fc
  .record(
    {
      pcm: fc.oneof(fc.constantFrom('hw:0,0', 'plughw:1,0', 'default', 'null'), fc.stringMatching(/^[a-z]{1,8}$/).map((s) => `mock:${s}`)),
      direction: fc.constantFrom('capture', 'playback'),
      rate: fc.constantFrom(8000, 44100, 48000, 96000),
      channels: ms(1, 8),
      format: fc.constantFrom('S16_LE', 'S32_LE', 'FLOAT_LE', 'S24_3LE'),
      periodFrames: ms(16, 4096),
      bufferPeriods: ms(2, 64),
      sampleIntervalMs: ms(10, 1000),
      rtPriority: ms(1, 99),
      mode: fc.constant('stream'),
      recovery: fc.record(
        { exec: fc.array(fc.stringMatching(/^[a-z/]{1,10}$/), { minLength: 1, maxLength: 3 }), timeoutMs: ms(1, 1000) },
        { requiredKeys: ['exec'] },
      ),
      faults: fc.array(faultArb, { maxLength: 3 }),
      audio: fc.constantFrom<unknown>('default', { fifo: '/run/fz.fifo' }, { file: '/tmp/fz.raw' }),
    },
    { requiredKeys: ['pcm', 'direction'] },
  )
  .map(({ faults, audio, ...d }) => {
    const out: Record<string, unknown> = { ...d };
    if (faults && String(d.pcm).startsWith('mock:')) out.mock = { faults };
    if (audio === 'default') out.audio = d.direction === 'capture' ? 'discard' : 'silence';
    else if (audio) out.audio = audio;
    return out;
  });

const observeDevice = fc.record(
  {
    pcm: fc.constantFrom('hw:0,0', 'hw:1,0,0', 'plughw:0,0'),
    direction: fc.constantFrom('capture', 'playback'),
    mode: fc.constant('observe'),
    pollIntervalMs: ms(1, 1000),
    ownerStallShare: fc.double({ min: 0.01, max: 1, noNaN: true }),
  },
  { requiredKeys: ['pcm', 'direction', 'mode'] },
);

const validConfig = fc
  .record(
    {
      logLevel: fc.constantFrom('error', 'info', 'debug', 'silent'),
      http: fc.record({ listen: fc.constantFrom('127.0.0.1:9595', 'off', '[::1]:80', '0.0.0.0:1') }),
      monitor: fc.record(
        {
          checkIntervalMs: ms(1, 10000),
          recoveryThreshold: ms(1, 10),
          latencyThresholdMs: ms(1, 1000),
          errorRateLimit: fc.double({ min: 0.1, max: 100, noNaN: true }),
          windowMs: ms(1000, 600000),
          windowBuckets: ms(1, 3600),
          hysteresisMs: ms(0, 10000),
          maxDroppedFrames: ms(0, 100),
        },
        { requiredKeys: [] },
      ),
      recovery: fc.record(
        { initialBackoffMs: ms(1, 1000), jitter: fc.double({ min: 0, max: 1, noNaN: true }), backoffFactor: fc.double({ min: 1, max: 4, noNaN: true }), maxAttempts: ms(1, 100) },
        { requiredKeys: [] },
      ),
      devices: fc.array(fc.oneof({ weight: 4, arbitrary: streamDevice }, { weight: 1, arbitrary: observeDevice }), { minLength: 1, maxLength: 3 }),
    },
    { requiredKeys: ['devices'] },
  )
  .map((c) => {
    const devices = (c.devices as Record<string, unknown>[]).map((d, i) => ({ name: `dev-${i}`, ...d }));
    return { ...c, devices };
  });

/** Paths to every value inside a config (not the root). */
function pathsOf(v: unknown, at: Path = []): Path[] {
  const out: Path[] = at.length ? [at] : [];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...pathsOf(x, [...at, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...pathsOf(x, [...at, k]));
  return out;
}

function setAt(root: unknown, path: Path, value: unknown): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let cur = copy;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  cur[path[path.length - 1]!] = value;
  return copy;
}

function getAt(root: unknown, path: Path): unknown {
  return path.reduce<unknown>((cur, k) => (cur as Record<string | number, unknown>)[k], root);
}

/** A value of another JSON type than `v`: never valid where `v` was. */
function wrongTypeFor(v: unknown): fc.Arbitrary<unknown> {
  const all: Record<string, fc.Arbitrary<unknown>> = {
    number: fc.oneof(fc.integer(), fc.constantFrom(0, -1, 1e300)),
    string: fc.string({ maxLength: 10 }),
    boolean: fc.boolean(),
    null: fc.constant(null),
    array: fc.array(fc.integer(), { maxLength: 2 }),
    object: fc.constant({}),
  };
  const t = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  return fc.oneof(...Object.entries(all).filter(([k]) => k !== t).map(([, a]) => a));
}

describe('fuzz: config loader', () => {
  it('generated valid configs are accepted', () => {
    fc.assert(
      fc.property(validConfig, (cfg) => {
        expect(validateConfig(cfg, 'fuzz.yaml').devices.length).toBe(cfg.devices.length);
      }),
      run(300),
    );
  });

  it('one field of a valid config given a value of the wrong type: refused, naming that field', () => {
    const caseArb = validConfig.chain((cfg) =>
      fc.constantFrom(...pathsOf(cfg)).chain((path) => wrongTypeFor(getAt(cfg, path)).map((bad) => ({ cfg, path, bad }))),
    );
    fc.assert(
      fc.property(caseArb, ({ cfg, path, bad }) => {
        const err = refusal(setAt(cfg, path, bad));
        checkError(err);
        const named = err.problems.map((p) => p.path);
        // `audio` is a plain union: a bad field inside { file } / { fifo } / { socket } is
        // reported at the union (devices[i].audio, with the value shown), not at the field.
        const audio = path.indexOf('audio');
        const expected = audio > 0 && path.length > audio + 1 ? fmt(path.slice(0, audio + 1)) : fmt(path);
        expect(named, `${fmt(path)} = ${JSON.stringify(bad)}`).toContain(expected);
      }),
      run(600),
    );
  });

  it('a negative number in any numeric field: refused, naming that field', () => {
    const caseArb = validConfig.chain((cfg) => {
      const numeric = pathsOf(cfg).filter((p) => typeof getAt(cfg, p) === 'number');
      return fc.constantFrom(...numeric).map((path) => ({ cfg, path }));
    });
    fc.assert(
      fc.property(caseArb, fc.constantFrom(-1, -0.5, -1e9), ({ cfg, path }, bad) => {
        const err = refusal(setAt(cfg, path, bad));
        checkError(err);
        expect(err.problems.map((p) => p.path), fmt(path)).toContain(fmt(path));
      }),
      run(400),
    );
  });

  it('an unknown key in any mapping: refused as "unknown key" at that path', () => {
    const caseArb = validConfig.chain((cfg) => {
      const objects = [[], ...pathsOf(cfg)].filter((p) => {
        const v = getAt(cfg, p as Path);
        return v !== null && typeof v === 'object' && !Array.isArray(v);
      }) as Path[];
      return fc
        .tuple(fc.constantFrom(...objects), fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,12}$/), fc.jsonValue({ maxDepth: 1 }))
        .filter(([p, key]) => !(key in (getAt(cfg, p) as object)) && !['__proto__', 'constructor', 'prototype'].includes(key))
        .map(([p, key, value]) => ({ cfg, path: [...p, key] as Path, value }));
    });
    fc.assert(
      fc.property(caseArb, ({ cfg, path, value }) => {
        const err = refusal(setAt(cfg, path, value));
        checkError(err);
        expect(err.problems.map((p) => p.path), fmt(path)).toContain(fmt(path));
      }),
      run(400),
    );
  });

  it('any JSON document: accepted or a ConfigError whose problems each name a path', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.record({ devices: fc.jsonValue({ maxDepth: 3 }) }), fc.record({ devices: fc.array(fc.dictionary(fc.constantFrom('name', 'pcm', 'direction', 'rate', 'mock', 'audio', 'mode', 'format'), fc.jsonValue({ maxDepth: 2 })), { maxLength: 3 }) })), (doc) => {
        try {
          validateConfig(doc, 'fuzz.yaml');
        } catch (err) {
          expect(err, String(err)).toBeInstanceOf(ConfigError);
          checkError(err as ConfigError);
        }
      }),
      run(1500),
    );
  });

  it('a YAML alias inside its own anchor (a cyclic document): a ConfigError, not a TypeError from JSON.stringify', () => {
    for (const t of ['a: &a [*a]', 'devices: &d [*d]', 'devices: [&x {name: a, pcm: "mock:a", direction: capture, mock: {faults: [*x]}}]']) {
      expect(() => parseConfigText(t, 'fuzz.yaml'), t).toThrow(ConfigError);
    }
  });

  it('any text as YAML or JSON: accepted or a ConfigError', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.constantFrom('devices: [', 'devices:\n  - name: a\n    pcm: *x', '{{{', 'a: &a [*a]', '- - - -', 'devices: !!binary x', '\t\tdevices: 1'),
    );
    // The yaml package warns (process.emitWarning) on unknown tags and directives: expected here.
    const quiet = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    fc.assert(
      fc.property(text, fc.constantFrom('fuzz.yaml', 'fuzz.json'), (t, source) => {
        try {
          parseConfigText(t, source);
        } catch (err) {
          expect(err, String(err)).toBeInstanceOf(ConfigError);
          checkError(err as ConfigError);
        }
      }),
      run(1500),
    );
    quiet.mockRestore();
  });
});
