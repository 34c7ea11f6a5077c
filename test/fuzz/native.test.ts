// Property tests of every exported native entry: random values into the
// PcmHandle constructor (options and mock fault scripts), read / write /
// reopen / close sequences on open and closed handles (some concurrent),
// sdNotify, errnoName and listPcms. The process must never crash and every
// error must be a TypeError, RangeError or PcmError with a message.
// Seeded and bounded: the file runs in a few seconds, the same way each time.
import { Readable } from 'node:stream';

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

import { PcmError, PcmStream } from '../../src/index.js';
import { native, type NativePcmHandle } from '../../src/native.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261204);
const run = (numRuns: number) => ({ seed: SEED, numRuns, endOnFailure: true });

/** The one acceptable shape of a thrown or rejected value. */
function expectCleanError(err: unknown): void {
  expect(err instanceof TypeError || err instanceof RangeError || err instanceof PcmError, `unexpected ${String(err)}`).toBe(true);
  const e = err as Error;
  expect(typeof e.message).toBe('string');
  expect(e.message.length).toBeGreaterThan(0);
  if (err instanceof PcmError) {
    expect(err.code).toMatch(/^E[A-Z0-9]+$|^UNKNOWN/);
    expect(Number.isInteger(err.errno) && err.errno < 0).toBe(true);
    expect(typeof err.device).toBe('string');
  }
}

function clean<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    expectCleanError(err);
    return undefined;
  }
}

async function settle(p: Promise<unknown>): Promise<void> {
  await p.then(
    () => undefined,
    (err) => expectCleanError(err),
  );
}

// Values that break naive native code: odd numbers, odd strings, wrong types.
const nastyNumber = fc.oneof(
  fc.constantFrom(0, -0, -1, 1, 0.5, -0.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, -(2 ** 63),
    Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON, 1e9, 1e12, 86400000, 86400001, 16, 1048576, 1048577),
  fc.integer(),
  fc.double(),
);
const nastyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('', ' ', '\0', 'a\0b', 'capture', 'playback', 'S16_LE', 'FLOAT_LE', 'MU_LAW', 'EBUSY', 'ENOENT',
    'E', 'EFOO', 'xrun', 'stall', 'mock:', 'mock:x', 'x'.repeat(1025), 'é'.repeat(600), '%s%n', '\uD800'),
);
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  nastyNumber,
  nastyString,
  fc.constantFrom(undefined, null, true, false, [], {}, () => 1, Symbol('s'), 10n, new Date(0), Buffer.alloc(3)),
  fc.array(fc.integer(), { maxLength: 3 }),
);
/** A value for a field: mostly plausible, sometimes anything. */
const field = (plausible: fc.Arbitrary<unknown>) => fc.oneof({ weight: 15, arbitrary: plausible }, { weight: 1, arbitrary: anyValue });
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });

const faultArb = fc.record(
  {
    type: field(fc.constantFrom('xrun', 'stall', 'delay', 'suspend', 'disconnect', 'openFail', 'ioError', 'bogus')),
    at: field(fc.integer({ min: -10, max: 400 })),
    count: field(fc.integer({ min: -1, max: 5 })),
    everyMs: field(fc.integer({ min: -1, max: 200 })),
    durationMs: field(fc.integer({ min: -1, max: 300 })),
    extraMs: field(fc.integer({ min: -1, max: 50 })),
    errno: field(fc.constantFrom('EBUSY', 'ENOENT', 'EIO', 'ENODEV', 'EPIPE', 'EFOO', 'ebusy', '')),
  },
  { requiredKeys: [] },
);

const mockArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 6, arbitrary: fc.record(
    {
      faults: field(fc.array(field(faultArb), { maxLength: 6 })),
      startFrame: field(fc.constantFrom(0, 2 ** 32 - 480, 2 ** 53, 2 ** 53 + 2, -1)),
    },
    { requiredKeys: [] },
  ) },
  { weight: 1, arbitrary: anyValue },
);

const deviceArb = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 12 }).map((s) => `mock:fz${s}`) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map((s) => `fz_no_such_${s}`) },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 99 }).map((n) => `hw:${n},0`) },
  { weight: 1, arbitrary: anyValue },
);

