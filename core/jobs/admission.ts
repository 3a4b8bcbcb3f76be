// Whether a job fits this node, and the atomic reservation that makes the answer
// hold: two submissions that together exceed the node never both start, because
// each commits its reservation only if the allocation it read is unchanged.

import type { Resources } from "../../plugins/sdk.ts";
import { keys } from "../store.ts";
import { formatBytes } from "../units.ts";
import type { JobRecord, Reservation } from "./job.ts";

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
  /** Refuses (with its reason) given the job's stored record: a stale attempt. */
  fence?: (stored: JobRecord | null) => string | undefined;
}

export type Admitted =
  | { ok: true; record: JobRecord }
  | { ok: false; reason: string; fenced?: true };

/**
 * Admits jobs in order against what is free, reserving each that fits and recording it,
 * all in one atomic commit (retried whole if the allocation or a job changed meanwhile).
 * One commit for a batch is what lets a node admit hundreds of placements a second.
 */
export async function admit(
  kv: Deno.Kv,
  capacity: Capacity,
  batch: readonly Admission[],
  liveMemAvailable?: number,
): Promise<Admitted[]> {
  if (batch.length > MAX_ADMIT_BATCH) {
    throw new RangeError(`at most ${MAX_ADMIT_BATCH} admissions per commit, got ${batch.length}`);
  }
  for (;;) {
    // One read for the ledger and the jobs' records (up to 9 of them).
    const [entry, ...stored] = await getAll(kv, [
      keys.alloc(),
      ...batch.map((a) => keys.job(a.id)),
    ]);
    let alloc = (entry.value as Allocation | null) ?? EMPTY_ALLOCATION;
    let memLeft = liveMemAvailable;
    const op = kv.atomic().check(entry);
    const out = batch.map((a, i): Admitted => {
      const stale = a.fence?.(stored[i].value as JobRecord | null);
      if (stale) return { ok: false, reason: stale, fenced: true };
      const f = fit(a.want, capacity, alloc, memLeft);
      if (!f.ok) return f;
      const record = a.makeRecord(f.reservation);
      alloc = addReservation(alloc, f.reservation);
      if (memLeft !== undefined) memLeft -= f.reservation.memBytes;
      op.check(stored[i]).set(keys.job(a.id), record);
      return { ok: true, record };
    });
    if (!out.some((o) => o.ok)) return out;
    const res = await op.set(keys.alloc(), alloc).commit();
    if (res.ok) return out;
  }
}

/** The most admissions one commit holds (Deno KV allows 100 checks per commit). */
export const MAX_ADMIT_BATCH = 64;

async function getAll(kv: Deno.Kv, ks: Deno.KvKey[]): Promise<Deno.KvEntryMaybe<unknown>[]> {
  const out: Deno.KvEntryMaybe<unknown>[] = [];
  for (let i = 0; i < ks.length; i += 10) out.push(...await kv.getMany(ks.slice(i, i + 10)));
  return out;
}

/** Writes the jobs' final records and gives their reservations back, atomically. */
export async function release(kv: Deno.Kv, records: readonly JobRecord[]): Promise<void> {
  for (;;) {
    const entry = await kv.get<Allocation>(keys.alloc());
    let alloc = entry.value ?? EMPTY_ALLOCATION;
    const op = kv.atomic().check(entry);
    for (const r of records) {
      alloc = removeReservation(alloc, r.reservation);
      op.set(keys.job(r.id), r);
    }
    const res = await op.set(keys.alloc(), alloc).commit();
    if (res.ok) return;
  }
}
