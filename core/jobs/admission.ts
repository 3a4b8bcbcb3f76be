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

/** Reserves and records the job in one atomic commit, retrying on a concurrent change. */
export async function admit(
  kv: Deno.Kv,
  capacity: Capacity,
  makeRecord: (reservation: Reservation) => JobRecord,
  want: Resources,
  liveMemAvailable?: number,
  /** Refuses (with its reason) given the job's stored record: a stale attempt. */
  fence?: (stored: JobRecord | null) => string | undefined,
): Promise<{ ok: true; record: JobRecord } | { ok: false; reason: string; fenced?: true }> {
  for (;;) {
    const entry = await kv.get<Allocation>(keys.alloc());
    const alloc = entry.value ?? EMPTY_ALLOCATION;
    const f = fit(want, capacity, alloc, liveMemAvailable);
    if (!f.ok) return f;
    const record = makeRecord(f.reservation);
    const stored = await kv.get<JobRecord>(keys.job(record.id));
    const stale = fence?.(stored.value);
    if (stale) return { ok: false, reason: stale, fenced: true };
    const res = await kv.atomic()
      .check(entry)
      .check(stored)
      .set(keys.alloc(), addReservation(alloc, f.reservation))
      .set(keys.job(record.id), record)
      .commit();
    if (res.ok) return { ok: true, record };
  }
}

/** Writes the job's final record and gives its reservation back, atomically. */
export async function release(kv: Deno.Kv, record: JobRecord): Promise<void> {
  for (;;) {
    const entry = await kv.get<Allocation>(keys.alloc());
    const alloc = removeReservation(entry.value ?? EMPTY_ALLOCATION, record.reservation);
    const res = await kv.atomic()
      .check(entry)
      .set(keys.alloc(), alloc)
      .set(keys.job(record.id), record)
      .commit();
    if (res.ok) return;
  }
}
