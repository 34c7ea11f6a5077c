#!/usr/bin/env node
// Fault soak (issue 8): the real Daemon, in this process, over D mock devices
// under a seeded mix of faults, recovery callbacks that throw / reject / hang,
// and SIGHUP reloads; then a table of checks. Exit 0 all passed, 1 a check
// failed, 2 bad arguments.
//
//   npm run build:ts && node test/soak/run.mjs --minutes 1 --devices 8 --seed 20261204
//
// In-process rather than a child `alsa-health run`: the checks need every
// PcmStream's samples and events, which only the openPcm injection sees.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { pbkdf2 } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import {
  checkCount,
  checkFaults,
  checkFrames,
  checkNone,
  checkRecovery,
  checkRss,
  formatTable,
  frameAccount,
  matchFaults,
  resultWord,
  slope,
  slopeStdErr,
  TROUBLE,
  verdict,
} from './checks.mjs';
import { devicesAt, HANG_MS, makePlan, monitorAt, periodMsOf, QUIET_MS, RECOVERY_BOUND_MS, SOAK_MONITOR, SOAK_RECOVERY } from './schedule.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const DIST = path.join(ROOT, 'dist');
export const CI_DEVICES = 8;
const UNDER_ASAN = /libasan/.test(process.env.LD_PRELOAD ?? '');
export const CI_SEED = 20261204;

const USAGE = `usage: node test/soak/run.mjs [--minutes N] [--devices D] [--seed S] [--json FILE]
  --minutes N   run length, fractional allowed, >= 0.25 (default 1)
  --devices D   mock devices, 1..64 (default ${CI_DEVICES}, the CI setting)
  --seed S      PRNG seed, a non-negative integer (default ${CI_SEED}, the CI seed)
  --json FILE   also write every figure as JSON`;