const optionsArb = fc.record(
  {
    device: deviceArb,
    direction: field(fc.constantFrom('capture', 'playback')),
    rate: field(fc.constantFrom(8000, 44100, 48000, 96000, 768000, 768001, 999)),
    channels: field(fc.integer({ min: 0, max: 65 })),
    format: field(fc.constantFrom('S16_LE', 'S32_LE', 'S24_3LE', 'FLOAT_LE', 'U8', 'S8', 'FLOAT64_BE', 'IMA_ADPCM', 'DSD_U8')),
    periodFrames: field(fc.constantFrom(15, 16, 64, 480, 1024, 1 << 20, (1 << 20) + 1)),
    bufferPeriods: field(fc.integer({ min: 1, max: 1025 })),
    sampleIntervalMs: field(fc.constantFrom(9, 10, 50, 100, 60000, 60001)),
    rtPriority: field(fc.integer({ min: -1, max: 100 })),
    autoReopen: field(fc.boolean()),
    mock: mockArb,
  },
  { requiredKeys: ['device', 'direction'] },
);

/** Options the mock opens quickly: valid, small, a short fault script. */
const openableArb = fc.record({
  device: fc.string({ maxLength: 8 }).map((s) => `mock:fz${s}`),
  direction: fc.constantFrom('capture' as const, 'playback' as const),
  rate: fc.constantFrom(8000, 48000),
  channels: fc.integer({ min: 1, max: 4 }),
  format: fc.constantFrom('S16_LE', 'S32_LE', 'FLOAT_LE', 'U8'),
  periodFrames: fc.constantFrom(64, 256, 480),
  bufferPeriods: fc.integer({ min: 2, max: 6 }),
  sampleIntervalMs: fc.constantFrom(10, 20, 50),
  autoReopen: fc.boolean(),
  mock: fc.record({
    faults: fc.array(
      fc.oneof(
        fc.record({ type: fc.constant('xrun' as const), at: fc.integer({ min: 0, max: 60 }), count: fc.integer({ min: 1, max: 3 }), everyMs: fc.integer({ min: 1, max: 10 }) }),
        fc.record({ type: fc.constantFrom('stall' as const, 'suspend' as const, 'disconnect' as const), at: fc.integer({ min: 0, max: 60 }), durationMs: fc.integer({ min: 1, max: 30 }) }),
        fc.record({ type: fc.constant('delay' as const), at: fc.integer({ min: 0, max: 60 }), extraMs: fc.integer({ min: 0, max: 20 }), durationMs: fc.integer({ min: 1, max: 30 }) }),
        fc.record({ type: fc.constant('openFail' as const), at: fc.constant(0), count: fc.integer({ min: 1, max: 2 }), errno: fc.constantFrom('EBUSY', 'ENOENT') }),
        fc.record({ type: fc.constant('ioError' as const), at: fc.integer({ min: 0, max: 60 }), errno: fc.constantFrom('EIO', 'ENODEV', 'EBADFD') }),
      ),
      { maxLength: 4 },
    ),
  }),
});

const noop = (): void => {};
const leftovers: NativePcmHandle[] = [];
/** What the runs exercised (printed at the end: a property that only ever hits one branch proves little). */
const stats: Record<string, number> = {};
const count = (k: string): void => {
  stats[k] = (stats[k] ?? 0) + 1;
};

afterAll(async () => {
  await Promise.allSettled(leftovers.map((h) => h.close()));
  console.log(`fuzz seed ${SEED}: ${JSON.stringify(stats)}`);
});

