// A token bucket per source, for work done before anyone is authenticated (QUIC
// handshakes, info requests, joins) and for log lines. Each source may spend `burst`
// at once, then `ratePerSecond`. The table is bounded: past `maxSources` the source
// unseen longest is forgotten (it comes back with a full bucket - memory stays bounded,
// which matters more than exactness under a flood from many addresses).

import { ConfigError } from "../errors.ts";
import { parseIp } from "./acl.ts";

/** Sources tracked at most by one limiter. */
export const MAX_RATE_LIMITED_SOURCES = 4_096;

export interface RateLimitOptions {
  ratePerSecond: number;
  burst: number;
  /** @default {MAX_RATE_LIMITED_SOURCES} */
  maxSources?: number;
  /** Milliseconds; only differences matter. */
  now(): number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #max: number;
  readonly #now: () => number;
  /** Map order is recency order: the first key is the one unseen longest. */
  readonly #buckets = new Map<string, Bucket>();

  constructor(o: RateLimitOptions) {
    if (!(o.ratePerSecond > 0) || !Number.isFinite(o.ratePerSecond)) {
      throw new ConfigError(`'ratePerSecond' must be > 0: got ${o.ratePerSecond}`);
    }
    if (!(o.burst >= 1) || !Number.isFinite(o.burst)) {
      throw new ConfigError(`'burst' must be >= 1: got ${o.burst}`);
    }
    this.#rate = o.ratePerSecond;
    this.#burst = o.burst;
    this.#max = Math.max(1, o.maxSources ?? MAX_RATE_LIMITED_SOURCES);
    this.#now = o.now;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Spends one token of `key`'s bucket: true if there was one. */
  take(key: string): boolean {
    const now = this.#now();
    let b = this.#buckets.get(key);
    if (b) {
      this.#buckets.delete(key);
      const refill = (Math.max(0, now - b.at) / 1000) * this.#rate;
      b.tokens = Math.min(this.#burst, b.tokens + refill);
      b.at = now;
    } else {
      if (this.#buckets.size >= this.#max) {
        this.#buckets.delete(this.#buckets.keys().next().value!);
      }
      b = { tokens: this.#burst, at: now };
    }
    this.#buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

/**
 * The rate-limited unit for a source address: one IPv4 address, or an IPv6 /64 (one
 * host usually holds a whole /64, and could otherwise rotate through it).
 */
export function sourceKey(host: string): string {
  const ip = parseIp(host);
  if (!ip) return host;
  if (ip.family === 4) return `v4:${ip.value.toString(16)}`;
  return `v6:${(ip.value >> 64n).toString(16)}/64`;
}
