// The printed table of bench/run.mjs, from the benchmarks' JSON results.
const f = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? '-' : Number(x).toFixed(d));
const e = (x) => (x === null || x === undefined || Number.isNaN(x) ? '-' : Number(x).toExponential(2));
const yes = (b) => (b ? 'yes' : 'NO');
const share = (x, k) => {
  const t = x.alsaHealth?.threads;
  const sum = t ? t.main + t.watcher + t.other : 0;
  return sum > 0 ? f((100 * t[k]) / sum, 0) : '-';
};

function grid(head, rows) {
  const all = [head, ...rows].map((r) => r.map(String));
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r) => '| ' + r.map((c, i) => c.padEnd(w[i])).join(' | ') + ' |';
  return [line(all[0]), '|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|', ...all.slice(1).map(line)].join('\n');
}

const sections = {
  detect: (r) => [
    '### 1. Detection latency: fault -> `event` in JS, ms (periods); 2a. in-place xrun recovery: detection -> next good period',
    'inj = from the scheduled injection (target judged on it); dev = from the moment the fake device applied the fault and was in XRUN. Both fake devices apply faults inside the watcher thread, so inj - dev is mostly that thread waking late.',
    grid(
      ['backend', 'period', 'xruns', 'inj p50', 'inj p99', 'inj max', 'dev p50', 'dev p99', 'dev p99 (periods)', 'dev max', 'p99 <= period+2ms', 'length err p99', 'disc.', 'disc. p50', 'disc. p99', 'recov. p50', 'recov. p99', 'p99 (periods)', '<= 2 periods', 'spont. xruns'],
      r.rows.map((x) => [
        x.backend,
        `${x.periodMs} ms`,
        `${x.faults.xrunsMatched}/${x.faults.xruns}`,
        f(x.xrunMs.p50),
        f(x.xrunMs.p99),
        f(x.xrunMs.max),
        f(x.xrunFromDeviceMs?.p50),
        f(x.xrunFromDeviceMs?.p99),
        f(x.xrunFromDevicePeriods?.p99),
        f(x.xrunFromDeviceMs?.max),
        yes(x.xrunTargetMet),
        f(x.xrunLength.absErrMs.p99),
        `${x.faults.disconnectsMatched}/${x.faults.disconnects}`,
        f(x.disconnectMs.p50),
        f(x.disconnectMs.p99),
        f(x.recoveryMs.p50),
        f(x.recoveryMs.p99),
        f(x.recoveryPeriods.p99),
        yes(x.recoveryTargetMet),
        x.faults.spontaneousXruns,
      ]),
    ),
    ...(r.problems?.length ? [`PROBLEMS (devices short of figures or with missed faults): ${JSON.stringify(r.problems)}`] : []),
  ],
  recovery: (r) => [
    `### 2b. Disconnect ends -> streaming again (\`reopened\` in JS), ${r.periodMs} ms periods`,
    grid(
      ['backend', 'how', 'disconnects', 'came back', 'p50 ms', 'p99 ms', 'max ms', 'backoff step ms', 'target <= 100 ms'],
      r.rows.map((x) => [
        x.backend,
        x.how === 'auto' ? 'autoReopen' : 'RecoveryController',
        x.seen,
        x.seen - x.notBack,
        f(x.lagMs.p50, 1),
        f(x.lagMs.p99, 1),
        f(x.lagMs.max, 1),
        x.backoffStepMs ?? '-',
        x.how === 'controller' ? 'n/a (backoff path)' : x.lagMs.n === 0 ? `NO: never came back in ${x.waitedMs} ms` : yes(x.targetMet),
      ]),
    ),
  ],
  cpu: (r) => [
    `### 3. CPU seconds per audio second (48 kHz S16_LE 2ch; clocked plugin ${r.measureS} s each, null ${r.nullMeasureS} s); idle bare node: ${e(r.idleNode.cpuPerS)} CPU-s/s, RSS ${r.idleNode.rssKb} KB; speaker: ${r.speaker.missing ? 'MISSING - ' + r.speaker.missing : r.speaker.version + ' (' + r.speaker.note + ')'}`,
    grid(
      ['device', 'period', 'dir', 'alsa-health', 'JS thread %', 'watcher %', 'peer', 'peer CPU/s', 'ratio', 'ratio net of idle node', 'speaker', 'alsa-health / speaker', 'target <= 1.3x and < speaker'],
      r.rows.map((x) => [
        x.device,
        `${x.periodMs} ms`,
        x.direction,
        e(x.alsaHealthCpuPerAudioS),
        share(x, 'main'),
        share(x, 'watcher'),
        x.peer,
        e(x.peerCpuPerAudioS),
        f(x.ratio),
        f(x.netRatio),
        x.speaker?.missing ? 'missing' : x.speakerCpuPerAudioS == null ? '-' : e(x.speakerCpuPerAudioS),
        x.ratioToSpeaker == null ? '-' : f(x.ratioToSpeaker),
        yes(x.targetMet),
      ]),
    ),
  ],
  wakeups: (r) => [
    `### 4. Calls into JS per device per second (sampleIntervalMs ${r.sampleIntervalMs})`,
    grid(
      ['device', 'dir', 'period', 'periods/s', 'calls/s', 'sample', 'event', 'audio', 'limit (1000/interval + events)', 'target'],
      r.rows.map((x) => [x.device, x.direction, `${x.periodMs} ms`, x.periodsPerS, f(x.perS.total, 1), f(x.perS.sample, 1), f(x.perS.event, 1), f(x.perS.audio, 1), f(x.limitPerS, 1), yes(x.targetMet)]),
    ),
  ],
  scale: (r) => [
    `### 5. Scale: mock capture devices at ${r.periodMs} ms in one process, ${r.measureS} s; bare idle node RSS ${r.bareNodeRssKb} KB`,
    grid(
      ['devices', 'rtPriority', 'CPU %', 'max lateness ms', 'missed periods', 'xruns', 'RSS KB', 'RSS / bare node', 'no missed period'],
      r.rows.map((x) => [x.n, x.rtPriority ? (x.rtWarning ? `${x.rtPriority} (refused)` : x.rtPriority) : '-', f(x.cpuPct, 1), f(x.latenessMsMax), x.missed, x.xruns, x.rssKb, f(x.rssVsBareNode), yes(x.targetMet)]),
    ),
    r.daemon?.error
      ? `Daemon (2 devices): FAILED — ${r.daemon.error}`
      : r.daemon
        ? `Daemon (dist/daemon/cli.js run, the board's two devices as mocks, 20 ms, /metrics on): RSS ${r.daemon.rssKb} KB = ${f(r.daemon.rssVsBareNode)} x bare node (target <= 1.25: ${yes(r.daemon.targetMet)}), CPU ${f(r.daemon.cpuPct, 2)} % of a core`
        : '',
  ],
  memory: (r) => [
    `### 6. Memory during an xrun storm: ${r.durationS} s, ${f(r.xrunsPerS, 0)} xruns/s, HealthMonitor windowMs ${r.monitorWindowMs}, a reading every ${r.everyS} s${r.gc ? ' after a full GC' : ''}; slope from ${r.slopeFromS} s on`,
    grid(
      ['RSS start KB', 'RSS end KB', 'RSS slope KB/min', 'heap start KB', 'heap end KB', 'heap slope KB/min', 'xruns'],
      [[r.rssKbStart, r.rssKbEnd, f(r.rssKbPerMin, 1), f(r.heapKbStart, 0), f(r.heapKbEnd, 0), f(r.heapKbPerMin, 1), r.xruns]],
    ),
  ],
};

