// HTTP routes against a fake health view, on 127.0.0.1 with an ephemeral port.

import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeServer, createHttpServer, listen, parseListen } from '../../src/daemon/http.js';
import { registerMetrics } from '../../src/daemon/metrics/index.js';
import { emptyTotals, type DeviceView, type HealthView } from '../../src/daemon/view.js';
import type { HealthSample } from '../../src/types.js';
import { sample as cleanSample } from '../health/helpers.js';

function device(name: string, extra: Partial<DeviceView> = {}): DeviceView {
  return {
    name,
    pcm: `mock:${name}`,
    direction: 'capture',
    status: 'healthy',
    score: 1,
    reasons: [],
    up: true,
    gaveUp: false,
    totals: emptyTotals(),
    ...extra,
  };
}

class FakeView implements HealthView {
  list: DeviceView[] = [];
  devices(): DeviceView[] {
    return this.list;
  }
}

const sample = (extra: Partial<HealthSample>): HealthSample => cleanSample('mock:a', 'capture', extra);

describe('daemon HTTP', () => {
  let server: Server;
  let base: string;
  let view: FakeView;
  let metrics: ReturnType<typeof registerMetrics>;

  beforeEach(async () => {
    view = new FakeView();
    const registry = new Registry();
    metrics = registerMetrics(registry, view, { processMetrics: true });
    server = createHttpServer({ registry, view });
    const addr = await listen(server, '127.0.0.1', 0);
    base = `http://127.0.0.1:${addr.port}`;
  });
  afterEach(async () => {
    await closeServer(server);
  });

  it('/health is 200 while every device is healthy or degraded', async () => {
    view.list = [device('a'), device('b', { status: 'degraded', score: 0.8, reasons: ['1 xrun in the window'] })];
    const r = await fetch(`${base}/health`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await r.json()) as { ok: boolean; devices: DeviceView[] };
    expect(body.ok).toBe(true);
    expect(body.devices.map((d) => d.name)).toEqual(['a', 'b']);
    expect(body.devices[1]!.reasons).toEqual(['1 xrun in the window']);
  });

  it.each(['failing', 'critical', 'unknown'] as const)('/health is 503 when one device is %s', async (status) => {
    view.list = [device('a'), device('b', { status })];
    const r = await fetch(`${base}/health`);
    expect(r.status).toBe(503);
    expect(((await r.json()) as { ok: boolean }).ok).toBe(false);
  });

  it('/health is 503 when a device gave up, even if its last status was degraded', async () => {
    view.list = [device('a', { status: 'degraded', gaveUp: true })];
    expect((await fetch(`${base}/health`)).status).toBe(503);
  });

  it('/health/DEVICE answers for that device only; unknown device is 404', async () => {
    view.list = [device('a'), device('b', { status: 'critical', reasons: ['disconnected'] })];
    const a = await fetch(`${base}/health/a`);
    expect(a.status).toBe(200);
    expect(((await a.json()) as DeviceView).name).toBe('a');
    const b = await fetch(`${base}/health/b`);
    expect(b.status).toBe(503);
    expect(((await b.json()) as DeviceView).reasons).toEqual(['disconnected']);
    expect((await fetch(`${base}/health/zzz`)).status).toBe(404);
  });

  it.each(['/', '/metric', '/healthz', '/health/a/b', '/favicon.ico'])('%s is 404', async (path) => {
    view.list = [device('a')];
    const r = await fetch(`${base}${path}`);
    expect(r.status).toBe(404);
    await r.text();
  });

  it('POST is 405', async () => {
    const r = await fetch(`${base}/health`, { method: 'POST' });
    expect(r.status).toBe(405);
    await r.text();
  });

  it('/metrics reads the view at scrape time', async () => {
    view.list = [device('a', { status: 'critical', score: 0.25, up: false, totals: { ...emptyTotals(), xruns: 5, disconnects: 1 } })];
    metrics.observeSample('a', sample({ latenessUsMax: 40_000 }));
    let text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('alsa_health_device_status{device="a",status="critical"} 1');
    expect(text).toContain('alsa_health_device_status{device="a",status="healthy"} 0');
    expect(text).toContain('alsa_health_device_score{device="a"} 0.25');
    expect(text).toContain('alsa_health_device_up{device="a"} 0');
    expect(text).toContain('alsa_health_device_info{device="a",pcm="mock:a",direction="capture"} 1');
    expect(text).toContain('# TYPE alsa_health_xruns_total counter');
    expect(text).toContain('alsa_health_xruns_total{device="a"} 5');
    expect(text).toContain('alsa_health_disconnects_total{device="a"} 1');
    expect(text).toContain('alsa_health_errors_total{device="a"} 0');
    expect(text).toContain('alsa_health_recovery_attempts_total{device="a"} 0');
    expect(text).toContain('# TYPE alsa_health_period_lateness_seconds histogram');
    expect(text).toContain('alsa_health_period_lateness_seconds_bucket{le="0.05",device="a"} 1');
    expect(text).toContain('alsa_health_period_lateness_seconds_bucket{le="0.02",device="a"} 0');
    expect(text).toContain('alsa_health_delay_seconds_count{device="a"} 1');
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).toContain('process_resident_memory_bytes');

    // The next scrape sees new figures, and a removed device disappears.
    view.list = [device('b', { totals: { ...emptyTotals(), xruns: 7 } })];
    metrics.removeDevice('a');
    text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('alsa_health_xruns_total{device="b"} 7');
    expect(text).not.toContain('device="a"');
  });

  it('a window with no periods is not observed as zero lateness', async () => {
    view.list = [device('a')];
    metrics.observeSample('a', sample({ periods: 0, frames: 0 }));
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).not.toContain('alsa_health_period_lateness_seconds_count{device="a"}');
  });

  it('a failing collector gives 500 and reports the error', async () => {
    const registry = new Registry();
    const errors: unknown[] = [];
    registerMetrics(
      registry,
      {
        devices() {
          throw new Error('monitor gone');
        },
      },
      { processMetrics: false },
    );
    const s = createHttpServer({ registry, view, onError: (e) => errors.push(e) });
    const { port } = await listen(s, '127.0.0.1', 0);
    const r = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(r.status).toBe(500);
    expect(((await r.json()) as { error: string }).error).toContain('monitor gone');
    expect(errors).toHaveLength(1);
    await closeServer(s);
  });
});

describe('parseListen', () => {
  it.each([
    ['127.0.0.1:9595', { host: '127.0.0.1', port: 9595 }],
    ['[::1]:80', { host: '::1', port: 80 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
  ])('%s', (s, want) => expect(parseListen(s)).toEqual(want));
  it('rejects a bare port', () => expect(() => parseListen('9595')).toThrow(RangeError));
});
