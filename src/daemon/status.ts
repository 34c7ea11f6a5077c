// `alsa-health status`: ask a running daemon's /health and print one row per device.

import type { HealthBody } from './http.js';
import { table } from './table.js';
import type { DeviceView } from './view.js';

export const DEFAULT_URL = 'http://127.0.0.1:9595';

export interface StatusResult {
  /** 0: every device healthy or degraded; 1: some device is not; 2: no answer. */
  exitCode: number;
  text: string;
}

export function formatStatus(body: HealthBody): string {
  const rows = body.devices.map((d: DeviceView) => [
    d.name,
    d.direction,
    d.pcm,
    d.gaveUp ? `${d.status} (gave up)` : d.status,
    d.score.toFixed(2),
    String(d.totals.xruns),
    String(d.totals.errors),
    String(d.totals.disconnects),
    `${d.totals.recoveries}/${d.totals.recoveryAttempts}`,
    d.reasons.join('; ') || '-',
  ]);
  return table(['DEVICE', 'DIR', 'PCM', 'STATUS', 'SCORE', 'XRUNS', 'ERRORS', 'DISCONN', 'RECOVERED', 'REASONS'], rows);
}

export async function fetchStatus(url: string, timeoutMs = 3000): Promise<StatusResult> {
  const target = new URL('/health', url);
  let res: Response;
  try {
    res = await fetch(target, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    return { exitCode: 2, text: `no daemon answers at ${target.href} (${cause})` };
  }
  if (res.status !== 200 && res.status !== 503) {
    return { exitCode: 2, text: `${target.href} answered ${res.status} ${res.statusText}` };
  }
  const body = (await res.json()) as HealthBody;
  return { exitCode: body.ok ? 0 : 1, text: formatStatus(body) };
}
