// The registry's memory: who announced itself, per cluster, until when. Entries
// expire `ttlMs` after their last announcement; the count is bounded per cluster and
// in total (a full registry refuses newcomers, while those already in may re-announce).
// No timers: expired entries are dropped on the way (lists, and a sweep at most every
// ttl/4 when announcements come in), against an injected clock.

import type { Clock } from "../clock.ts";

export interface RegistryEntry {
  id: string;
  /** The address to dial: the announced one, or the announcement's source. */
  address: string;
  port: number;
  /** First 16 hex characters of the cluster's CA fingerprint, lower case. */
  cluster: string;
  /** Milliseconds since the epoch. */
  announcedAt: number;
  expiresAt: number;
}

export interface StoreLimits {
  /** How long an entry lives without being announced again, ms. */
  ttlMs: number;
  /** Entries per cluster. */
  maxPerCluster: number;
  /** Entries in all. */
  maxEntries: number;
}

export type AnnounceOutcome =
  | { ok: true; entry: RegistryEntry }
  | { ok: false; reason: typeof CLUSTER_FULL | typeof REGISTRY_FULL };

export const CLUSTER_FULL = "cluster-full";
export const REGISTRY_FULL = "registry-full";

export class RegistryStore {
  readonly #clusters = new Map<string, Map<string, RegistryEntry>>();
  #size = 0;
  #lastSweep: number;

  constructor(readonly limits: StoreLimits, private readonly clock: Clock) {
    this.#lastSweep = clock.now();
  }

  /** Entries held, expired ones not yet swept included. */
  get size(): number {
    return this.#size;
  }

  announce(a: { id: string; address: string; port: number; cluster: string }): AnnounceOutcome {
    const now = this.clock.now();
    if (now - this.#lastSweep >= this.limits.ttlMs / 4) this.sweep();
    let entries = this.#clusters.get(a.cluster);
    const existing = entries?.get(a.id);
    if (!existing || existing.expiresAt <= now) {
      if (existing) this.#remove(a.cluster, a.id);
      entries = this.#clusters.get(a.cluster);
      if ((entries?.size ?? 0) >= this.limits.maxPerCluster) this.#sweepCluster(a.cluster, now);
      if ((this.#clusters.get(a.cluster)?.size ?? 0) >= this.limits.maxPerCluster) {
        return { ok: false, reason: CLUSTER_FULL };
      }
      if (this.#size >= this.limits.maxEntries) this.sweep();
      if (this.#size >= this.limits.maxEntries) return { ok: false, reason: REGISTRY_FULL };
    }
    if (!this.#clusters.has(a.cluster)) this.#clusters.set(a.cluster, new Map());
    const map = this.#clusters.get(a.cluster)!;
    if (!map.has(a.id)) this.#size++;
    const entry: RegistryEntry = { ...a, announcedAt: now, expiresAt: now + this.limits.ttlMs };
    map.set(a.id, entry);
    return { ok: true, entry };
  }

  /** The unexpired entries of a cluster, most recently announced first. */
  peers(cluster: string): RegistryEntry[] {
    const now = this.clock.now();
    this.#sweepCluster(cluster, now);
    const list = [...(this.#clusters.get(cluster)?.values() ?? [])];
    return list.sort((a, b) => b.announcedAt - a.announcedAt || (a.id < b.id ? -1 : 1));
  }

  /** Drops every expired entry. */
  sweep(): void {
    const now = this.clock.now();
    this.#lastSweep = now;
    for (const cluster of [...this.#clusters.keys()]) this.#sweepCluster(cluster, now);
  }

  #sweepCluster(cluster: string, now: number): void {
    const entries = this.#clusters.get(cluster);
    if (!entries) return;
    for (const [id, e] of entries) if (e.expiresAt <= now) this.#remove(cluster, id);
  }

  #remove(cluster: string, id: string): void {
    const entries = this.#clusters.get(cluster);
    if (entries?.delete(id)) this.#size--;
    if (entries?.size === 0) this.#clusters.delete(cluster);
  }
}
