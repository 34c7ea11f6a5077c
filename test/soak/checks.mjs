// The soak's checks, as pure functions of what the run recorded: no I/O, no
// clock, so each one can be shown to fail on bad input (checks.test.ts).
// Every check returns { name, ok, figure, bound, detail? }; ok is true,
// false, or null for "could not be judged" (which is not a pass).

import { slope } from '../../bench/lib/common.mjs';

/** Event types a fault is expected to produce, matched by tInjectNs. */
const STAMPED = new Set(['xrun', 'suspend', 'disconnect']);
/** Events that mean the device is in trouble (for "healthy again after the last trouble"). */
export const TROUBLE = new Set(['xrun', 'suspend', 'disconnect', 'reopenFailed', 'error']);

/**
 * A fault is applied when the mock's fault timer fires: never before its
 * time, but up to this late on a loaded machine. Faults are at least 300 ms
 * apart (schedule.mjs), storm xruns at least 60 ms.
 */
export const INJECT_LATE_MS = 250;

/** A short stall shows as a window whose worst wake-up is at least this share of the stall late. */
export const LATE_SHARE = 0.5;

const ms = (ns) => Number(ns) / 1e6;

/**
 * What each planned fault should produce, one item per expected event:
 * a storm of N is N xrun items, an openFail is a disconnect item plus an
 * item counting the reopen failures it causes.
 */
export function expectationsOf(faults) {
  const items = [];
  faults.forEach((f, i) => {
    const base = { fault: i, kind: f.kind };
    switch (f.kind) {
      case 'xrun':
        items.push({ ...base, type: 'xrun', at: f.at });
        break;
      case 'storm':
        for (let k = 0; k < f.count; k++) items.push({ ...base, type: 'xrun', at: f.at + k * f.everyMs, every: f.everyMs });
        break;
      case 'stallLong':
        items.push({ ...base, type: 'xrun', at: f.at, orLate: f.durationMs });
        break;
      case 'stallShort':
        items.push({ ...base, type: 'late', at: f.at, durationMs: f.durationMs });
        break;
      case 'suspend':
        items.push({ ...base, type: 'suspend', at: f.at });
        break;
      case 'disconnectShort':
      case 'disconnectLong':
        items.push({ ...base, type: 'disconnect', at: f.at });
        break;
      case 'openFailEBUSY':
      case 'openFailENOENT':
        items.push({ ...base, type: 'disconnect', at: f.at });
        items.push({ ...base, type: 'reopenFailed', at: f.at, errno: f.errno, count: f.count });
        break;
      default:
        throw new RangeError(`unknown fault kind ${f.kind}`);
    }
  });
  return items;
}

/**
 * Match one stream's events and late windows to its planned faults.
 *
 * stream: { faults, t0MinNs, t0MaxNs, events: [{ type, tDetectNs, tInjectNs?, errno? }],
 *           lateWindows: [{ tStartNs, tEndNs, latenessUsMax }], periodMs }
 * t0MinNs..t0MaxNs brackets the mock's first open (fault times count from it).
 *
 * Returns { faults: [{ index, kind, at, expected, seen, ok, detail }], stray: [...], natural: n }.
 * "stray": an event carrying a tInjectNs that no fault explains (a doubled
 * or mislabelled detection); "natural": xruns without tInjectNs (the
 * machine, not the script).
 */
