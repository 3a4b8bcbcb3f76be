// Time and randomness are injected so tests and the simulator can drive them.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Fills n random bytes. */
export type RandomBytes = (n: number) => Uint8Array;

export const cryptoRandom: RandomBytes = (n) => crypto.getRandomValues(new Uint8Array(n));

/** A deterministic generator (mulberry32) for tests and replays. */
export function seededRandom(seed: number): RandomBytes {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) & 0xff;
  };
  return (n) => Uint8Array.from({ length: n }, next);
}
