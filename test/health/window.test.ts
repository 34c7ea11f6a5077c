import { describe, expect, it } from 'vitest';
import { BucketWindow } from '../../src/health/window.js';

const SUM = 0;
const MAX = 1;
const win = () => new BucketWindow(60_000, 60, 2, [MAX]);

describe('BucketWindow', () => {
  it('sums what happened in the last windowMs and forgets older buckets', () => {
    const w = win();
    w.add(0, SUM, 1);
    w.add(500, SUM, 2);
    w.add(30_000, SUM, 4);
    expect(w.total(30_000, SUM)).toBe(7);
    expect(w.total(59_999, SUM)).toBe(7);
    expect(w.total(60_000, SUM)).toBe(4); // bucket [0, 1000) left the window
    expect(w.total(89_999, SUM)).toBe(4);
    expect(w.total(90_000, SUM)).toBe(0);
  });

  it('keeps the max of the live buckets', () => {
    const w = win();
    w.max(1000, MAX, 50);
    w.max(20_000, MAX, 10);
    expect(w.total(20_000, MAX)).toBe(50);
    expect(w.total(61_000, MAX)).toBe(10);
    expect(w.total(80_000, MAX)).toBe(0);
  });

  it('survives a jump over several windows and a clock that goes back', () => {
    const w = win();
    w.add(1000, SUM, 3);
    w.add(1_000_000, SUM, 1);
    expect(w.total(1_000_000, SUM)).toBe(1);
    w.add(999_000, SUM, 1); // earlier than the current bucket: counted in the current one
    expect(w.total(1_000_500, SUM)).toBe(2);
  });

  it('p99 is the bin edge holding the 99th percentile, capped by the window max', () => {
    const w = win();
    for (let i = 0; i < 99; i++) {
      w.observeLateness(1000, 400);
      w.max(1000, MAX, 400);
    }
    w.observeLateness(1000, 120_000);
    w.max(1000, MAX, 120_000);
    expect(w.quantileUs(1000, 0.99, MAX)).toBe(500); // 99 of 100 are ≤ 500 µs
    w.observeLateness(1000, 120_000);
    w.max(1000, MAX, 120_000);
    expect(w.quantileUs(1000, 0.99, MAX)).toBe(120_000); // bin edge 150 ms capped by the max 120 ms
    expect(w.quantileUs(70_000, 0.99, MAX)).toBeNull();
  });

  it('holds the same memory after a million adds', () => {
    const w = win();
    const before = w.footprintBytes;
    for (let i = 0; i < 1_000_000; i++) w.add(i / 10, SUM, 1);
    expect(w.footprintBytes).toBe(before);
    expect(w.total(99_999.9, SUM)).toBeGreaterThanOrEqual(590_000);
    expect(w.total(99_999.9, SUM)).toBeLessThanOrEqual(600_000);
  });
});