export function matchFaults(stream) {
  const { faults, t0MinNs, t0MaxNs, events, lateWindows = [], periodMs = 20 } = stream;
  const items = expectationsOf(faults);
  const slackMs = ms(t0MaxNs - t0MinNs);
  const hits = items.map(() => []);
  const stray = [];
  const unstamped = [];
  const stamped = events.filter((e) => e.tInjectNs !== undefined && e.tInjectNs !== null);
  for (const e of events) {
    if (e.type !== 'xrun' || (e.tInjectNs !== undefined && e.tInjectNs !== null)) continue;
    // Where it fell: the last fault before it says whether the script or the machine caused it.
    const rel = ms(e.tDetectNs - t0MinNs);
    const prev = faults.filter((f) => f.at <= rel).at(-1);
    unstamped.push({ atMs: Math.round(rel), durationUs: e.durationUs ?? null, after: prev ? `${prev.kind}@${prev.at}` : null, sinceMs: prev ? Math.round(rel - prev.at) : null });
  }
  const natural = unstamped.length;
  for (const e of stamped) {
    const rel = ms(e.tInjectNs - t0MinNs);
    if (!STAMPED.has(e.type)) {
      stray.push({ type: e.type, atMs: Math.round(rel), why: `a ${e.type} event carries tInjectNs` });
      continue;
    }
    // The fault that caused it is the latest one of its type due at that moment: faults apply late, never early.
    let best = -1;
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (it.type !== e.type || it.at > rel) continue;
      if (best < 0 || it.at > items[best].at) best = i;
    }
    const lateBy = best < 0 ? Infinity : rel - items[best].at - slackMs;
    const limit = best >= 0 && items[best].every ? Math.min(INJECT_LATE_MS, items[best].every) : INJECT_LATE_MS;
    if (best < 0 || lateBy > limit) {
      stray.push({ type: e.type, atMs: Math.round(rel), why: best < 0 ? 'no fault of this type before it' : `${Math.round(lateBy)} ms after the nearest fault` });
      continue;
    }
    hits[best].push(e);
  }

  // Reopen failures carry no stamp: count those of the fault's errno until the next fault.
  const relOf = (ns) => ms(ns - t0MinNs);
  items.forEach((it, i) => {
    if (it.type !== 'reopenFailed') return;
    const next = faults[it.fault + 1]?.at ?? Infinity;
    hits[i] = events.filter((e) => e.type === 'reopenFailed' && e.errno === it.errno && relOf(e.tDetectNs) >= it.at && relOf(e.tDetectNs) < next);
  });

  // The script injects no I/O error, so an error event is the engine failing on its own; and
  // a reopen that fails with anything but ENODEV (the card still gone) must be one the script asked for.
  const counted = new Set(items.flatMap((it, i) => (it.type === 'reopenFailed' ? hits[i] : [])));
  for (const e of events) {
    if (e.type === 'error') stray.push({ type: 'error', atMs: Math.round(relOf(e.tDetectNs)), why: `an error event (${e.errno ?? 'no errno'}) with no I/O error injected` });
    else if (e.type === 'reopenFailed' && e.errno !== 'ENODEV' && !counted.has(e)) {
      stray.push({ type: 'reopenFailed', atMs: Math.round(relOf(e.tDetectNs)), why: `a reopen failed with ${e.errno ?? 'no errno'}, which no openFail explains` });
    }
  }

  const lateFor = (at, durationMs) =>
    lateWindows.filter((w) => {
      const from = at;
      const to = at + slackMs + durationMs + INJECT_LATE_MS + 2 * periodMs;
      return w.latenessUsMax >= LATE_SHARE * durationMs * 1000 && relOf(w.tEndNs) >= from && relOf(w.tStartNs) <= to;
    });

  const out = faults.map((f, index) => ({ index, kind: f.kind, at: f.at, expected: 0, seen: 0, ok: true, detail: [] }));
  items.forEach((it, i) => {
    const r = out[it.fault];
    if (it.type === 'reopenFailed') {
      r.expected += it.count;
      r.seen += hits[i].length;
      if (hits[i].length !== it.count) {
        r.ok = false;
        r.detail.push(`${it.count} open failure(s) ${it.errno} injected, ${hits[i].length} reopenFailed ${it.errno} seen`);
      }
      return;
    }
    if (it.type === 'late') {
      const w = lateFor(it.at, it.durationMs);
      r.expected += 1;
      r.seen += w.length;
      if (w.length !== 1) {
        r.ok = false;
        r.detail.push(`${w.length} late windows (>= ${LATE_SHARE * it.durationMs} ms) for a ${it.durationMs} ms stall`);
      }
      return;
    }
    r.expected += 1;
    let n = hits[i].length;
    if (n === 0 && it.orLate !== undefined) {
      const w = lateFor(it.at, it.orLate);
      if (w.length === 1) n = 1; // a long stall may show as one late window instead of an xrun
    }
    r.seen += n;
    if (n !== 1) {
      r.ok = false;
      r.detail.push(`${it.type} at ${it.at} ms: ${n === 0 ? 'not detected' : `detected ${n} times`}`);
    }
  });
  for (const r of out) r.detail = r.detail.join('; ');
  return { faults: out, stray, natural, unstamped };
}

/**
 * The frame balance of one stream from its samples, independently of the
 * library's frameBalance (same formula as the spec, written again here so
 * that each checks the other). Incremental: feed samples one by one, so the
 * soak keeps no sample arrays (they would be the RSS slope).
 * Returns null from result() when the samples lack the accounting fields.
 */
