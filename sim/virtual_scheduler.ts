// Virtual time: a priority queue of timers, run in (time, creation) order. Nothing
// waits for real time, so ten simulated minutes of a thousand nodes take seconds,
// and the same seed gives the same order of events, every run.

import type { Cancel, Scheduler } from "../core/membership/scheduler.ts";

interface Timer {
  at: number;
  seq: number;
  fn: (() => void) | undefined;
}

const noop = () => {};

export class VirtualScheduler implements Scheduler {
  #now = 0;
  #seq = 0;
  #events = 0;
  readonly #heap: Timer[] = [];

  now(): number {
    return this.#now;
  }

  /** Timers run so far. */
  get events(): number {
    return this.#events;
  }

  /** Timers queued, cancelled ones included until their time comes. */
  get pending(): number {
    return this.#heap.length;
  }

  after(ms: number, fn: () => void): Cancel {
    const t: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#push(t);
    return () => {
      t.fn = undefined;
    };
  }

  /** Runs every timer due within `ms`, then sets the time to now + ms. */
  runFor(ms: number): void {
    const end = this.#now + ms;
    while (this.#heap.length > 0 && this.#heap[0].at <= end) this.#runNext();
    this.#now = end;
  }

  /**
   * Runs until `done()` holds, checking it every `checkEveryMs` of virtual time, for at
   * most `maxMs`. Returns the virtual time it took, or undefined if `done` never held.
   */
  runUntil(done: () => boolean, maxMs: number, checkEveryMs = 50): number | undefined {
    const start = this.#now;
    if (done()) return 0;
    while (this.#now - start < maxMs) {
      this.runFor(Math.min(checkEveryMs, maxMs - (this.#now - start)));
      if (done()) return this.#now - start;
    }
    return undefined;
  }

  #runNext(): void {
    const t = this.#pop();
    this.#now = t.at;
    const fn = t.fn ?? noop;
    if (t.fn) this.#events++;
    fn();
  }

  // A binary min-heap on (at, seq): ties run in creation order, which keeps runs
  // deterministic.
  #less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(t: Timer): void {
    const h = this.#heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  #pop(): Timer {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let min = i;
        if (l < h.length && this.#less(h[l], h[min])) min = l;
        if (r < h.length && this.#less(h[r], h[min])) min = r;
        if (min === i) break;
        [h[i], h[min]] = [h[min], h[i]];
        i = min;
      }
    }
    return top;
  }
}
