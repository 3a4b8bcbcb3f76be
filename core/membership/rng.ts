// The protocol's randomness: which member to probe, which relays, when to start.
// Injected, so a seed replays a run exactly (the simulator relies on it).

import { cryptoRandom, type RandomBytes, seededRandom } from "../clock.ts";

export interface Rng {
  /** A float in [0, 1). */
  float(): number;
  /** An integer in [0, n); 0 when n <= 0. */
  int(n: number): number;
  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[];
}

/** Bytes drawn from the source at a time: one call per block, not per number. */
const BLOCK_BYTES = 1024;

/** An `Rng` over a byte source (core/clock.ts), 32 bits per float. */
export function rngFromBytes(source: RandomBytes): Rng {
  let block: Uint8Array = new Uint8Array(0);
  let at = 0;
  const u32 = (): number => {
    if (at + 4 > block.length) {
      block = source(BLOCK_BYTES);
      at = 0;
    }
    const v = (block[at] | (block[at + 1] << 8) | (block[at + 2] << 16) | (block[at + 3] << 24)) >>>
      0;
    at += 4;
    return v;
  };
  const float = () => u32() / 0x1_0000_0000;
  const int = (n: number) => (n <= 0 ? 0 : Math.floor(float() * n));
  return {
    float,
    int,
    shuffle<T>(items: T[]): T[] {
      for (let i = items.length - 1; i > 0; i--) {
        const j = int(i + 1);
        [items[i], items[j]] = [items[j], items[i]];
      }
      return items;
    },
  };
}

/** A deterministic `Rng` for tests and the simulator. */
export const seededRng = (seed: number): Rng => rngFromBytes(seededRandom(seed));

/** The production `Rng`, over `crypto.getRandomValues`. */
export const cryptoRng = (): Rng => rngFromBytes(cryptoRandom);