export function frameAccount(pendingBefore = 0) {
  let missing = false;
  let n = 0;
  let device = 0;
  let deviceNull = false;
  let direction = null;
  let sums = { delivered: 0, discarded: 0, padding: 0, consumerDropped: 0, starved: 0, lost: 0 };
  let pendingEnd = pendingBefore;
  return {
    add(s) {
      n++;
      direction ??= s.direction;
      if (s.deliveredFrames === undefined || s.discardedFrames === undefined || s.pendingFrames === undefined || s.deviceFrames === undefined) {
        missing = true;
        return;
      }
      if (s.deviceFrames === null) deviceNull = true;
      else device += s.deviceFrames;
      sums.delivered += s.deliveredFrames ?? 0;
      sums.discarded += s.discardedFrames ?? 0;
      sums.padding += s.paddingFrames ?? 0;
      sums.consumerDropped += s.consumerDropped ?? 0;
      sums.starved += s.starved ?? 0;
      sums.lost += s.lostFrames ?? 0;
      if (s.pendingFrames !== null) pendingEnd = s.pendingFrames;
    },
    result() {
      if (missing || n === 0) return null;
      const dp = pendingEnd - pendingBefore;
      const accounted =
        direction === 'capture'
          ? sums.delivered + sums.consumerDropped + sums.lost + sums.discarded + dp
          : sums.delivered + sums.starved + sums.padding + sums.lost - sums.discarded - dp;
      const deviceFrames = deviceNull ? null : device;
      return { direction, samples: n, deviceFrames, accountedFrames: accounted, unaccountedFrames: deviceFrames === null ? null : deviceFrames - accounted, sums };
    },
  };
}

/**
 * Frame accounting over every stream. Each entry: { name, complete (its
 * final sample, after close, arrived), own: frameAccount().result(),
 * lib: the summed per-sample frameBalance of the library or null }.
 */
export function checkFrames(streams, libAvailable) {
  const name = 'frame accounting balances';
  const bound = 'unaccounted = 0 per stream';
  if (!libAvailable || streams.some((s) => s.own === null)) {
    return { name, ok: null, figure: 'n/a (fields missing)', bound, detail: 'HealthSample has no deliveredFrames/... or dist/index.js no frameBalance: build:ts after the accounting commit' };
  }
  const bad = [];
  for (const s of streams) {
    if (!s.complete) bad.push(`${s.name}: no final sample after close`);
    else if (s.own.unaccountedFrames === null) bad.push(`${s.name}: deviceFrames null`);
    else if (s.own.deviceFrames === 0 && s.own.samples > 1) bad.push(`${s.name}: the device clocked no frames in ${s.own.samples} samples`);
    else if (s.own.unaccountedFrames !== 0) bad.push(`${s.name}: ${s.own.unaccountedFrames} unaccounted of ${s.own.deviceFrames}`);
    if (s.lib && s.own && (s.lib.unaccountedFrames !== s.own.unaccountedFrames || s.lib.accountedFrames !== s.own.accountedFrames)) {
      bad.push(`${s.name}: frameBalance says ${s.lib.unaccountedFrames} unaccounted, the soak's own sum ${s.own.unaccountedFrames}`);
    }
  }
  const total = streams.reduce((a, s) => a + Math.abs(s.own?.unaccountedFrames ?? 0), 0);
  const clocked = streams.reduce((a, s) => a + (s.own?.deviceFrames ?? 0), 0);
  return { name, ok: bad.length === 0, figure: `${total} off of ${clocked} frames, ${streams.length} streams`, bound, detail: bad.join('; ') };
}

/** The fault check over every stream's matchFaults() result. */
export function checkFaults(matches) {
  const name = 'every fault detected exactly once';
  let expected = 0;
  let seen = 0;
  let faults = 0;
  const bad = [];
  for (const m of matches) {
    for (const f of m.result.faults) {
      faults++;
      expected += f.expected;
      seen += f.seen;
      if (!f.ok) bad.push(`${m.name} ${f.kind}@${f.at}ms: ${f.detail}`);
    }
    for (const s of m.result.stray) bad.push(`${m.name}: stray ${s.type} at ${s.atMs} ms (${s.why})`);
  }
  const ok = faults > 0 && bad.length === 0;
  return {
    name,
    ok,
    figure: `${faults} faults, ${seen}/${expected} detections`,
    bound: 'each fault once, no stray',
    detail: faults === 0 ? 'no fault was injected: nothing was soaked' : bad.join('; '),
  };
}

// Least-squares slope of y over x, shared with the benchmarks.
export { slope } from '../../bench/lib/common.mjs';

/** Standard error of the least-squares slope (NaN with fewer than 3 points). */
export function slopeStdErr(xs, ys) {
  const n = xs.length;
  const k = slope(xs, ys);
  if (n < 3 || !Number.isFinite(k)) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sse = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sse += (ys[i] - (my + k * (xs[i] - mx))) ** 2;
    sxx += (xs[i] - mx) ** 2;
  }
  return Math.sqrt(sse / (n - 2) / sxx);
}

/**
 * points: [{ tS, rssKb }] after warm-up; slope by least squares in KB/min.
 * RSS moves in steps of megabytes (allocator arenas, V8's new space, thread
 * stacks), so over a one-minute run the slope is mostly that noise: the
 * check fails when the slope is above the bound by more than two standard
 * errors, i.e. when the readings show growth, not when noise tilts a short
 * line. Over 30 minutes the error is small and this is the plain bound.
 * Fewer than 5 readings cannot be judged.
 */
