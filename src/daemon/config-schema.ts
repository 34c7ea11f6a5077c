// The daemon's config file, as a zod schema: every key, its type, its default.
// Strict everywhere: an unknown key is an error, not silently ignored.

import { z } from 'zod';
import { healthDefaults } from '../health/config.js';
import { recoveryDefaults } from '../recovery/config.js';

const posInt = (what: string) =>
  z.number({ error: `must be a number (${what})` }).int('must be a whole number').positive('must be greater than 0');
const nonNegInt = (what: string) =>
  z.number({ error: `must be a number (${what})` }).int('must be a whole number').nonnegative('must be 0 or more');
const ms = (what: string) => nonNegInt(`${what}, in milliseconds`);
const posMs = (what: string) => posInt(`${what}, in milliseconds`);

/** ALSA sample formats the engine accepts, as alsa-lib names them. */
export const FORMATS = [
  'S8', 'U8', 'S16_LE', 'S16_BE', 'U16_LE', 'U16_BE', 'S24_LE', 'S24_BE', 'S24_3LE', 'S24_3BE',
  'S32_LE', 'S32_BE', 'FLOAT_LE', 'FLOAT_BE', 'FLOAT64_LE', 'FLOAT64_BE',
] as const;

const errnoName = z.string().regex(/^E[A-Z0-9]+$/, "must be an errno name such as 'EBUSY'");

const fault = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ at: ms('at'), type: z.literal('xrun'), count: posInt('count').optional(), everyMs: posMs('everyMs').optional() }),
    z.strictObject({ at: ms('at'), type: z.literal('stall'), durationMs: posMs('durationMs') }),
    z.strictObject({ at: ms('at'), type: z.literal('delay'), extraMs: posMs('extraMs'), durationMs: posMs('durationMs') }),
    z.strictObject({ at: ms('at'), type: z.literal('suspend'), durationMs: posMs('durationMs') }),
    z.strictObject({ at: ms('at'), type: z.literal('disconnect'), durationMs: posMs('durationMs') }),
    z.strictObject({ at: ms('at'), type: z.literal('openFail'), count: posInt('count'), errno: errnoName }),
    z.strictObject({ at: ms('at'), type: z.literal('ioError'), errno: errnoName }),
  ],
  { error: 'must have a type: xrun, stall, delay, suspend, disconnect, openFail or ioError' },
);

