// A sliding window of fixed-size time buckets. Memory is fixed at
// construction whatever the event rate: adding a value touches one cell, and
// the window totals are recomputed only when a bucket boundary is crossed.

/** Wake-up lateness histogram bounds, µs (upper edges; the last bin is open). */
export const LATENESS_BINS_US: readonly number[] = [
  250, 500, 1000, 2000, 3000, 5000, 7500, 10_000, 15_000, 20_000, 30_000, 50_000, 75_000, 100_000, 150_000,
  200_000, 300_000, 500_000, 1_000_000, Infinity,
];

export class BucketWindow {
  readonly bucketMs: number;
  private readonly slots: number;
  private readonly fields: number;
  private readonly isMax: Uint8Array;
  /** Bucket number held by each slot (floor(t / bucketMs)); NaN = never used. */
  private readonly slotBucket: Float64Array;
  private readonly cells: Float64Array;
  private readonly hist: Uint32Array;
  private readonly totals: Float64Array;
  private current = -Infinity;
  private p99Cache: number | null = null;
  private p99Dirty = true;

  constructor(windowMs: number, buckets: number, fields: number, maxFields: readonly number[]) {
    this.slots = buckets;
    this.bucketMs = windowMs / buckets;
    this.fields = fields;
    this.isMax = new Uint8Array(fields);
    for (const f of maxFields) this.isMax[f] = 1;
    this.slotBucket = new Float64Array(buckets).fill(NaN);
    this.cells = new Float64Array(buckets * fields);
    this.hist = new Uint32Array(buckets * LATENESS_BINS_US.length);
    this.totals = new Float64Array(fields);
  }

  /** Bytes held by the typed arrays: the same from the first event to the millionth. */
  get footprintBytes(): number {
    return this.slotBucket.byteLength + this.cells.byteLength + this.hist.byteLength + this.totals.byteLength;
  }

  add(nowMs: number, field: number, value: number): void {
    const slot = this.advance(nowMs);
    this.cells[slot * this.fields + field]! += value;
    this.totals[field]! += value;
  }

  max(nowMs: number, field: number, value: number): void {
    const slot = this.advance(nowMs);
    const i = slot * this.fields + field;
    if (value > this.cells[i]!) this.cells[i] = value;
    if (value > this.totals[field]!) this.totals[field] = value;
  }

  /** One lateness observation into the histogram that p99 reads. */
  observeLateness(nowMs: number, us: number): void {
    const slot = this.advance(nowMs);
    let bin = 0;
    while (us > LATENESS_BINS_US[bin]!) bin++;
    this.hist[slot * LATENESS_BINS_US.length + bin]!++;
    this.p99Dirty = true;
  }

  total(nowMs: number, field: number): number {
    this.advance(nowMs);
    return this.totals[field]!;
  }

  /**
   * The upper edge of the bin holding the q-quantile, never above the
   * window's max (`maxField`): an "at most" figure, null when empty.
   */
  quantileUs(nowMs: number, q: number, maxField: number): number | null {
    this.advance(nowMs);
    if (!this.p99Dirty && q === 0.99) return this.p99Cache;
    const bins = LATENESS_BINS_US.length;
    const counts = new Float64Array(bins);
    let n = 0;
    for (let s = 0; s < this.slots; s++) {
      if (!this.live(s)) continue;
      for (let b = 0; b < bins; b++) {
        const c = this.hist[s * bins + b]!;
        counts[b]! += c;
        n += c;
      }
    }
    let result: number | null = null;
    if (n > 0) {
      const rank = Math.ceil(q * n);
      let seen = 0;
      for (let b = 0; b < bins; b++) {
        seen += counts[b]!;
        if (seen >= rank) {
          result = Math.min(LATENESS_BINS_US[b]!, this.totals[maxField]!);
          break;
        }
      }
    }
    if (q === 0.99) {
      this.p99Cache = result;
      this.p99Dirty = false;
    }
    return result;
  }

  private live(slot: number): boolean {
    return this.slotBucket[slot]! > this.current - this.slots;
  }

  /** Moves to the bucket of `nowMs`; returns its slot. A clock going back stays in the current bucket. */
  private advance(nowMs: number): number {
    const bucket = Math.floor(nowMs / this.bucketMs);
    if (bucket > this.current) {
      this.current = bucket;
      const slot = ((bucket % this.slots) + this.slots) % this.slots;
      this.slotBucket[slot] = bucket;
      this.cells.fill(0, slot * this.fields, (slot + 1) * this.fields);
      const bins = LATENESS_BINS_US.length;
      this.hist.fill(0, slot * bins, (slot + 1) * bins);
      this.recomputeTotals();
      this.p99Dirty = true;
    }
    return ((this.current % this.slots) + this.slots) % this.slots;
  }

  /** Once per bucket: exact sums (no float drift from subtracting) and maxima of the live buckets. */
  private recomputeTotals(): void {
    this.totals.fill(0);
    for (let s = 0; s < this.slots; s++) {
      if (!this.live(s)) continue;
      for (let f = 0; f < this.fields; f++) {
        const v = this.cells[s * this.fields + f]!;
        if (this.isMax[f]) {
          if (v > this.totals[f]!) this.totals[f] = v;
        } else this.totals[f]! += v;
      }
    }
  }
}