const all = (rows, fn) => rows.length > 0 && rows.every(fn);

/** One line per DESIGN.md performance target: met / missed, with the worst figure. */
function targets(b) {
  const out = [];
  const line = (name, ok, why) => out.push(`- ${ok ? 'MET   ' : 'MISSED'} ${name}: ${why}`);
  if (b.detect?.rows) {
    const rows = b.detect.rows;
    const bad = rows.filter((x) => !x.xrunTargetMet);
    line('xrun delivered to JS, p99 <= period + 2 ms', bad.length === 0, bad.length ? bad.map((x) => `${x.backend} ${x.periodMs} ms: p99 ${f(x.xrunMs.p99)} ms (from the device's XRUN: ${f(x.xrunFromDeviceMs.p99)} ms)`).join('; ') : `worst p99 ${f(Math.max(...rows.map((x) => x.xrunMs.p99 - x.periodMs)))} ms over the period`);
    const badR = rows.filter((x) => !x.recoveryTargetMet);
    line('in-place xrun recovery, p99 <= 2 periods', badR.length === 0, badR.length ? badR.map((x) => `${x.backend} ${x.periodMs} ms: ${f(x.recoveryPeriods.p99)} periods`).join('; ') : `worst ${f(Math.max(...rows.map((x) => x.recoveryPeriods.p99)))} periods`);
  }
  if (b.recovery?.rows) {
    const auto = b.recovery.rows.filter((x) => x.how === 'auto');
    line('device back -> streaming <= 100 ms (engine autoReopen)', all(auto, (x) => x.targetMet), auto.map((x) => `${x.backend}: ${x.lagMs.n ? `p99 ${f(x.lagMs.p99, 1)} ms` : 'never came back'}`).join('; '));
  }
  if (b.cpu?.rows) {
    const rows = b.cpu.rows.filter((x) => x.device !== 'null');
    line('CPU <= 1.3 x arecord/aplay (plugin)', all(rows, (x) => x.ratio <= 1.3), rows.map((x) => `${x.periodMs} ms ${x.direction} ${f(x.ratio)}x`).join(', '));
    const sp = b.cpu.rows.filter((x) => x.speakerCpuPerAudioS != null);
    line('CPU below every Node audio package (speaker)', sp.length > 0 && all(sp, (x) => x.ratioToSpeaker < 1), sp.length ? sp.map((x) => `${x.device} ${x.periodMs} ms ${f(x.ratioToSpeaker)}x`).join(', ') : 'speaker missing');
  }
  if (b.wakeups?.rows) line('JS wake-ups <= 1000/sampleIntervalMs + events', all(b.wakeups.rows, (x) => x.targetMet), `max ${f(Math.max(...b.wakeups.rows.map((x) => x.perS.total)), 1)}/s at 1000 periods/s`);
  if (b.scale?.rows) {
    const r64 = b.scale.rows.filter((x) => x.n === 64);
    line('64 devices, no missed period', all(r64, (x) => x.targetMet), r64.map((x) => `${x.rtPriority ? 'SCHED_FIFO' : 'normal'}: ${x.missed} missed, ${x.xruns} xruns`).join('; ') + '; all counts: ' + b.scale.rows.map((x) => `${x.n}${x.rtPriority ? 'rt' : ''}=${x.missed}`).join(' '));
    const r1 = b.scale.rows.find((x) => x.n === 1 && !x.rtPriority);
    const d = b.scale.daemon;
    if (d && !d.error) line('daemon with the board\'s two devices: RSS <= 1.25 x bare idle node', d.targetMet, `${f(d.rssVsBareNode)}x (${d.rssKb} vs ${b.scale.bareNodeRssKb} KB); the engine alone with 1 device: ${f(r1?.rssVsBareNode)}x`);
  }
  if (b.memory && !b.memory.error) line('heap flat during an xrun storm', Math.abs(b.memory.heapKbPerMin) < 50, `${f(b.memory.heapKbPerMin, 1)} KB/min over ${b.memory.durationS - b.memory.slopeFromS} s (see README for the 5-minute soak)`);
  return out;
}

export function renderTable(results) {
  const out = [`alsa-health bench — ${results.date} — ${results.cpu} (${results.cores} cores, load ${results.loadBefore.join(' ')}) — node ${results.node} — \`${results.command}\`${results.quick ? ' (QUICK: figures meaningless)' : ''}`, ''];
  out.push('### Targets (DESIGN.md "Performance targets")', ...targets(results.benchmarks), '');
  for (const [name, r] of Object.entries(results.benchmarks)) {
    if (r.error) out.push(`### ${name}: FAILED — ${r.error}`, '');
    else out.push(...sections[name](r), '');
  }
  return out.join('\n');
}
