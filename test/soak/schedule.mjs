// The soak's plan, a pure function of (seed, devices, duration): which mock
// devices run, which streams each one has (a SIGHUP reload closes one stream
// and opens another), the fault script of every stream, the recovery
// callback's behaviour per device, and when the reloads happen.
//
// Faults never overlap: each one gets a "busy" span long enough for its whole
// effect (including the recovery controller's retries) before the next may
// land. A fault that lands while the mock is not running is ignored by the
// backend, so overlapping faults would silently not apply and the
// "detected exactly once" check would be judging faults that never happened.

import { rng } from '../../bench/lib/common.mjs';

// mulberry32, shared with the benchmarks: the same sequence on every platform.
export { rng } from '../../bench/lib/common.mjs';

const int = (r, lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
const pick = (r, list) => list[Math.floor(r() * list.length)];

function shuffle(r, list) {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export const RATE = 48_000;

/**
 * Period sizes from 2 ms to 20 ms, buffers of 100-120 ms. A "short" stall
 * delays the next period's wake-up by 40 ms, so the buffer then holds a
 * period plus 40 ms unread: with 64-80 ms buffers that left 20 ms for the
 * machine, and one 30-minute run on this 2-CPU box turned a short stall into
 * a real overrun. At 100+ ms there are 55+ ms to spare.
 */
export const PROFILES = Object.freeze([
  { periodFrames: 96, bufferPeriods: 50 },
  { periodFrames: 240, bufferPeriods: 24 },
  { periodFrames: 480, bufferPeriods: 12 },
  { periodFrames: 960, bufferPeriods: 6 },
]);

export const bufferMsOf = (p) => (p.periodFrames * p.bufferPeriods * 1000) / RATE;
export const periodMsOf = (p) => (p.periodFrames * 1000) / RATE;

/**
 * Monitor and recovery settings of the soak's daemon config: short windows
 * and a small backoff cap, so that "healthy again" can be judged inside a
 * 60 s run.
 */
export const SOAK_MONITOR = Object.freeze({
  checkIntervalMs: 250,
  recoveryThreshold: 3,
  latencyThresholdMs: 100,
  errorRateLimit: 6,
  supervisorTimeoutMs: 3000,
  maxDroppedFrames: 10,
  windowMs: 2000,
  windowBuckets: 20,
  hysteresisMs: 500,
});
export const SOAK_RECOVERY = Object.freeze({
  initialBackoffMs: 100,
  maxBackoffMs: 1000,
  backoffFactor: 2,
  jitter: 0.2,
  attemptTimeoutMs: 800,
  // A 4 s disconnect costs ~8 failed attempts at this backoff; giving up is not what is soaked.
  maxAttempts: 30,
});

/** A hanging callback outlives its attempt's timeout by half again. */
export const HANG_MS = Math.round(SOAK_RECOVERY.attemptTimeoutMs * 1.5);

/**
 * How long after its last trouble a device may take to be healthy again:
 * one attempt that runs into its timeout (a hanging callback), then the
 * longest backoff before the next attempt, then the status window must
 * empty of the trouble and the better status must hold for the hysteresis,
 * plus 1 s for sample windows and scheduling on a loaded machine.
 */
export const RECOVERY_BOUND_MS =
  SOAK_RECOVERY.attemptTimeoutMs + SOAK_RECOVERY.maxBackoffMs + SOAK_MONITOR.windowMs + SOAK_MONITOR.hysteresisMs + 1000;

/** Faults stop this long before the end: the bound, plus room to see every device settle. */
export const QUIET_MS = RECOVERY_BOUND_MS + 3000;

export const CALLBACK_MODES = Object.freeze(['ok', 'throw', 'reject', 'hang']);

/** Fault kinds, with their relative weight in the mix. */
export const FAULT_KINDS = Object.freeze({
  xrun: 3,
  storm: 1,
  disconnectShort: 1,
  disconnectLong: 0.5,
  openFailEBUSY: 0.75,
  openFailENOENT: 0.75,
  suspend: 1,
  stallShort: 1,
  stallLong: 1,
});

const SHORT_STALL_MS = 40;
/** Worst case of one failed reopen: its attempt may hang to the timeout, then the longest wait. */
const FAILED_ATTEMPT_MS = SOAK_RECOVERY.attemptTimeoutMs + SOAK_RECOVERY.maxBackoffMs;

/**
 * One fault of `kind` at `at` (ms from stream start) for a device of
 * `profile`: the script entries, what the checks should see, and how long
 * the device is busy with it.
 */
export function makeFault(r, kind, at, profile) {
  const bufMs = bufferMsOf(profile);
  const perMs = periodMsOf(profile);
  switch (kind) {
    case 'xrun':
      return { kind, at, script: [{ at, type: 'xrun' }], busyMs: 300 };
    case 'storm': {
      const count = int(r, 3, 8);
      // Each xrun must find the stream running again: detection takes up to a period plus a wake-up.
      const everyMs = Math.max(60, Math.ceil(3 * perMs) + 30);
      return { kind, at, count, everyMs, script: [{ at, type: 'xrun', count, everyMs }], busyMs: count * everyMs + 300 };
    }
    case 'disconnectShort': {
      const durationMs = int(r, 100, 450);
      return { kind, at, durationMs, script: [{ at, type: 'disconnect', durationMs }], busyMs: durationMs + 1500 };
    }
    case 'disconnectLong': {
      const durationMs = int(r, 2000, 4000);
      return { kind, at, durationMs, script: [{ at, type: 'disconnect', durationMs }], busyMs: durationMs + 2000 };
    }
    case 'openFailEBUSY':
    case 'openFailENOENT': {
      // An open failure only bites on a reopen: the disconnect makes one happen.
      const errno = kind === 'openFailEBUSY' ? 'EBUSY' : 'ENOENT';
      const durationMs = int(r, 150, 450);
      const count = int(r, 1, 2);
      return {
        kind,
        at,
        durationMs,
        count,
        errno,
        script: [
          { at, type: 'disconnect', durationMs },
          { at, type: 'openFail', count, errno },
        ],
        busyMs: durationMs + (count + 1) * FAILED_ATTEMPT_MS + 1500,
      };
    }
    case 'suspend': {
      const durationMs = int(r, 100, 600);
      return { kind, at, durationMs, script: [{ at, type: 'suspend', durationMs }], busyMs: durationMs + 600 };
    }
    case 'stallShort':
      return { kind, at, durationMs: SHORT_STALL_MS, script: [{ at, type: 'stall', durationMs: SHORT_STALL_MS }], busyMs: 400 };
    case 'stallLong': {
      const durationMs = Math.ceil(2 * bufMs);
      return { kind, at, durationMs, script: [{ at, type: 'stall', durationMs }], busyMs: durationMs + 400 };
    }
    default:
      throw new RangeError(`unknown fault kind ${kind}`);
  }
}

function weightedKind(r) {
  const entries = Object.entries(FAULT_KINDS);
  const total = entries.reduce((a, [, w]) => a + w, 0);
  let x = r() * total;
  for (const [k, w] of entries) {
    x -= w;
    if (x < 0) return k;
  }
  return entries[entries.length - 1][0];
}

/**
 * Faults for one stream, in ms from its start, all over by `untilMs`
 * (busy spans included). `first` forces the first kind, so that a run with
 * enough devices covers every kind.
 */
export function faultsFor(r, profile, untilMs, first = null, blocked = []) {
  const faults = [];
  let t = 1000 + int(r, 0, 500); // the stream streams before anything hits it
  for (;;) {
    const kind = faults.length === 0 && first ? first : weightedKind(r);
    const f = makeFault(r, kind, t, profile);
    if (t + f.busyMs > untilMs) break;
    const block = blocked.find((b) => t < b.to && t + f.busyMs > b.from);
    if (block) {
      t = block.to;
      continue;
    }
    faults.push(f);
    t += f.busyMs + int(r, 300, 1200);
  }
  return faults;
}

/** The mock fault script of a stream: every fault's entries, sorted by time. */
export function scriptOf(faults) {
  return faults.flatMap((f) => f.script).sort((a, b) => a.at - b.at);
}

/**
 * A reload that changes monitor settings makes the daemon build a new
 * HealthMonitor: every device starts over (unknown, no disconnect known) and
 * recovery waits for the supervisor timeout. No fault may be in progress
 * then, or its recovery would be judged against a monitor that never saw it.
 */
const MONITOR_RELOAD_CALM_MS = { before: 300, after: SOAK_MONITOR.supervisorTimeoutMs + 1500 };

/**
 * The whole plan. `durationMs` is the run's length; faults end QUIET_MS
 * before it. Device names are soak-NN. Reloads cycle through three kinds:
 * change a device's sampleIntervalMs (the daemon closes and reopens it),
 * swap a device for a new one (same direction and period: the process keeps
 * its shape, so the RSS line has no step), and change the monitor's
 * checkIntervalMs (the daemon replaces its HealthMonitor).
 */
export function makePlan({ seed, devices, durationMs }) {
  if (!Number.isInteger(devices) || devices < 1) throw new RangeError('devices must be a positive integer');
  const r = rng(seed);
  const faultEndMs = durationMs - QUIET_MS;
  const kinds = Object.keys(FAULT_KINDS);
  const kindOffset = int(r, 0, kinds.length - 1);
  // Every callback behaviour appears once there are enough devices; the rest are random.
  const modes = shuffle(r, [...CALLBACK_MODES, ...Array.from({ length: Math.max(0, devices - CALLBACK_MODES.length) }, () => pick(r, CALLBACK_MODES))]).slice(0, devices);
  const directionStart = int(r, 0, 1);

  let nextName = 0;
  const name = () => `soak-${String(nextName++).padStart(2, '0')}`;
  const streams = [];
  const newStream = (dev, startMs, sampleIntervalMs, first) => {
    const s = { id: streams.length, device: dev.name, startMs, endMs: null, sampleIntervalMs, first, faults: [] };
    streams.push(s);
    dev.streams.push(s);
    return s;
  };
  const live = [];
  for (let i = 0; i < devices; i++) {
    const dev = {
      name: name(),
      direction: (i + directionStart) % 2 === 0 ? 'capture' : 'playback',
      profile: PROFILES[(i + int(r, 0, 3)) % PROFILES.length],
      callback: modes[i],
      streams: [],
      addedMs: 0,
      removedMs: null,
    };
    newStream(dev, 0, 100, kinds[(i + kindOffset) % kinds.length]);
    live.push(dev);
  }
  const all = [...live];

  // Reloads inside the fault phase, about one per 15 s, at least two.
  const reloads = [];
  const n = Math.max(2, Math.floor(faultEndMs / 15_000));
  const span = faultEndMs - 4000;
  for (let k = 0; k < n && span > 0; k++) {
    const atMs = Math.round(2000 + ((k + 0.25 + 0.5 * r()) * span) / n);
    const dev = live[int(r, 0, live.length - 1)];
    const old = dev.streams[dev.streams.length - 1];
    if (k % 3 === 2) {
      const prev = reloads.filter((x) => x.monitor).at(-1)?.monitor ?? SOAK_MONITOR;
      const checkIntervalMs = prev.checkIntervalMs === 250 ? 300 : 250;
      reloads.push({ atMs, action: 'monitor', device: null, detail: `monitor.checkIntervalMs ${prev.checkIntervalMs} -> ${checkIntervalMs}`, monitor: { ...prev, checkIntervalMs } });
    } else if (k % 3 === 0) {
      old.endMs = atMs;
      const interval = old.sampleIntervalMs === 100 ? pick(r, [50, 200]) : 100;
      newStream(dev, atMs, interval, null);
      reloads.push({ atMs, action: 'change', device: dev.name, detail: `sampleIntervalMs ${old.sampleIntervalMs} -> ${interval}` });
    } else {
      old.endMs = atMs;
      dev.removedMs = atMs;
      const repl = { name: name(), direction: dev.direction, profile: dev.profile, callback: dev.callback, streams: [], addedMs: atMs, removedMs: null };
      newStream(repl, atMs, 100, null);
      live[live.indexOf(dev)] = repl;
      all.push(repl);
      reloads.push({ atMs, action: 'swap', device: dev.name, detail: `removed ${dev.name}, added ${repl.name}` });
    }
  }

  const byName = new Map(all.map((d) => [d.name, d]));
  const calm = reloads.filter((x) => x.monitor).map((x) => ({ from: x.atMs - MONITOR_RELOAD_CALM_MS.before, to: x.atMs + MONITOR_RELOAD_CALM_MS.after }));
  for (const s of streams) {
    const dev = byName.get(s.device);
    // A stream a reload closes must be quiet well before: its last recovery may still be running.
    const until = Math.min(faultEndMs, s.endMs === null ? Infinity : s.endMs - 1000) - s.startMs;
    const blocked = calm.map((b) => ({ from: b.from - s.startMs, to: b.to - s.startMs }));
    s.faults = faultsFor(r, dev.profile, until, s.first, blocked);
    s.script = scriptOf(s.faults);
  }
  return { seed, devices, durationMs, faultEndMs, quietMs: QUIET_MS, devicesAll: all, streams, reloads };
}

/** The monitor settings in force at `tMs` (the last monitor reload before it). */
export function monitorAt(plan, tMs) {
  return plan.reloads.filter((x) => x.monitor && x.atMs <= tMs).at(-1)?.monitor ?? SOAK_MONITOR;
}

/** The daemon's device list at `tMs`, as config entries (what the soak writes before each SIGHUP). */
export function devicesAt(plan, tMs) {
  const out = [];
  for (const dev of plan.devicesAll) {
    const s = dev.streams.find((x) => x.startMs <= tMs && (x.endMs === null || tMs < x.endMs));
    if (!s) continue;
    out.push({
      name: dev.name,
      pcm: `mock:${dev.name}`,
      direction: dev.direction,
      periodFrames: dev.profile.periodFrames,
      bufferPeriods: dev.profile.bufferPeriods,
      sampleIntervalMs: s.sampleIntervalMs,
      mock: { faults: s.script },
    });
  }
  return out;
}