export function checkRss(points, limitKbPerMin = 100) {
  const name = 'RSS slope after warm-up';
  const bound = `< ${limitKbPerMin} KB/min`;
  if (points.length < 5) return { name, ok: null, figure: `${points.length} readings`, bound, detail: 'too few readings after warm-up (run longer)' };
  const xs = points.map((p) => p.tS / 60);
  const ys = points.map((p) => p.rssKb);
  const k = slope(xs, ys);
  const se = slopeStdErr(xs, ys);
  const first = points[0];
  const last = points[points.length - 1];
  // Below the bound: pass. Above it by more than two standard errors: a leak.
  // Above it but within the noise (RSS moves in MB steps over a minute):
  // not judged, and said so; a long run shrinks the noise and decides.
  const ok = !Number.isFinite(k) || !Number.isFinite(se) ? false : k < limitKbPerMin ? true : k - 2 * se >= limitKbPerMin ? false : null;
  return {
    name,
    ok,
    figure: `${k.toFixed(0)} ± ${(2 * se).toFixed(0)} KB/min (${(first.rssKb / 1024).toFixed(1)} -> ${(last.rssKb / 1024).toFixed(1)} MB, ${points.length} readings)`,
    bound,
    detail: ok === null ? `inconclusive: above the bound but within two standard errors (±${(2 * se).toFixed(0)} KB/min); run longer` : '',
    slope: k,
    stdErr: se,
  };
}

/** fds or threads: back to the start count (fewer is no leak). */
export function checkCount(what, before, after, detail = '') {
  const ok = Number.isInteger(before) && Number.isInteger(after) ? after <= before : false;
  return { name: `${what} back to the start count`, ok, figure: `${before} -> ${after}`, bound: `<= ${before}`, detail: ok ? '' : detail };
}

/** Unhandled rejections, uncaught exceptions, listener errors: any is a failure. */
export function checkNone(name, list) {
  return {
    name,
    ok: list.length === 0,
    figure: String(list.length),
    bound: '0',
    detail: list.slice(0, 5).map((x) => (x instanceof Error ? x.stack?.split('\n').slice(0, 3).join(' | ') : String(x))).join('; '),
  };
}

/**
 * After the faults stop, every device healthy again within the bound.
 * devices: [{ name, lastTroubleMs, statusChanges: [{ tMs, to }], finalStatus, endMs }]
 * (ms on one clock). A device is judged from its last trouble (or its start)
 * to the first "healthy" that follows; it must also be healthy at the end.
 */
export function recoveryTimes(devices) {
  return devices.map((d) => {
    const from = d.lastTroubleMs;
    let healthyAt = null;
    let last = null;
    for (const c of d.statusChanges) {
      if (c.tMs <= from) last = c.to;
      else if (c.to === 'healthy' && healthyAt === null) healthyAt = c.tMs;
    }
    // Never left healthy since before the last trouble: back at once.
    if (healthyAt === null && last === 'healthy' && !d.statusChanges.some((c) => c.tMs > from)) healthyAt = from;
    return { name: d.name, fromMs: from, healthyAfterMs: healthyAt === null ? null : healthyAt - from, finalStatus: d.finalStatus };
  });
}

export function checkRecovery(devices, boundMs) {
  const name = 'healthy again after the faults';
  const bound = `<= ${boundMs} ms each`;
  const times = recoveryTimes(devices);
  if (times.length === 0) return { name, ok: false, figure: 'no devices', bound, detail: 'no device to judge' };
  const bad = [];
  for (const t of times) {
    if (t.finalStatus !== 'healthy') bad.push(`${t.name}: ${t.finalStatus} at the end`);
    else if (t.healthyAfterMs === null) bad.push(`${t.name}: never healthy after its last trouble`);
    else if (t.healthyAfterMs > boundMs) bad.push(`${t.name}: healthy ${Math.round(t.healthyAfterMs)} ms after its last trouble`);
  }
  const worst = Math.max(...times.map((t) => t.healthyAfterMs ?? Infinity));
  return { name, ok: bad.length === 0, figure: `worst ${Number.isFinite(worst) ? `${Math.round(worst)} ms` : 'never'}`, bound, detail: bad.join('; '), times };
}

/** A plain text table: headers, then rows of strings; columns padded to their widest cell. */
export function formatTable(headers, rows) {
  const cells = [headers, ...rows].map((r) => r.map((c) => String(c ?? '')));
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export const resultWord = (ok) => (ok === true ? 'PASS' : ok === false ? 'FAIL' : 'N/A');

/** The run passes only when every check passed; "n/a" is not a pass, except where the caller says so. */
export function verdict(checks, allowNa = []) {
  return checks.every((c) => c.ok === true || (c.ok === null && allowNa.includes(c.name)));
}
