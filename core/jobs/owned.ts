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
  /**
   * The copies not yet final, also held in memory: the owner's duties (retry, re-place)
   * look at them on every cluster change. This node is its KV's only writer.
   */
  #active: Map<string, JobRecord> | undefined;
  #loading: Promise<Map<string, JobRecord>> | undefined;
  /** Written while the first load reads: applied after it, in order. */
  #early: JobRecord[] = [];

  constructor(private readonly kv: Deno.Kv) {}

  #activeJobs(): Promise<Map<string, JobRecord>> | Map<string, JobRecord> {
    return this.#active ?? (this.#loading ??= this.#load());
  }

  async #load(): Promise<Map<string, JobRecord>> {
    const m = new Map<string, JobRecord>();
    for await (const e of this.kv.list<JobRecord>({ prefix: keys.owneds() })) {
      if (!isFinal(e.value.state)) m.set(e.value.id, e.value);
    }
    for (const r of this.#early) track(m, r);
    this.#early = [];
    this.#active = m;
    return m;
  }

  #stored(rec: JobRecord): void {
    if (this.#active) track(this.#active, rec);
    else this.#early.push(rec);
  }

  async get(id: string): Promise<JobRecord | null> {
    const active = this.#active?.get(id);
    return active ?? (await this.kv.get<JobRecord>(keys.owned(id))).value;
  }

  /** Keeps `rec` unless the stored copy is newer; returns what is stored after. */
  async merge(rec: JobRecord): Promise<{ stored: JobRecord; changed: boolean }> {
    for (;;) {
      const cur = await this.kv.get<JobRecord>(keys.owned(rec.id));
      if (cur.value && !newer(rec, cur.value)) return { stored: cur.value, changed: false };
      const res = await this.kv.atomic().check(cur).set(keys.owned(rec.id), rec).commit();
      if (res.ok) {
        this.#stored(rec);
        return { stored: rec, changed: true };
      }
    }
  }

  /** `merge` for many records: one read and one commit per 10 (a `getMany`'s limit). */
  async mergeAll(recs: readonly JobRecord[]): Promise<void> {
    for (let i = 0; i < recs.length; i += 10) {
      const chunk = recs.slice(i, i + 10);
      for (;;) {
        const cur = await this.kv.getMany<JobRecord[]>(chunk.map((r) => keys.owned(r.id)));
        const op = this.kv.atomic();
        const seen = new Map<string, JobRecord>();
        chunk.forEach((r, k) => {
          // The same job twice in one chunk: the newer copy wins, as in sequence.
          const held = seen.get(r.id) ?? cur[k].value;
          if (held && !newer(r, held)) return;
          seen.set(r.id, r);
          op.check(cur[k]).set(keys.owned(r.id), r);
        });
        if (seen.size === 0) break;
        if ((await op.commit()).ok) {
          for (const r of seen.values()) this.#stored(r);
          break;
        }
      }
    }
  }

  async list(all: boolean): Promise<JobRecord[]> {
    if (!all) return [...(await this.#activeJobs()).values()];
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

function track(active: Map<string, JobRecord>, rec: JobRecord): void {
  if (isFinal(rec.state)) active.delete(rec.id);
  else active.set(rec.id, rec);
}
