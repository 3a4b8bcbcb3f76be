// Whether a job fits this node, and the reservation that makes the answer hold: two
// submissions that together exceed the node never both start.
//
// The ledger of what running jobs reserved lives in memory. One agent holds a data dir
// (agent.lock) and is the only writer of its store, and a JavaScript turn is atomic: the
// fit check and the reservation happen in one synchronous step, so nothing can come
// between them. A restart needs no stored ledger either, since every job that was running
// is then lost and reserves nothing. What the store keeps is each job's record, committed
// before an admission is answered: that, not the ledger, is what must survive the agent.
// (The ledger used to live in KV, read and checked on every admission: one store round
// trip more on the placement's critical path.)

import type { Resources } from "../../plugins/sdk.ts";
import { keys } from "../store.ts";
import { formatBytes } from "../units.ts";
import { isFinal, type JobRecord, type Reservation } from "./job.ts";

/** What the node offers to jobs: capacity less what is kept for the system. */
export interface Capacity {
  cpuMilli: number;
  memBytes: number;
  /** Indices of schedulable GPUs. */
  gpus: readonly number[];
}

export interface Allocation {
  cpuMilli: number;
  memBytes: number;
  gpus: number[];
  jobs: number;
}

export const EMPTY_ALLOCATION: Allocation = { cpuMilli: 0, memBytes: 0, gpus: [], jobs: 0 };

export type Fit = { ok: true; reservation: Reservation } | { ok: false; reason: string };

const cpus = (milli: number) => `${Number((milli / 1000).toFixed(3))}`;

/**
 * Pure fit check. `liveMemAvailable`, when given, also bounds memory: a real node whose
 * memory is taken by other programs must not accept what it cannot hold.
 */
export function fit(
  want: Resources,
  capacity: Capacity,
  alloc: Allocation,
  liveMemAvailable?: number,
): Fit {
  const cpuMilli = Math.round(want.cpu * 1000);
  const freeCpu = capacity.cpuMilli - alloc.cpuMilli;
  if (cpuMilli > freeCpu) {
    return {
      ok: false,
      reason:
        `needs ${cpus(cpuMilli)} CPUs; ${cpus(Math.max(0, freeCpu))} of ${
          cpus(capacity.cpuMilli)
        } are free` +
        (alloc.jobs ? ` (${alloc.jobs} job${alloc.jobs > 1 ? "s" : ""} running)` : ""),
    };
  }
  const freeMem = capacity.memBytes - alloc.memBytes;
  if (want.memBytes > freeMem) {
    return {
      ok: false,
      reason: `needs ${formatBytes(want.memBytes)} of memory; ${
        formatBytes(Math.max(0, freeMem))
      } of ${formatBytes(capacity.memBytes)} are free`,
    };
  }
  if (liveMemAvailable !== undefined && want.memBytes > liveMemAvailable) {
    return {
      ok: false,
      reason: `needs ${formatBytes(want.memBytes)} of memory; the machine has ${
        formatBytes(liveMemAvailable)
      } available now`,
    };
  }
  const freeGpus = capacity.gpus.filter((g) => !alloc.gpus.includes(g));
  if (want.gpus > freeGpus.length) {
    return {
      ok: false,
      reason: capacity.gpus.length === 0
        ? `needs ${want.gpus} GPU${want.gpus > 1 ? "s" : ""}; this node has none`
        : `needs ${want.gpus} GPUs; ${freeGpus.length} of ${capacity.gpus.length} are free`,
    };
  }
  return {
    ok: true,
    reservation: { cpuMilli, memBytes: want.memBytes, gpus: freeGpus.slice(0, want.gpus) },
  };
}

export function addReservation(a: Allocation, r: Reservation): Allocation {
  return {
    cpuMilli: a.cpuMilli + r.cpuMilli,
    memBytes: a.memBytes + r.memBytes,
    gpus: [...a.gpus, ...r.gpus].sort((x, y) => x - y),
    jobs: a.jobs + 1,
  };
}

export function removeReservation(a: Allocation, r: Reservation): Allocation {
  return {
    cpuMilli: Math.max(0, a.cpuMilli - r.cpuMilli),
    memBytes: Math.max(0, a.memBytes - r.memBytes),
    gpus: a.gpus.filter((g) => !r.gpus.includes(g)),
    jobs: Math.max(0, a.jobs - 1),
  };
}

