// The package's entry point exports what README documents.
import { describe, expect, it } from 'vitest';

import * as api from '../../src/index.js';

describe('public API', () => {
  it.each(['openPcm', 'listPcms', 'sdNotify', 'PcmStream', 'PcmError', 'isPcmError', 'HealthMonitor', 'RecoveryController', 'observePcm', 'PcmObserver', 'listOpenPcms', 'statusOf', 'scoreOf', 'backoffDelayMs'])(
    'exports %s as a function',
    (name) => {
      expect(typeof (api as Record<string, unknown>)[name]).toBe('function');
    },
  );

  it('a HealthMonitor watches a PcmStream opened through the same entry point', async () => {
    const pcm = await api.openPcm({ device: 'mock:api', direction: 'capture', sampleIntervalMs: 20 });
    pcm.audio.resume();
    const monitor = new api.HealthMonitor({ checkIntervalMs: 50 });
    monitor.watch(pcm);
    monitor.start();
    const statuses: string[] = [];
    monitor.on('status', (s) => statuses.push(s.to));
    await new Promise((r) => setTimeout(r, 300));
    monitor.stop();
    await pcm.close();
    expect(statuses).toContain('healthy');
    expect(JSON.stringify(monitor.snapshot())).toContain('mock:api');
  });
});
