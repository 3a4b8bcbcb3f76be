// Authenticated connections by peer node id, whichever side dialed: a connection A
// dialed to B also carries B's messages to A. Bounded: past `maxConnections` the least
// recently used connection goes, and one without traffic for `idleTimeoutMs` goes too
// (a QUIC connection costs ~60-80 KB of RSS: DESIGN.md). The pool only decides; the
// owner closes what `onDrop` hands it. Time is an injected scheduler, so the tests run
// this in virtual time.

import { ConfigError } from "../errors.ts";
import type { Cancel, Scheduler } from "../membership/scheduler.ts";

export type DropReason = "evicted" | "idle" | "replaced";

export interface PoolOptions<C> {
  maxConnections: number;
  idleTimeoutMs: number;
  scheduler: Scheduler;
  /** The pool let go of `conn`: close it (a replaced one after letting in-flight data land). */
  onDrop(id: string, conn: C, why: DropReason): void;
}

interface Entry<C> {
  conn: C;
  lastUsed: number;
}

export class ConnectionPool<C> {
  readonly #o: PoolOptions<C>;
  /** Map order is recency order: the first entry is the least recently used. */
  readonly #byId = new Map<string, Entry<C>>();
  #timer: Cancel | undefined;
  #timerAt = Infinity;

  constructor(o: PoolOptions<C>) {
    if (!Number.isInteger(o.maxConnections) || o.maxConnections < 1) {
      throw new ConfigError(
        `'transport.maxConnections' must be a whole number >= 1: got ${o.maxConnections}`,
      );
    }
    if (!(o.idleTimeoutMs > 0)) {
      throw new ConfigError(`'transport.idleTimeout' must be > 0 ms: got ${o.idleTimeoutMs}`);
    }
    this.#o = o;
  }

  get size(): number {
    return this.#byId.size;
  }

  /** The connection to `id`, without counting it as use. */
  get(id: string): C | undefined {
    return this.#byId.get(id)?.conn;
  }

  has(id: string, conn: C): boolean {
    return this.#byId.get(id)?.conn === conn;
  }

  ids(): string[] {
    return [...this.#byId.keys()];
  }

  /** Traffic on `conn` (sent or received): it is the most recently used now. */
  touch(id: string, conn: C): void {
    const e = this.#byId.get(id);
    if (!e || e.conn !== conn) return;
    this.#byId.delete(id);
    e.lastUsed = this.#o.scheduler.now();
    this.#byId.set(id, e);
  }

  /**
   * A newly authenticated connection to `id`. The newest wins: a peer that dials again
   * has lost the old connection (it restarted, or its side timed out), so the old one
   * is handed back as "replaced". Past the cap, the least recently used other goes.
   */
  add(id: string, conn: C): void {
    const old = this.#byId.get(id);
    if (old?.conn === conn) return this.touch(id, conn);
    this.#byId.delete(id);
    this.#byId.set(id, { conn, lastUsed: this.#o.scheduler.now() });
    if (old) this.#o.onDrop(id, old.conn, "replaced");
    while (this.#byId.size > this.#o.maxConnections) {
      const [lruId, lru] = this.#byId.entries().next().value!;
      this.#byId.delete(lruId);
      this.#o.onDrop(lruId, lru.conn, "evicted");
    }
    this.#arm();
  }

  /** `conn` closed on its own: forget it (if it is still the one held for `id`). */
  remove(id: string, conn: C): boolean {
    if (!this.has(id, conn)) return false;
    this.#byId.delete(id);
    return true;
  }

  /** Forgets everything (the owner is closing) and stops the idle timer. */
  clear(): C[] {
    const all = [...this.#byId.values()].map((e) => e.conn);
    this.#byId.clear();
    this.#timer?.();
    this.#timer = undefined;
    this.#timerAt = Infinity;
    return all;
  }

  /** One timer, at the least recently used connection's idle deadline. */
  #arm(): void {
    const first = this.#byId.values().next().value;
    if (!first) return;
    const at = first.lastUsed + this.#o.idleTimeoutMs;
    if (this.#timer && this.#timerAt <= at) return;
    this.#timer?.();
    this.#timerAt = at;
    this.#timer = this.#o.scheduler.after(at - this.#o.scheduler.now(), () => this.#sweep());
  }

  #sweep(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#o.scheduler.now();
    for (const [id, e] of this.#byId) {
      if (e.lastUsed + this.#o.idleTimeoutMs > now) break; // recency order: the rest are newer
      this.#byId.delete(id);
      this.#o.onDrop(id, e.conn, "idle");
    }
    this.#arm();
  }
}