function badArgs(msg) {
  process.stderr.write(`soak: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function parse() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        minutes: { type: 'string' },
        devices: { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    badArgs(err.message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const num = (v, d) => (v === undefined ? d : v.trim() === '' ? NaN : Number(v));
  const minutes = num(values.minutes, 1);
  const devices = num(values.devices, CI_DEVICES);
  const seed = num(values.seed, CI_SEED);
  // Below 15 s there is no fault phase left after the quiet phase the recovery check needs.
  if (!Number.isFinite(minutes) || minutes < 0.25) badArgs(`--minutes must be a number >= 0.25 (got ${values.minutes})`);
  if (!Number.isInteger(devices) || devices < 1 || devices > 64) badArgs(`--devices must be a whole number 1..64 (got ${values.devices})`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) badArgs(`--seed must be a whole number 0..4294967295 (got ${values.seed})`);
  return { minutes, devices, seed, json: values.json ?? null };
}

const args = parse();

// The RSS figure means little without a full GC before each reading, nor
// with V8 free to grow its young generation: it doubles its semi-spaces when
// allocation survives (a 30-minute run showed one +20 MB step late in the
// run, flat after it), which a slope reads as a leak. Fixed at 4 MB here.
const V8_FLAGS = ['--expose-gc', '--min-semi-space-size=4', '--max-semi-space-size=4'];
if (typeof globalThis.gc !== 'function' || !V8_FLAGS.every((f) => process.execArgv.includes(f))) {
  const r = spawnSync(process.execPath, [...V8_FLAGS, ...process.execArgv.filter((f) => !V8_FLAGS.includes(f)), fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
}

// Recorded, never thrown: the run must get to its table to report them.
const unhandled = [];
const uncaught = [];
const warnings = [];
process.on('unhandledRejection', (err) => unhandled.push(err));
process.on('uncaughtException', (err) => uncaught.push(err));
process.on('warning', (w) => warnings.push(w));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowNs = () => process.hrtime.bigint();
const log = (...a) => process.stderr.write(`[soak ${((performance.now() - T_START) / 1000).toFixed(1).padStart(6)} s] ${a.join(' ')}\n`);
const T_START = performance.now();

const countDir = (dir) => readdirSync(dir).length;
const fds = () => countDir('/proc/self/fd');
const threads = () => countDir('/proc/self/task');
function fdMap() {
  const m = new Map();
  for (const f of readdirSync('/proc/self/fd')) {
    try {
      m.set(f, readlinkSync(`/proc/self/fd/${f}`));
    } catch {
      // the directory's own descriptor, gone by now
    }
  }
  return m;
}
function rssKb() {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

if (!existsSync(path.join(DIST, 'index.js')) || !existsSync(path.join(DIST, 'daemon', 'daemon.js'))) {
  process.stderr.write('soak: dist/ is missing: run `npm run build:ts` first\n');
  process.exit(1);
}
const lib = await import(path.join(DIST, 'index.js'));
const { Daemon } = await import(path.join(DIST, 'daemon', 'daemon.js'));
const { pino } = await import('pino');
const { stringify: toYaml } = await import('yaml');
const frameBalance = typeof lib.frameBalance === 'function' ? lib.frameBalance : null;

const durationMs = Math.round(args.minutes * 60_000);
const plan = makePlan({ seed: args.seed, devices: args.devices, durationMs });
const tmp = mkdtempSync(path.join(tmpdir(), 'alsa-health-soak-'));
const configPath = path.join(tmp, 'config.yaml');
const logPath = path.join(tmp, 'daemon.log');

function writeConfig(tMs) {
  const cfg = {
    logLevel: 'warn',
    http: { listen: 'off' },
    monitor: { ...monitorAt(plan, tMs) },
    recovery: { ...SOAK_RECOVERY },
    devices: devicesAt(plan, tMs),
  };
  writeFileSync(configPath, toYaml(cfg));
}

// ---- warm-up: everything the run will have loaded or started once, before the counts
async function warmUp() {
  for (const direction of ['capture', 'playback']) {
    const pcm = await lib.openPcm({ device: 'mock:warmup', direction, periodFrames: 480, sampleIntervalMs: 50 });
    if (direction === 'capture') pcm.audio.resume();
    await sleep(120);
    await pcm.close();
  }
  // All four libuv pool threads: the daemon's fs calls start them, and they never exit.
  await Promise.all(Array.from({ length: 8 }, () => new Promise((r) => pbkdf2('x', 'y', 20_000, 32, 'sha256', r))));
  globalThis.gc();
  await sleep(200);
}

const logger = pino({ level: 'warn' }, pino.destination({ dest: logPath, sync: true }));
await warmUp();
globalThis.gc();
const start = { fds: fds(), threads: threads(), rssKb: rssKb(), fdMap: fdMap() };
log(`seed ${args.seed}, ${args.devices} devices, ${args.minutes} min; faults until ${(plan.faultEndMs / 1000).toFixed(1)} s, then ${QUIET_MS / 1000} s quiet`);
log(`recovery bound ${RECOVERY_BOUND_MS} ms = attemptTimeout ${SOAK_RECOVERY.attemptTimeoutMs} + maxBackoff ${SOAK_RECOVERY.maxBackoffMs} + window ${SOAK_MONITOR.windowMs} + hysteresis ${SOAK_MONITOR.hysteresisMs} + 1000 slack`);
log(`config ${configPath}, daemon log ${logPath}; start: ${start.fds} fds, ${start.threads} threads, ${(start.rssKb / 1024).toFixed(1)} MB RSS`);

// ---- what is recorded: preallocated and touched before the RSS readings
/**
 * Rows of numbers in one Float64Array, allocated and written once up front:
 * a soak that kept event objects would grow by itself, and its own growth
 * would be read as the daemon's RSS slope. Past capacity, rows spill into a
 * plain array (reported).
 */
class Rows {
  constructor(cols, cap) {
    this.cols = cols;
    this.cap = cap;
    this.a = new Float64Array(cols * cap).fill(0);
    this.n = 0;
    this.spill = [];
  }
  push(...v) {
    if (this.n < this.cap) this.a.set(v, this.n++ * this.cols);
    else this.spill.push(v);
  }
  *[Symbol.iterator]() {
    for (let i = 0; i < this.n; i++) yield Array.from(this.a.subarray(i * this.cols, (i + 1) * this.cols));
    yield* this.spill;
  }
}
const ORIGIN_NS = nowNs();
const relMs = (ns) => Number(ns - ORIGIN_NS) / 1e6;
const absNs = (ms) => ORIGIN_NS + BigInt(Math.round(ms * 1e6));
/** Strings as small integers (event types, errnos, statuses). */
const codes = [];
const code = (str) => {
  if (str === undefined || str === null) return -1;
  let i = codes.indexOf(str);
  if (i < 0) i = codes.push(str) - 1;
  return i;
};
const items = plan.streams.reduce((a, st) => a + st.faults.reduce((b, f) => b + (f.count ?? 1), 0), 0);
const cap = Math.ceil(12 * items + 100 * args.devices * args.minutes + 5000);
const eventRows = new Rows(6, cap); // stream, type, detectMs, injectMs|NaN, errno, durationUs|NaN
const lateRows = new Rows(4, Math.ceil(2 * items + 1000)); // stream, startMs, endMs, latenessUs
const statusRows = new Rows(3, cap); // device, performance.now() ms, status

// ---- the streams, as the daemon opens them
/** name -> records of its streams, in open order (the k-th is the plan's k-th stream of that device). */
const records = new Map();
const recList = [];
const LATE_KEEP_US = 15_000;

async function recordingOpenPcm(options) {
  const rec = {
    idx: recList.length,
    name: options.device.slice('mock:'.length),
    t0MinMs: relMs(nowNs()),
    t0MaxMs: null,
    own: frameAccount(0),
    libSum: frameBalance ? { accountedFrames: 0, unaccountedFrames: 0, deviceFrames: 0, broken: false } : null,
    prevPending: 0,
    samples: 0,
    lastState: null,
    closed: false,
  };
  recList.push(rec);
  // The real openPcm is `new PcmStream(o).open()`; listeners go on before open so nothing is missed.
  const pcm = new lib.PcmStream(options);
  pcm.on('sample', (s) => {
    rec.samples++;
    rec.lastState = s.state;
    rec.own.add(s);
    if (rec.libSum && s.deliveredFrames !== undefined) {
      // frameBalance telescopes: summed per sample (pending carried over), it is the whole stream's.
      const b = frameBalance([s], rec.prevPending);
      rec.libSum.accountedFrames += b.accountedFrames;
      if (b.unaccountedFrames === null || b.deviceFrames === null) rec.libSum.broken = true;
      else {
        rec.libSum.unaccountedFrames += b.unaccountedFrames;
        rec.libSum.deviceFrames += b.deviceFrames;
      }
      if (s.pendingFrames !== null && s.pendingFrames !== undefined) rec.prevPending = s.pendingFrames;
    }
    if (s.latenessUsMax >= LATE_KEEP_US) lateRows.push(rec.idx, relMs(s.tStartNs), relMs(s.tEndNs), s.latenessUsMax);
  });
  pcm.on('event', (e) => {
    eventRows.push(rec.idx, code(e.type), relMs(e.tDetectNs), e.tInjectNs === undefined ? NaN : relMs(e.tInjectNs), code(e.errno), e.durationUs ?? NaN);
  });
  pcm.once('close', () => (rec.closed = true));
  if (!records.has(rec.name)) records.set(rec.name, []);
  records.get(rec.name).push(rec);
  try {
    await pcm.open();
  } catch (err) {
    rec.openError = err.code ?? String(err);
    throw err;
  }
  // No reference to pcm is kept: a closed stream must be free to go (its handle holds descriptors until then).
  rec.t0MaxMs = relMs(nowNs());
  return pcm;
}

/** A stream's recorded events and late windows, in the shape checks.mjs takes. */
function eventsOf(rec) {
  const out = [];
  for (const [i, type, detect, inject, errno, dur] of eventRows) {
    if (i !== rec.idx) continue;
    const e = { type: codes[type], tDetectNs: absNs(detect) };
    if (!Number.isNaN(inject)) e.tInjectNs = absNs(inject);
    if (errno >= 0) e.errno = codes[errno];
    if (!Number.isNaN(dur)) e.durationUs = dur;
    out.push(e);
  }
  return out;
}
function lateOf(rec) {
  const out = [];
  for (const [i, from, to, us] of lateRows) if (i === rec.idx) out.push({ tStartNs: absNs(from), tEndNs: absNs(to), latenessUsMax: us });
  return out;
}

// ---- the daemon
writeConfig(0);
const daemon = new Daemon({
  configPath,
  logger,
  deps: { openPcm: recordingOpenPcm, sdNotify: () => false, hasSoundCard: () => false, env: {} },
});

const recoveryStats = new Map(); // device -> { attempts, failures, timedOut, successes }
const escalations = [];
const callbackCalls = new Map(); // device -> count
const modeOf = new Map(plan.devicesAll.map((d) => [d.name, d.callback]));

function chaos(device, ctx) {
  callbackCalls.set(device, (callbackCalls.get(device) ?? 0) + 1);
  switch (modeOf.get(device)) {
    case 'throw':
      throw new Error(`soak: ${device} callback throws (attempt ${ctx.attempt})`);
    case 'reject':
      return Promise.reject(new Error(`soak: ${device} callback rejects (attempt ${ctx.attempt})`));
    case 'hang':
      // Ignores its abort signal on purpose: the controller must not wait for it.
      return new Promise((r) => setTimeout(r, HANG_MS).unref());
    default:
      return undefined;
  }
}

let monitorSeen = null;
const monitorSwaps = [];
const callbacksLost = [];
function hookMonitor() {
  const m = daemon.monitor;
  if (m === monitorSeen) return;
  // Evidence for the report: does a replaced monitor still have the callbacks registered on the old one?
  // The callback is registered once, on the daemon (registerRecoveryCallback
  // there survives a monitor swap); after a swap, check the new monitor has it.
  if (monitorSeen) {
    const kept = m.unregisterRecoveryCallback('soak-chaos');
    if (!kept) callbacksLost.push(`${((performance.now() - T_START) / 1000).toFixed(1)} s`);
    monitorSwaps.push(`${((performance.now() - T_START) / 1000).toFixed(1)} s (callback ${kept ? 'kept' : 'lost'})`);
    m.registerRecoveryCallback('soak-chaos', chaos); // put back what the probe took
  }
  monitorSeen = m;
  m.on('status', (c) => {
    statusRows.push(code(c.device), performance.now(), code(c.to));
  });
  m.on('recovery', (a) => {
    const st = recoveryStats.get(a.device) ?? { attempts: 0, failures: 0, timedOut: 0, successes: 0 };
    if (a.type === 'attempt') st.attempts++;
    else if (a.type === 'success') st.successes++;
    else {
      st.failures++;
      if (a.timedOut) st.timedOut++;
    }
    recoveryStats.set(a.device, st);
  });
  m.on('escalate', (e) => escalations.push(`${e.device} gave up after ${e.attempts}: ${e.lastError}`));
}

// The CLI's SIGHUP wiring (src/daemon/cli.ts runDaemon; not exported, so repeated here).
const reloadErrors = [];
const reloadsDone = [];
const expectedAfterReload = []; // device names each SIGHUP should leave, in order (reloads are serialized)
const reloadMismatch = [];
process.on('SIGHUP', () => {
  const want = expectedAfterReload.shift();
  daemon
    .reload()
    .then(() => {
      reloadsDone.push(performance.now());
      const have = [...daemon.slots.keys()].sort().join(',');
      if (want !== undefined && have !== want) reloadMismatch.push(`after reload ${reloadsDone.length}: devices ${have}, expected ${want}`);
      hookMonitor();
    })
    .catch((err) => reloadErrors.push(err));
});

daemon.registerRecoveryCallback('soak-chaos', chaos);
const tRunMs = performance.now();
await daemon.start();
hookMonitor();
log(`daemon ready: ${daemon.slots.size} devices`);

const timers = [];
for (const r of plan.reloads) {
  timers.push(
    setTimeout(() => {
      writeConfig(r.atMs);
      expectedAfterReload.push(devicesAt(plan, r.atMs).map((d) => d.name).sort().join(','));
      log(`SIGHUP: ${r.action} ${r.detail}`);
      process.kill(process.pid, 'SIGHUP');
    }, Math.max(0, tRunMs + r.atMs - performance.now())),
  );
}

// RSS after warm-up: a quarter of the run, 10 s to 3 min (the bench's 5-minute soak settles in ~3 min).
const warmupS = Math.min(180, Math.max(10, (durationMs / 1000) * 0.25));
const everyMs = Math.max(1000, Math.round(durationMs / 200));
const rssPoints = [];
const rssTimer = setInterval(() => {
  const tS = (performance.now() - tRunMs) / 1000;
  if (tS < warmupS) return;
  globalThis.gc();
  const mu = process.memoryUsage();
  rssPoints.push({ tS, rssKb: rssKb(), heapKb: mu.heapUsed / 1024, heapTotalKb: mu.heapTotal / 1024, externalKb: mu.external / 1024 });
}, everyMs);

const progress = setInterval(() => {
  const snap = daemon.monitor.snapshot().devices;
  log(Object.entries(snap).map(([n, d]) => `${n}:${d.status}`).join(' '));
}, Math.max(10_000, durationMs / 6));

await sleep(Math.max(0, tRunMs + durationMs - performance.now()));
clearInterval(progress);
clearInterval(rssTimer);
for (const t of timers) clearTimeout(t);

// ---- the end: final statuses, then stop and count
const endMs = performance.now();
const finalSnap = daemon.monitor.snapshot().devices;
const liveNames = [...daemon.slots.keys()];
await daemon.stop('soak over');
process.removeAllListeners('SIGHUP');
let end = { fds: NaN, threads: NaN };
for (let i = 0; i < 10; i++) {
  globalThis.gc();
  await sleep(150);
  end = { fds: fds(), threads: threads() };
  if (end.fds <= start.fds && end.threads <= start.threads) break;
}
// Which descriptors stayed open, as evidence when the count is off.
const fdsNow = fdMap();
const fdList = end.fds > start.fds ? [...fdsNow].filter(([fd, to]) => start.fdMap.get(fd) !== to).map(([fd, to]) => `${fd}->${to}`) : [];

// ---- judge
const streamsOut = [];
const matches = [];
for (const dev of plan.devicesAll) {
  const recs = records.get(dev.name) ?? [];
  const opened = recs.filter((r) => r.t0MaxMs !== null);
  dev.streams.forEach((s, k) => {
    const rec = opened[k];
    if (!rec) {
      matches.push({ name: `${dev.name}#${k}`, result: { faults: s.faults.map((f, index) => ({ index, kind: f.kind, at: f.at, expected: 1, seen: 0, ok: false, detail: 'stream never opened' })), stray: [], natural: 0 } });
      return;
    }
    const result = matchFaults({
      faults: s.faults,
      t0MinNs: absNs(rec.t0MinMs),
      t0MaxNs: absNs(rec.t0MaxMs),
      events: eventsOf(rec),
      lateWindows: lateOf(rec),
      periodMs: periodMsOf(dev.profile),
    });
    matches.push({ name: `${dev.name}#${k}`, device: dev.name, result });
    const own = rec.own.result();
    const libRes = rec.libSum && !rec.libSum.broken ? rec.libSum : null;
    streamsOut.push({ name: `${dev.name}#${k}`, device: dev.name, complete: rec.lastState === 'closed' && rec.closed, own, lib: libRes });
  });
  if (opened.length > dev.streams.length) {
    matches.push({ name: dev.name, result: { faults: [], stray: [{ type: 'open', atMs: 0, why: `${opened.length} streams opened, ${dev.streams.length} planned` }], natural: 0 } });
  }
}

