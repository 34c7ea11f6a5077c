// sd_notify rules: when the watchdog is ours, what READY/STATUS/WATCHDOG/STOPPING carry.

import { describe, expect, it } from 'vitest';
import { Notifier, watchdogSettings } from '../../src/daemon/systemd.js';

describe('watchdogSettings', () => {
  it.each([
    ['unset', {}, null],
    ['20 s -> ping every 10 s', { WATCHDOG_USEC: '20000000' }, { intervalMs: 10000 }],
    ['our pid', { WATCHDOG_USEC: '400000', WATCHDOG_PID: '4242' }, { intervalMs: 200 }],
    ['another pid', { WATCHDOG_USEC: '400000', WATCHDOG_PID: '1' }, null],
    ['zero', { WATCHDOG_USEC: '0' }, null],
    ['garbage', { WATCHDOG_USEC: 'soon' }, null],
  ])('%s', (_n, env, want) => expect(watchdogSettings(env, 4242)).toEqual(want));
});

describe('Notifier', () => {
  const make = (alive: () => boolean, env: NodeJS.ProcessEnv = {}) => {
    const sent: string[] = [];
    let skipped = 0;
    const n = new Notifier({ notify: (m) => (sent.push(m), true), env, alive, onSkip: () => skipped++ });
    return { n, sent, skipped: () => skipped };
  };

  it('READY=1 carries the status; STATUS only after READY and only on change; one line', () => {
    const { n, sent } = make(() => true);
    n.status('early');
    expect(sent).toEqual([]);
    n.ready('2 devices: a healthy');
    n.status('2 devices: a healthy');
    n.status('2 devices: a critical\n(disconnected)');
    expect(sent).toEqual(['READY=1\nSTATUS=2 devices: a healthy', 'STATUS=2 devices: a critical; (disconnected)']);
  });

  it('tick pings only while alive', () => {
    let ok = true;
    const { n, sent, skipped } = make(() => ok);
    expect(n.tick()).toBe(true);
    ok = false;
    expect(n.tick()).toBe(false);
    expect(sent).toEqual(['WATCHDOG=1']);
    expect(skipped()).toBe(1);
  });

  it('pings on a timer at half of WATCHDOG_USEC after READY, and stops at STOPPING', async () => {
    const { n, sent } = make(() => true, { WATCHDOG_USEC: '100000' });
    n.ready('x');
    await new Promise((r) => setTimeout(r, 180));
    const pings = sent.filter((m) => m === 'WATCHDOG=1').length;
    expect(pings).toBeGreaterThanOrEqual(2);
    expect(pings).toBeLessThanOrEqual(4);
    n.stopping('bye');
    const at = sent.length;
    await new Promise((r) => setTimeout(r, 120));
    expect(sent.slice(at)).toEqual([]);
    expect(sent.at(-1)).toBe('STOPPING=1\nSTATUS=bye');
  });

  it('reload: RELOADING=1 with MONOTONIC_USEC, then READY=1', () => {
    const { n, sent } = make(() => true);
    n.reloading();
    n.reloaded('ok');
    expect(sent[0]).toMatch(/^RELOADING=1\nMONOTONIC_USEC=\d+$/);
    expect(sent[1]).toBe('READY=1\nSTATUS=ok');
  });
});
