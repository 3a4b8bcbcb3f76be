// Lifeguard's dynamic suspicion (memberlist's suspicion.go), as data and a pure
// formula. A suspicion starts at the max timeout and shrinks toward the min as
// independent members confirm it, on a log scale:
//
//   min     = suspicionMult · max(1, log10 N) · suspicionUnit
//   max     = suspicionMaxTimeoutMult · min
//   timeout = max(min, max − (max − min) · log(C + 1) / log(K + 1))
//
// with C confirmations seen and K = suspicionMult − 2 expected (0 when the cluster
// is too small to give them). A lone accuser therefore waits the long max — time
// for a falsely suspected node to refute — while a node that several members
// cannot reach is declared dead after the short min. Timers live with the caller;
// this module only says when.

export interface SuspicionBounds {
  minMs: number;
  maxMs: number;
  /** Confirmations that drive the timeout down to `minMs`. */
  expected: number;
}

/** The bounds for a cluster of `n` live members (memberlist's suspicionTimeout). */
export function suspicionBounds(
  n: number,
  t: { suspicionMult: number; suspicionMaxTimeoutMult: number; suspicionUnitMs: number },
): SuspicionBounds {
  const scale = Math.max(1, Math.log10(Math.max(1, n)));
  const minMs = Math.floor(t.suspicionMult * scale * t.suspicionUnitMs);
  const k = t.suspicionMult - 2;
  // n − 2: neither this node nor the suspect can confirm.
  const expected = n - 2 < k ? 0 : Math.max(0, k);
  return { minMs, maxMs: t.suspicionMaxTimeoutMult * minMs, expected };
}

/** Total timeout, from the start of the suspicion, after `confirmations`. */
export function suspicionTimeout(confirmations: number, b: SuspicionBounds): number {
  if (b.expected < 1) return b.minMs;
  const frac = Math.log(confirmations + 1) / Math.log(b.expected + 1);
  const raw = Math.floor(b.maxMs - frac * (b.maxMs - b.minMs));
  return Math.max(b.minMs, raw);
}

/** One member under suspicion: who accused it, and since when. */
export class Suspicion {
  readonly #seen = new Set<string>();
  #confirmations = 0;

  /** `from` (the first accuser) never counts as a confirmation. */
  constructor(
    from: string,
    readonly bounds: SuspicionBounds,
    readonly startedAt: number,
  ) {
    this.#seen.add(from);
  }

  get confirmations(): number {
    return this.#confirmations;
  }

  /**
   * Records an independent accusation. True when it is new and changes the timeout
   * (then it is also worth re-gossiping); false for a repeat, or past `expected`.
   */
  confirm(from: string): boolean {
    if (this.#confirmations >= this.bounds.expected || this.#seen.has(from)) return false;
    this.#seen.add(from);
    this.#confirmations++;
    return true;
  }

  /** When the member is to be declared dead. */
  get deadline(): number {
    return this.startedAt + suspicionTimeout(this.#confirmations, this.bounds);
  }
}