// Recovery: each device alive at the end, from its last trouble event (or its stream's start).
// Engine times are CLOCK_MONOTONIC ms from ORIGIN_NS; status changes were stamped with performance.now().
const PAIR = { rel: relMs(nowNs()), perf: performance.now() };
const toPerf = (rel) => PAIR.perf - (PAIR.rel - rel);
const statusChanges = new Map();
for (const [dev, tMs, to] of statusRows) {
  const name = codes[dev];
  if (!statusChanges.has(name)) statusChanges.set(name, []);
  statusChanges.get(name).push({ tMs, to: codes[to] });
}
const recoveryInput = liveNames.map((name) => {
  const recs = (records.get(name) ?? []).filter((r) => r.t0MaxMs !== null);
  const rec = recs[recs.length - 1];
  const trouble = rec ? eventsOf(rec).filter((e) => TROUBLE.has(e.type)).map((e) => toPerf(relMs(e.tDetectNs))) : [];
  const startMs = rec ? toPerf(rec.t0MaxMs) : tRunMs;
  return {
    name,
    lastTroubleMs: trouble.length ? Math.max(...trouble) : startMs,
    statusChanges: statusChanges.get(name) ?? [],
    finalStatus: finalSnap[name]?.status ?? 'unknown',
    endMs,
  };
});