/** One job to admit: its record once reserved, what it needs, and its fence. */
export interface Admission {
  id: string;
  makeRecord: (reservation: Reservation) => JobRecord;
  want: Resources;
  /** Refuses (with its reason) given the attempt this node last held of the job: a stale one. */
  fence?: (seenAttempt: number | undefined) => string | undefined;
}

export type Admitted =
  | { ok: true; record: JobRecord }
  | { ok: false; reason: string; fenced?: true };

/** The most admissions one commit holds (their records stay well under a commit's limits). */
export const MAX_ADMIT_BATCH = 64;

/**
 * This node's reservations and the attempt of each job record it holds. Admissions
 * and releases change both at once and then commit the records; callers serialize
 * their commits per kind (the runner's batchers), and both kinds may interleave.
 */
export class Ledger {
  #alloc: Allocation = EMPTY_ALLOCATION;
  /** Job id → the attempt of its stored record. */
  readonly #seen = new Map<string, number>();

  private constructor(
    private readonly kv: Deno.Kv,
    private readonly capacity: Capacity,
  ) {}

  /**
   * Reads the stored records: the attempts they hold fence stale offers. Records of jobs
   * that were running are returned: the agent stopped under them, so the caller marks them
   * lost (and they reserve nothing).
   */
  static async open(
    kv: Deno.Kv,
    capacity: Capacity,
  ): Promise<{ ledger: Ledger; unfinished: JobRecord[] }> {
    const ledger = new Ledger(kv, capacity);
    const unfinished: JobRecord[] = [];
    for await (const e of kv.list<JobRecord>({ prefix: keys.jobs() })) {
      ledger.#seen.set(e.value.id, e.value.attempt);
      if (!isFinal(e.value.state)) unfinished.push(e.value);
    }
    // The ledger was once stored; a value left from then means nothing now.
    await kv.delete(keys.alloc());
    return { ledger, unfinished };
  }

  get allocation(): Allocation {
    return this.#alloc;
  }

  /**
   * Admits jobs in order against what is free, reserving each that fits, and records
   * them in one commit. One commit for a batch is what lets a node admit hundreds of
   * placements a second. When the commit fails, nothing of the batch was admitted.
   */
  async admit(batch: readonly Admission[], liveMemAvailable?: number): Promise<Admitted[]> {
    if (batch.length > MAX_ADMIT_BATCH) {
      throw new RangeError(`at most ${MAX_ADMIT_BATCH} admissions per commit, got ${batch.length}`);
    }
    let memLeft = liveMemAvailable;
    const op = this.kv.atomic();
    const taken: Array<{ id: string; seen: number | undefined; reservation: Reservation }> = [];
    const out = batch.map((a): Admitted => {
      const seen = this.#seen.get(a.id);
      const stale = a.fence?.(seen);
      if (stale) return { ok: false, reason: stale, fenced: true };
      const f = fit(a.want, this.capacity, this.#alloc, memLeft);
      if (!f.ok) return f;
      const record = a.makeRecord(f.reservation);
      this.#alloc = addReservation(this.#alloc, f.reservation);
      this.#seen.set(a.id, record.attempt);
      taken.push({ id: a.id, seen, reservation: f.reservation });
      if (memLeft !== undefined) memLeft -= f.reservation.memBytes;
      op.set(keys.job(a.id), record);
      return { ok: true, record };
    });
    if (taken.length === 0) return out;
    try {
      const res = await op.commit();
      if (!res.ok) throw new Error("the store refused the commit");
    } catch (e) {
      for (const t of taken) {
        this.#alloc = removeReservation(this.#alloc, t.reservation);
        if (t.seen === undefined) this.#seen.delete(t.id);
        else this.#seen.set(t.id, t.seen);
      }
      throw new Error(`recording admitted jobs failed: ${(e as Error).message}`, { cause: e });
    }
    return out;
  }

  /** Gives the jobs' reservations back and writes their final records. */
  async release(records: readonly JobRecord[]): Promise<void> {
    const op = this.kv.atomic();
    for (const r of records) {
      this.#alloc = removeReservation(this.#alloc, r.reservation);
      op.set(keys.job(r.id), r);
    }
    // The process has ended whether or not its record lands: the reservation is free.
    const res = await op.commit();
    if (!res.ok) throw new Error("the store refused the final records");
  }

  /** The job's record was deleted (pruned): its attempts no longer fence. */
  forget(id: string): void {
    this.#seen.delete(id);
  }
}