describe('fuzz: PcmHandle constructor', () => {
  it('random options and fault scripts: a handle or a TypeError / RangeError naming an option', () => {
    fc.assert(
      fc.property(optionsArb, (opts) => {
        try {
          const h = new native.PcmHandle(opts as never, noop);
          expect(h.state).toBe('idle');
          count('ctor ok');
        } catch (err) {
          count(`ctor ${(err as Error).name}`);
          expect(err instanceof TypeError || err instanceof RangeError, String(err)).toBe(true);
          expect((err as Error).message).toMatch(/^options/);
        }
      }),
      run(3000),
    );
  });

  it('anything at all as options or onMessage: a clean error', () => {
    fc.assert(
      fc.property(anyValue, anyValue, (opts, cb) => {
        clean(() => new native.PcmHandle(opts as never, cb as never));
      }),
      run(1000),
    );
    expect(() => new native.PcmHandle({ device: 'mock:fz', direction: 'capture' }, 42 as never)).toThrow(TypeError);
  });

  it('fault scripts: one bad field among good faults is refused naming options.mock.faults[i].<field>', () => {
    const good: Record<string, Record<string, unknown>> = {
      xrun: { type: 'xrun', at: 10, count: 2, everyMs: 5 },
      stall: { type: 'stall', at: 10, durationMs: 5 },
      delay: { type: 'delay', at: 10, extraMs: 3, durationMs: 5 },
      suspend: { type: 'suspend', at: 10, durationMs: 5 },
      disconnect: { type: 'disconnect', at: 10, durationMs: 5 },
      openFail: { type: 'openFail', at: 0, count: 1, errno: 'EBUSY' },
      ioError: { type: 'ioError', at: 10, errno: 'EIO' },
    };
    const badValue = fc.oneof(
      fc.constantFrom(-1, -0.001, NaN, Infinity, -Infinity, 1e300, null, true, '5', 'EBUSY!', {}, [], 10n),
      fc.string({ maxLength: 5 }),
    );
    const caseArb = fc
      .record({
        before: fc.array(fc.constantFrom(...Object.values(good)), { maxLength: 3 }),
        victim: fc.constantFrom(...Object.values(good)),
        after: fc.array(fc.constantFrom(...Object.values(good)), { maxLength: 3 }),
        bad: badValue,
      })
      .chain((c) => fc.constantFrom(...Object.keys(c.victim)).map((key) => ({ ...c, key })))
      // A value the parser may rightly accept for that field: not a case.
      .filter(({ key, bad }) => !(key === 'type' && typeof bad === 'string' && bad in good) && !(key === 'errno' && bad === 'EBUSY'));
    fc.assert(
      fc.property(caseArb, ({ before, victim, after, key, bad }) => {
        const faults = [...before, { ...victim, [key]: bad }, ...after];
        let err: unknown;
        try {
          new native.PcmHandle({ device: 'mock:fz', direction: 'capture', mock: { faults } } as never, noop);
        } catch (e) {
          err = e;
        }
        if (err === undefined) {
          // Accepted: only a numeric value in range can be, e.g. at: 1e300 is not.
          expect(typeof bad, `${key} = ${String(bad)} accepted`).toBe('number');
          expect(Number.isFinite(bad) && (bad as number) >= 0).toBe(true);
          return;
        }
        expect(err instanceof TypeError || err instanceof RangeError, String(err)).toBe(true);
        expect((err as Error).message).toContain(`options.mock.faults[${before.length}].${key}`);
      }),
      run(1500),
    );
  });

  it('huge fault scripts are refused with a RangeError, not an allocation', () => {
    const many = { type: 'xrun', at: 0, count: 100000, everyMs: 1 };
    expect(() => new native.PcmHandle({ device: 'mock:fz', direction: 'capture', mock: { faults: Array(11).fill(many) } } as never, noop)).toThrow(RangeError);
  });
});

