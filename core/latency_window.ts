// The most recent durations of one kind (a placement's round trip), for quantiles in
// `/metrics`: a Prometheus summary over a sliding window of the last `size` samples, plus
// the all-time count and sum.

export class LatencyWindow {
  readonly #ring: Float64Array;
  #next = 0;
  #filled = 0;
  count = 0;
  /** Milliseconds, all time. */
  sumMs = 0;

  constructor(size = 1024) {
    this.#ring = new Float64Array(size);
  }

  add(ms: number): void {
    this.#ring[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#ring.length;
    this.#filled = Math.min(this.#filled + 1, this.#ring.length);
    this.count++;
    this.sumMs += ms;
  }

  /** The `q` quantile (0..1) of the window in ms, nearest rank; NaN when empty. */
  quantiles(qs: readonly number[]): number[] {
    if (this.#filled === 0) return qs.map(() => NaN);
    const sorted = this.#ring.slice(0, this.#filled).sort();
    return qs.map((q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]);
  }
}