const naturalXruns = matches.reduce((a, m) => a + m.result.natural, 0);
const checks = [
  checkFaults(matches),
  checkFrames(streamsOut, frameBalance !== null),
  checkNone('no unhandled rejection', unhandled),
  checkNone('no uncaught exception', uncaught),
  checkNone('reloads applied without error', reloadErrors),
  checkNone('recovery callbacks kept across monitor swaps', callbacksLost),
  checkCount('fds', start.fds, end.fds, `still open: ${fdList.join(' ')}`),
  checkCount('threads', start.threads, end.threads),
  UNDER_ASAN
    ? { name: 'RSS slope after warm-up', ok: null, figure: 'not judged', bound: '< 100 KB/min', detail: "ASan's quarantine keeps freed memory resident: RSS is not the program's" }
    : checkRss(rssPoints),
  heapCheck(rssPoints),
  callbackInfo(),
  checkRecovery(recoveryInput, RECOVERY_BOUND_MS),
];
checks.push({
  name: 'every SIGHUP reloaded the new config',
  ok: reloadsDone.length === plan.reloads.length && reloadMismatch.length === 0,
  figure: `${reloadsDone.length}/${plan.reloads.length}`,
  bound: 'all, devices as written',
  detail: reloadMismatch.join('; '),
});