describe('fuzz: operations on handles', () => {
  type Op =
    | { op: 'open' | 'reopen' | 'close' | 'ref' | 'unref' | 'state' }
    | { op: 'read'; arg: unknown; argc: 0 | 1 }
    | { op: 'write'; arg: unknown }
    | { op: 'sleep'; ms: number };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.constantFrom<Op>({ op: 'open' }, { op: 'reopen' }, { op: 'close' }, { op: 'ref' }, { op: 'unref' }, { op: 'state' }),
    fc.record({ op: fc.constant('read' as const), arg: fc.oneof(fc.integer({ min: 1, max: 8192 }), anyValue), argc: fc.constantFrom(0 as const, 1 as const) }),
    fc.record({
      op: fc.constant('write' as const),
      arg: fc.oneof(fc.integer({ min: 0, max: 20000 }).map((n) => Buffer.alloc(n, 1)), fc.constant(Buffer.alloc(0)), anyValue),
    }),
    fc.record({ op: fc.constant('sleep' as const), ms: fc.integer({ min: 0, max: 15 }) }),
  );

  it('random open / read / write / reopen / close sequences (unawaited, so they overlap): only clean errors', async () => {
    await fc.assert(
      fc.asyncProperty(
        openableArb,
        // Mostly opened first (the interesting states), sometimes not at all.
        fc.tuple(fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), fc.array(opArb, { minLength: 1, maxLength: 14 }))
          .map(([openFirst, rest]): Op[] => (openFirst ? [{ op: 'open' }, ...rest] : rest)),
        async (opts, ops) => {
        let messages = 0;
        const h = new native.PcmHandle(opts, () => {
          messages++;
        });
        const pending: Promise<void>[] = [];
        for (const o of ops) {
          switch (o.op) {
            case 'open':
            case 'reopen':
            case 'close':
              pending.push(
                h[o.op]().then(
                  () => count(`${o.op} ok`),
                  (err) => {
                    count(`${o.op} ${(err as Error).name}`);
                    expectCleanError(err);
                  },
                ),
              );
              break;
            case 'ref':
            case 'unref':
              h[o.op]();
              break;
            case 'state':
              expect(['idle', 'opening', 'open', 'closing', 'closed']).toContain(h.state);
              break;
            case 'read': {
              const r = clean(() => (o.argc ? h.read(o.arg as number) : h.read()));
              if (r != null) expect(Buffer.isBuffer(r)).toBe(true);
              break;
            }
            case 'write': {
              const n = clean(() => h.write(o.arg as Buffer));
              if (n !== undefined) expect(Number.isInteger(n) && n >= 0 && n <= (o.arg as Buffer).length).toBe(true);
              break;
            }
            case 'sleep':
              await new Promise((r) => setTimeout(r, o.ms));
              break;
          }
        }
        await Promise.all(pending);
        await settle(h.close());
        expect(h.state).toBe('closed');
        // Closed: every call is a clean no-op or a clean error, never a crash.
        clean(() => h.read());
        clean(() => h.write(Buffer.alloc(64)));
        await settle(h.reopen());
        await settle(h.open());
        await settle(h.close());
        expect(messages).toBeGreaterThanOrEqual(0);
      }),
      run(150),
    );
  });

  it('concurrent reopen / close storms on one open handle settle every promise', async () => {
    await fc.assert(
      fc.asyncProperty(
        openableArb.map((o) => ({ ...o, mock: { faults: [] } })),
        fc.array(fc.constantFrom('reopen', 'close', 'read', 'tick'), { minLength: 2, maxLength: 25 }),
        async (opts, ops) => {
          const h = new native.PcmHandle(opts, noop);
          leftovers.push(h);
          await settle(h.open());
          const all: Promise<void>[] = [];
          for (const o of ops) {
            if (o === 'reopen' || o === 'close') all.push(settle(h[o]()));
            else if (o === 'read') clean(() => (opts.direction === 'capture' ? h.read(4096) : h.write(Buffer.alloc(4096))));
            else await new Promise((r) => setImmediate(r));
          }
          await Promise.all(all);
          await settle(h.close());
          expect(h.state).toBe('closed');
        },
      ),
      run(80),
    );
  });

  it('PcmStream over random scripts: open, stream a little, close; errors are PcmError', async () => {
    await fc.assert(
      fc.asyncProperty(openableArb, fc.integer({ min: 0, max: 40 }), async (opts, ms) => {
        const s = new PcmStream(opts);
        s.on('error', noop);
        try {
          await s.open();
          if (s.audio instanceof Readable) s.audio.resume();
          else s.audio.write(Buffer.alloc(4096));
          await new Promise((r) => setTimeout(r, ms));
          count('stream opened');
        } catch (err) {
          count('stream open failed');
          expectCleanError(err);
        }
        await settle(s.close());
      }),
      run(50),
    );
  });
});

