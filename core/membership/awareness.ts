// Lifeguard's local health (memberlist's awareness.go): a score in [0, max-1] that
// rises when this node looks slow — missed nacks, failed probes, having to refute
// a suspicion of itself — and falls with each successful probe. Timeouts and the
// probe interval are multiplied by score+1, so an overloaded node slows its own
// failure detector instead of accusing healthy peers.

export class Awareness {
  #score = 0;

  /** `max` is the multiplier's ceiling (memberlist's AwarenessMaxMultiplier). */
  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`'awarenessMaxMultiplier' must be a whole number >= 1: got ${max}`);
    }
  }

  /** 0 is healthy. */
  get score(): number {
    return this.#score;
  }

  /** Adds `delta`, clamped to [0, max-1]; returns the new score. */
  applyDelta(delta: number): number {
    this.#score = Math.min(this.max - 1, Math.max(0, this.#score + delta));
    return this.#score;
  }

  /** `ms` scaled by the current health: ms · (score + 1). */
  scale(ms: number): number {
    return ms * (this.#score + 1);
  }
}