/** How often each callback behaviour ran: a behaviour that never ran was not soaked (info, seeds vary). */
function callbackInfo() {
  const by = {};
  for (const [d, n] of callbackCalls) by[modeOf.get(d)] = (by[modeOf.get(d)] ?? 0) + n;
  const planned = [...new Set(plan.devicesAll.map((d) => d.callback))];
  return { name: 'recovery callbacks ran (info)', ok: true, info: true, figure: planned.map((m) => `${m} ${by[m] ?? 0}`).join(', '), bound: '-' };
}

/** The JS heap after a full GC: reported next to RSS (not one of the issue's checks), as evidence for it. */
function heapCheck(points) {
  const xs = points.map((p) => p.tS / 60);
  const k = slope(xs, points.map((p) => p.heapKb));
  const se = slopeStdErr(xs, points.map((p) => p.heapKb));
  return { name: 'JS heap slope (info)', ok: true, info: true, figure: points.length >= 3 ? `${k.toFixed(0)} ± ${(2 * se).toFixed(0)} KB/min (${(points[0].heapKb / 1024).toFixed(1)} -> ${(points.at(-1).heapKb / 1024).toFixed(1)} MB)` : 'n/a', bound: '-' };
}

// ---- report
const deviceRows = plan.devicesAll.map((dev) => {
  const ms = matches.filter((m) => m.device === dev.name);
  const byKind = new Map();
  let detected = 0;
  let expected = 0;
  for (const m of ms) {
    for (const f of m.result.faults) {
      byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
      expected += f.expected;
      detected += f.seen;
    }
  }
  const kinds = [...byKind].map(([k, n]) => `${k}:${n}`).join(' ');
  const frames = streamsOut.filter((s) => s.device === dev.name).map((s) => (s.own === null ? 'n/a' : String(s.own.unaccountedFrames))).join('/');
  const rs = recoveryStats.get(dev.name);
  const live = liveNames.includes(dev.name);
  const rt = checks.find((c) => c.times)?.times?.find((t) => t.name === dev.name);
  return [
    dev.name,
    `${dev.direction === 'capture' ? 'cap' : 'play'} ${dev.profile.periodFrames}x${dev.profile.bufferPeriods}`,
    dev.callback,
    kinds || '-',
    `${detected}/${expected}`,
    frames || '-',
    rs ? `${rs.attempts}/${rs.failures}/${rs.timedOut}` : '0/0/0',
    live ? (finalSnap[dev.name]?.status ?? '?') : `removed @${(dev.removedMs / 1000).toFixed(1)}s`,
    rt ? (rt.healthyAfterMs === null ? 'never' : `${Math.round(rt.healthyAfterMs)} ms`) : '-',
  ];
});