describe('fuzz: opening odd device names', () => {
  it('non-mock names alsa-lib does not know: open rejects with a PcmError naming the device', async () => {
    const nameArb = fc.oneof(
      fc.string({ maxLength: 30 }).map((s) => `fz_no_such_${s}`),
      fc.integer({ min: 50, max: 10000 }).map((n) => `hw:${n},0`),
      fc.integer({ min: 50, max: 99 }).map((n) => `plughw:${n}`),
      fc.constantFrom('hw:CARD=fz_nope', 'hw:', 'hw:0,999', 'fz:{', 'fz_}', 'fz_"', "fz_'", 'fz_ \t\n', 'fz_$', 'fz_%n%n', `fz_${'a'.repeat(1000)}`),
    );
    await fc.assert(
      fc.asyncProperty(nameArb, fc.constantFrom('capture' as const, 'playback' as const), async (device, direction) => {
        const h = new native.PcmHandle({ device, direction }, noop);
        const err = await h.open().then(() => undefined, (e: unknown) => e);
        if (err === undefined) {
          await h.close();
          return;
        }
        expectCleanError(err);
        expect(err).toBeInstanceOf(PcmError);
        expect((err as PcmError).device).toBe(device);
        await settle(h.close());
      }),
      run(60),
    );
  });
});

describe('regressions found by the sanitizer run of these tests', () => {
  it('write(Buffer.alloc(0)) on an open playback handle takes 0 bytes (was memcpy from null: UBSan)', async () => {
    const h = new native.PcmHandle({ device: 'mock:fz-empty', direction: 'playback' }, noop);
    await h.open();
    try {
      expect(h.write(Buffer.alloc(0))).toBe(0);
      expect(h.write(Buffer.alloc(4096))).toBeGreaterThan(0);
    } finally {
      await h.close();
    }
  });

  it('errnoName(-2147483648) (was a signed overflow in std::abs: UBSan)', () => {
    expect(native.errnoName(-2147483648)).toBe('E2147483648');
    expect(native.errnoName(2 ** 31)).toBe('E2147483648');  // Int32Value wraps to INT_MIN
    expect(native.errnoName(-16)).toBe('EBUSY');
  });
});

describe('fuzz: module functions', () => {
  it('errnoName: a string for any number, TypeError otherwise', () => {
    fc.assert(
      fc.property(anyValue, (v) => {
        const r = clean(() => native.errnoName(v as number));
        if (r !== undefined) expect(typeof r).toBe('string');
        if (typeof v !== 'number') expect(r).toBeUndefined();
      }),
      run(2000),
    );
  });

  it('setErrorClass refuses non-constructors (and the class stays PcmError)', async () => {
    fc.assert(
      fc.property(anyValue.filter((v) => typeof v !== 'function'), (v) => {
        expect(() => native.setErrorClass(v as never)).toThrow(TypeError);
      }),
      run(200),
    );
    const err = await new native.PcmHandle({ device: 'fz_no_such_pcm', direction: 'capture' }, noop).open().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PcmError);
  });

  it('sdNotify: false without NOTIFY_SOCKET; odd sockets are PcmError; odd messages TypeError / RangeError', () => {
    const saved = process.env.NOTIFY_SOCKET;
    const socketArb = fc.oneof(
      fc.constant(undefined),
      fc.string({ maxLength: 20 }).map((s) => `/nonexistent-fz/${s}`),
      fc.string({ maxLength: 20 }).map((s) => `@alsa-health-fz-${s}`),
      fc.constantFrom('', '@', 'relative/path', '/', `/${'x'.repeat(200)}`, `@${'y'.repeat(200)}`),
    );
    try {
      fc.assert(
        fc.property(socketArb, fc.oneof(nastyString, anyValue), (sock, msg) => {
          if (sock === undefined) delete process.env.NOTIFY_SOCKET;
          else process.env.NOTIFY_SOCKET = sock;
          const r = clean(() => native.sdNotify(msg as string));
          if (r !== undefined) expect(typeof r).toBe('boolean');
          if (typeof msg !== 'string') expect(r).toBeUndefined();
        }),
        run(1500),
      );
    } finally {
      if (saved === undefined) delete process.env.NOTIFY_SOCKET;
      else process.env.NOTIFY_SOCKET = saved;
    }
  });

  it('listPcms, many at once, with arguments it ignores: arrays of PCM infos', async () => {
    const lists = await Promise.all(Array.from({ length: 8 }, (_, i) => (native.listPcms as (...a: unknown[]) => Promise<unknown>)(i, 'x', null)));
    for (const l of lists) {
      expect(Array.isArray(l)).toBe(true);
      for (const p of l as Array<{ name: unknown }>) expect(typeof p.name).toBe('string');
    }
  });
});
