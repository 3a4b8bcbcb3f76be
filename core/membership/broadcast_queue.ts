// Rumors waiting to ride piggyback (memberlist's TransmitLimitedQueue). Each rumor
// is sent at most retransmitMult · ceil(log10(N + 1)) times; the least-sent go
// first, so fresh news spreads before old news is repeated. A newer rumor about
// a member replaces any queued one about the same member: only the latest state
// is worth spreading.

import { estimateBytes, type Rumor } from "./messages.ts";

/** Queued rumors at most; past it the most-sent one is dropped (push-pull repairs). */
export const MAX_QUEUED_RUMORS = 4_096;

/** Below this much free room nothing more will fit: stop looking. */
const SMALLEST_RUMOR_BYTES = 48;
/** Rumors passed over for being too large before a take stops looking. */
const MAX_SKIPPED = 8;

/** memberlist's retransmitLimit. */
export function retransmitLimit(retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(n + 1));
}

interface Item {
  key: string;
  rumor: Rumor;
  bytes: number;
  transmits: number;
  done: boolean;
  /** Called once, when the rumor stops being sent (limit, replaced, dropped). */
  onDone?: () => void;
}

/** An entry of tier t whose item is done, or was sent again and moved on. */
const isStale = (item: Item, t: number) => item.done || item.transmits !== t;

export class BroadcastQueue {
  readonly #byKey = new Map<string, Item>();
  /**
   * tiers[t]: items sent t times, in arrival order. Removal is lazy: an entry whose item
   * is done or has moved on to another tier is skipped, and swept out when they pile up.
   */
  readonly #tiers: Item[][] = [];

  constructor(readonly retransmitMult: number) {}

  get size(): number {
    return this.#byKey.size;
  }

  /** Queues `rumor` under `key` (the member it is about), replacing what was there. */
  enqueue(key: string, rumor: Rumor, onDone?: () => void): void {
    const old = this.#byKey.get(key);
    if (old) this.#finish(old);
    if (this.#byKey.size >= MAX_QUEUED_RUMORS) this.#dropMostSent();
    // Frozen: a queued rumor may be sent many times and is never changed in between.
    const frozen = Object.freeze(rumor);
    const item: Item = {
      key,
      rumor: frozen,
      bytes: estimateBytes(frozen),
      transmits: 0,
      done: false,
      onDone,
    };
    this.#byKey.set(key, item);
    this.#place(item);
  }

  /**
   * Takes rumors that fit in `budgetBytes` — least-sent first and, among equals, the last
   * to arrive in that tier first (memberlist orders by submission, newest first) — counting
   * one transmit each; `n` is the cluster size the retransmit limit is computed for. Fresh
   * news (a refutation) thus never waits behind a backlog of other fresh news.
   */
  take(budgetBytes: number, n: number): Rumor[] {
    const limit = retransmitLimit(this.retransmitMult, n);
    const picked: Item[] = [];
    let free = budgetBytes;
    let skipped = 0;
    walk: for (let t = 0; t < this.#tiers.length; t++) {
      const tier = this.#tiers[t];
      if (!tier) continue;
      // What was taken last time sits at the end, stale now: drop it before looking.
      while (tier.length > 0 && isStale(tier[tier.length - 1], t)) tier.pop();
      for (let i = tier.length - 1; i >= 0; i--) {
        const item = tier[i];
        if (isStale(item, t)) continue;
        if (item.bytes > free) {
          if (++skipped >= MAX_SKIPPED) break walk;
          continue;
        }
        picked.push(item);
        free -= item.bytes;
        if (free < SMALLEST_RUMOR_BYTES) break walk;
      }
    }
    // Re-tier after the walk, so an item is never met twice in one take; oldest first,
    // so the newest stays ahead in its next tier too.
    for (const item of picked.toReversed()) {
      item.transmits++;
      if (item.transmits >= limit) this.#finish(item);
      else this.#place(item);
    }
    return picked.map((i) => i.rumor);
  }

  /** Drops everything, calling each `onDone`. */
  clear(): void {
    for (const item of [...this.#byKey.values()]) this.#finish(item);
    this.#tiers.length = 0;
  }

  #place(item: Item): void {
    const tier = (this.#tiers[item.transmits] ??= []);
    tier.push(item);
    // Sweep stale entries once they outnumber the live ones.
    if (tier.length > 64 && tier.length > 2 * this.#byKey.size) {
      const t = item.transmits;
      this.#tiers[t] = tier.filter((i) => !isStale(i, t));
    }
  }

  #finish(item: Item): void {
    if (item.done) return;
    item.done = true;
    this.#byKey.delete(item.key);
    item.onDone?.();
  }

  #dropMostSent(): void {
    for (let t = this.#tiers.length - 1; t >= 0; t--) {
      const oldest = this.#tiers[t]?.find((i) => !isStale(i, t));
      if (oldest) return this.#finish(oldest);
    }
  }
}