const out = [];
out.push('');
out.push(`alsa-health fault soak: seed ${args.seed}, ${args.devices} devices, ${args.minutes} min (${((endMs - tRunMs) / 1000).toFixed(1)} s), ${plan.reloads.length} SIGHUP reloads, ${streamsOut.length} streams`);
out.push(`recovery bound ${RECOVERY_BOUND_MS} ms (attemptTimeout + maxBackoff + windowMs + hysteresisMs + 1 s); faults end ${(plan.faultEndMs / 1000).toFixed(1)} s; RSS from ${warmupS.toFixed(0)} s every ${everyMs / 1000} s`);
out.push('');
out.push(formatTable(['check', 'result', 'figure', 'bound'], checks.map((c) => [c.name, c.info ? 'info' : resultWord(c.ok), c.figure, c.bound])));
out.push('');
out.push(formatTable(['device', 'kind', 'callback', 'faults injected', 'detected', 'unaccounted', 'rec att/fail/tmo', 'final', 'healthy after'], deviceRows));
const notes = [];
for (const c of checks) if (c.ok !== true && c.detail) notes.push(`${c.name}: ${c.detail}`);
const spilled = eventRows.spill.length + lateRows.spill.length + statusRows.spill.length;
if (spilled) notes.push(`${spilled} recorded rows went past the preallocated capacity (${cap}): the RSS slope includes them`);
if (naturalXruns) {
  const where = matches.flatMap((m) => (m.result.unstamped ?? []).map((u) => `${m.name}@${u.atMs}ms${u.after ? ` (${u.sinceMs} ms after ${u.after})` : ''}`));
  notes.push(`xruns without tInjectNs (the machine, not the script): ${naturalXruns}: ${where.slice(0, 12).join(', ')}`);
}
if (escalations.length) notes.push(`recovery gave up: ${escalations.join('; ')}`);
if (monitorSwaps.length) notes.push(`the daemon replaced its HealthMonitor on reload at ${monitorSwaps.join(', ')}; the soak re-attached its listeners`);
if (warnings.length) notes.push(`process warnings: ${warnings.length} (${warnings.slice(0, 3).map((w) => w.message).join('; ')})`);
const cbTotal = [...callbackCalls.values()].reduce((a, b) => a + b, 0);
notes.push(`recovery callback calls: ${cbTotal} (${[...callbackCalls].map(([d, n]) => `${d}:${modeOf.get(d)}=${n}`).join(' ')})`);
if (notes.length) out.push('', ...notes.map((n) => `- ${n}`));
// An RSS slope inside the noise is "not judged" rather than passed; that is
// accepted for short runs (the CI minute) and under ASan, whose quarantine
// keeps freed memory resident. The 30-minute run in README must judge it.
const rssMayBeOpen = args.minutes < 10 || UNDER_ASAN;
const ok = verdict(checks, rssMayBeOpen ? ['RSS slope after warm-up'] : []);
out.push('', ok ? 'SOAK PASSED' : 'SOAK FAILED', '');
process.stdout.write(out.join('\n'));

if (args.json) {
  const big = (k, v) => (typeof v === 'bigint' ? v.toString() : v);
  writeFileSync(
    args.json,
    JSON.stringify({ args, plan: { ...plan, devicesAll: plan.devicesAll.map((d) => ({ ...d, streams: d.streams.map((s) => s.id) })) }, checks, matches, streams: streamsOut, start: { ...start, fdMap: Object.fromEntries(start.fdMap) }, end, fdList, rssPoints, statusChanges: Object.fromEntries(statusChanges), recoveryStats: Object.fromEntries(recoveryStats) }, big, 2),
  );
}
if (ok) rmSync(tmp, { recursive: true, force: true });
else process.stdout.write(`config and daemon log kept in ${tmp}\n`);
process.exit(ok ? 0 : 1);