const path = z.string().min(1, 'must not be empty').regex(/^\//, 'must be an absolute path');

/**
 * Where audio goes or comes from. Capture: `discard` (default), `{ file }`
 * (appended), `{ fifo }` (opened for writing; blocks nothing, drops when no
 * reader), `{ socket }` (unix stream socket we connect to). Playback:
 * `silence` (default), `{ file }` (read, looped), `{ fifo }`.
 */
const audio = z.union(
  [
    z.enum(['discard', 'silence']),
    z.strictObject({ file: path, loop: z.boolean().optional() }),
    z.strictObject({ fifo: path }),
    z.strictObject({ socket: path }),
  ],
  { error: "must be 'discard', 'silence', { file: PATH }, { fifo: PATH } or { socket: PATH }" },
);

export const deviceSchema = z.strictObject({
  /** Our name for the device: metrics label, /health/NAME, logs. */
  name: z
    .string({ error: 'must be a string' })
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 letters, digits, _ . - (it is used in URLs and labels)'),
  /** Any ALSA PCM name; `mock:<name>` selects the mock backend. */
  pcm: z.string({ error: 'must be a string (an ALSA PCM name such as hw:0,0)' }).min(1, 'must not be empty'),
  direction: z.enum(['capture', 'playback'], { error: "must be 'capture' or 'playback'" }),
  rate: posInt('frames per second').max(768_000, 'must be at most 768000').default(48_000),
  channels: posInt('channels').max(64, 'must be at most 64').default(2),
  format: z.enum(FORMATS, { error: `must be one of ${FORMATS.join(', ')}` }).default('S16_LE'),
  /** Default: rate / 50 (20 ms). */
  periodFrames: posInt('frames per period').optional(),
  bufferPeriods: posInt('periods').min(2, 'must be at least 2').max(64, 'must be at most 64').default(4),
  sampleIntervalMs: posMs('sampleIntervalMs').min(10, 'must be at least 10').default(100),
  rtPriority: z.number().int().min(1).max(99).optional(),
  audio: audio.optional(),
  mock: z.strictObject({ faults: z.array(fault).default([]) }).optional(),
  /**
   * `stream` (default): the daemon opens the PCM and streams it. `observe`: another
   * process owns it; it is watched through /proc/asound and healed by `recovery.exec` only.
   */
  mode: z.enum(['stream', 'observe'], { error: "must be 'stream' or 'observe'" }).default('stream'),
  /** observe: how often /proc/asound is read (default 10). */
  pollIntervalMs: posMs('pollIntervalMs').max(1000, 'must be at most 1000').optional(),
  /** observe: owner-stall warning when avail reaches this share of the buffer (default 0.75). */
  ownerStallShare: z.number({ error: 'must be a number' }).gt(0, 'must be greater than 0').max(1, 'must be at most 1').optional(),
  /** Run at each recovery attempt of this device, after a reopen (stream mode): argv, no shell. */
  recovery: z
    .strictObject({
      exec: z
        .array(z.string({ error: 'must be a string' }).min(1, 'must not be empty'), { error: 'must be a list: [program, arg, ...]' })
        .min(1, 'must name a program'),
      timeoutMs: posMs('timeoutMs').default(10_000),
    })
    .optional(),
});

/** Names and defaults of src/health/config.ts (DESIGN.md "Defaults"); all durations in milliseconds. */
export const monitorSchema = z.strictObject({
  checkIntervalMs: posMs('checkIntervalMs').default(healthDefaults.checkIntervalMs),
  recoveryThreshold: posInt('consecutive errors').default(healthDefaults.recoveryThreshold),
  latencyThresholdMs: posMs('latencyThresholdMs').default(healthDefaults.latencyThresholdMs),
  errorRateLimit: z.number({ error: 'must be a number (errors per minute)' }).positive('must be greater than 0').default(healthDefaults.errorRateLimit),
  supervisorTimeoutMs: posMs('supervisorTimeoutMs').default(healthDefaults.supervisorTimeoutMs),
  maxDroppedFrames: nonNegInt('latency spikes per window').default(healthDefaults.maxDroppedFrames),
  windowMs: posMs('windowMs').min(1000, 'must be at least 1000').default(healthDefaults.windowMs),
  windowBuckets: posInt('buckets per window').max(3600, 'must be at most 3600').default(healthDefaults.windowBuckets),
  hysteresisMs: ms('hysteresisMs').default(healthDefaults.hysteresisMs),
});

/** Names and defaults of src/recovery/config.ts. */
export const recoverySchema = z.strictObject({
  initialBackoffMs: posMs('initialBackoffMs').default(recoveryDefaults.initialBackoffMs),
  maxBackoffMs: posMs('maxBackoffMs').default(recoveryDefaults.maxBackoffMs),
  backoffFactor: z.number({ error: 'must be a number' }).min(1, 'must be at least 1').default(recoveryDefaults.backoffFactor),
  jitter: z.number({ error: 'must be a number' }).min(0, 'must be 0 or more').max(1, 'must be at most 1').default(recoveryDefaults.jitter),
  attemptTimeoutMs: posMs('attemptTimeoutMs').default(recoveryDefaults.attemptTimeoutMs),
  maxAttempts: posInt('attempts').default(recoveryDefaults.maxAttempts),
});

const listen = z
  .string({ error: "must be a string 'HOST:PORT' or 'off'" })
  .regex(/^(off|\[?[0-9A-Za-z.:-]+\]?:\d{1,5})$/, "must be 'HOST:PORT' (e.g. 127.0.0.1:9595) or 'off'");

export const configSchema = z
  .strictObject({
    logLevel: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info'),
    http: z.strictObject({ listen: listen.default('127.0.0.1:9595') }).default({ listen: '127.0.0.1:9595' }),
    monitor: monitorSchema.default(() => monitorSchema.parse({})),
    recovery: recoverySchema.default(() => recoverySchema.parse({})),
    devices: z
      .array(deviceSchema, { error: 'must be a list of devices' })
      .min(1, 'must list at least one device'),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, number>();
    cfg.devices.forEach((d, i) => {
      const first = seen.get(d.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['devices', i, 'name'],
          message: `duplicate device name (devices[${first}] has it already)`,
        });
      } else seen.set(d.name, i);
      const isMock = d.pcm.startsWith('mock:');
      if (d.mock && !isMock) {
        ctx.addIssue({ code: 'custom', path: ['devices', i, 'mock'], message: "is only allowed for 'mock:<name>' PCMs" });
      }
      if (d.mode === 'observe') {
        if (!/^(plug)?hw:./.test(d.pcm)) {
          ctx.addIssue({ code: 'custom', path: ['devices', i, 'pcm'], message: 'must be a hardware PCM (hw:CARD,DEV[,SUBDEV]) in observe mode: only those have /proc/asound status' });
        }
        for (const k of ['audio', 'mock', 'rtPriority', 'periodFrames'] as const) {
          if (d[k] !== undefined) ctx.addIssue({ code: 'custom', path: ['devices', i, k], message: 'is not used in observe mode (the owner streams the PCM)' });
        }
      } else {
        for (const k of ['pollIntervalMs', 'ownerStallShare'] as const) {
          if (d[k] !== undefined) ctx.addIssue({ code: 'custom', path: ['devices', i, k], message: 'is only used in observe mode' });
        }
      }
      if (d.recovery && d.recovery.timeoutMs > cfg.recovery.attemptTimeoutMs) {
        ctx.addIssue({
          code: 'custom',
          path: ['devices', i, 'recovery', 'timeoutMs'],
          message: `must be at most recovery.attemptTimeoutMs (${cfg.recovery.attemptTimeoutMs}), which bounds the whole attempt`,
        });
      }
      const a = d.audio;
      if (a !== undefined) {
        const bad =
          d.direction === 'capture'
            ? a === 'silence' || (typeof a === 'object' && 'file' in a && a.loop !== undefined)
            : a === 'discard' || (typeof a === 'object' && 'socket' in a);
        if (bad) {
          ctx.addIssue({
            code: 'custom',
            path: ['devices', i, 'audio'],
            message:
              d.direction === 'capture'
                ? "is not a capture sink: use 'discard', { file }, { fifo } or { socket }"
                : "is not a playback source: use 'silence', { file, loop? } or { fifo }",
          });
        }
      }
    });
    if (cfg.recovery.maxBackoffMs < cfg.recovery.initialBackoffMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['recovery', 'maxBackoffMs'],
        message: `must be at least initialBackoffMs (${cfg.recovery.initialBackoffMs})`,
      });
    }
  });

export type DaemonConfig = z.output<typeof configSchema>;
export type DeviceConfig = z.output<typeof deviceSchema>;
export type MonitorSettings = z.output<typeof monitorSchema>;
export type RecoverySettings = z.output<typeof recoverySchema>;
export type AudioSpec = NonNullable<DeviceConfig['audio']>;
