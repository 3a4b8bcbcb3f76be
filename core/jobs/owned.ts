// The copies of job records this node keeps as one of a job's owners (owners.ts). The
// owners' copies of one job can disagree for a moment (a message in flight, a partition);
// `newer` decides which wins, the same way on every node, so they converge.

import { keys } from "../store.ts";
import { isFinal, type JobRecord } from "./job.ts";

/**
 * Whether `a` supersedes `b`: a later attempt; for the same attempt run on two nodes (each
 * side of a partition placed it), the one on the node first in id order (`prevails`); else
 * a later revision, else a final state.
 */
export function newer(a: JobRecord, b: JobRecord): boolean {
  if (a.attempt !== b.attempt) return a.attempt > b.attempt;
  if (a.nodeId && b.nodeId && a.nodeId !== b.nodeId) return prevails(a.nodeId, b.nodeId);
  if ((a.rev ?? 0) !== (b.rev ?? 0)) return (a.rev ?? 0) > (b.rev ?? 0);
  return isFinal(a.state) && !isFinal(b.state);
}

/** Of two nodes that ran the same attempt of a job, whose run goes on (the same on every node). */
export const prevails = (a: string, b: string): boolean => a < b;

/**
 * Whether attempt `attempt` of the job, running on `nodeId`, is stale next to the record
 * `rec`: a later attempt is current, or the same attempt on a node that prevails, or the
 * job was killed at that attempt.
 */
export function fences(rec: JobRecord, attempt: number, nodeId: string): boolean {
  if (rec.attempt !== attempt) return rec.attempt > attempt;
  if (rec.nodeId && rec.nodeId !== nodeId) return prevails(rec.nodeId, nodeId);
  return rec.state === "killed";
}

export class OwnedJobs {
  constructor(private readonly kv: Deno.Kv) {}

  async get(id: string): Promise<JobRecord | null> {
    return (await this.kv.get<JobRecord>(keys.owned(id))).value;
  }

  /** Keeps `rec` unless the stored copy is newer; returns what is stored after. */
  async merge(rec: JobRecord): Promise<{ stored: JobRecord; changed: boolean }> {
    for (;;) {
      const cur = await this.kv.get<JobRecord>(keys.owned(rec.id));
      if (cur.value && !newer(rec, cur.value)) return { stored: cur.value, changed: false };
      const res = await this.kv.atomic().check(cur).set(keys.owned(rec.id), rec).commit();
      if (res.ok) return { stored: rec, changed: true };
    }
  }

  async list(all: boolean): Promise<JobRecord[]> {
    const out: JobRecord[] = [];
    for await (const e of this.kv.list<JobRecord>({ prefix: keys.owneds() })) {
      if (all || !isFinal(e.value.state)) out.push(e.value);
    }
    return out;
  }

  /** Drops the oldest finished copies past `limit`. */
  async prune(limit: number): Promise<void> {
    const finished = (await this.list(true)).filter((r) => isFinal(r.state));
    for (const r of finished.slice(0, Math.max(0, finished.length - limit))) {
      await this.kv.delete(keys.owned(r.id));
    }
  }
}
