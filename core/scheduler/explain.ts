// Why a job would go where it goes: a decision's result as rows (the best candidates with
// their scores and free resources; the nodes refused, by which filter and why). Plain
// data: the API sends it as JSON, and cli/explain.ts prints it for `herd run --dry-run`.

import type { FilterName } from "./filters.ts";
import type { RankResult } from "./pipeline.ts";

export interface RankRow {
  /** 1 is the node tried first. */
  rank: number;
  id: string;
  name: string;
  score: number;
  free: { cpu: number; memBytes: number; gpus: number };
}

export interface RejectedRow {
  id: string;
  name: string;
  filter: FilterName;
  reason: string;
}

export interface Explanation {
  /** Nodes that can take the job; `ranked` shows the first `limit` of them. */
  feasible: number;
  ranked: RankRow[];
  /** Nodes refused, and how many each filter refused. */
  refused: number;
  byFilter: Partial<Record<FilterName, number>>;
  /** The first `rejectedLimit` refusals, in snapshot order. */
  rejected: RejectedRow[];
}

export interface ExplainOptions {
  /** Ranked rows shown. @default 10 */
  limit?: number;
  /** Refused rows shown. @default 20 */
  rejectedLimit?: number;
}

/** The rows of a decision (plain data: the API can send it as JSON). */
export function explain(result: RankResult, options: ExplainOptions = {}): Explanation {
  const limit = options.limit ?? 10;
  const rejectedLimit = options.rejectedLimit ?? 20;
  const byFilter: Partial<Record<FilterName, number>> = {};
  const rejected = result.rejected;
  for (const r of rejected) byFilter[r.filter] = (byFilter[r.filter] ?? 0) + 1;
  return {
    feasible: result.ranked.length,
    ranked: result.ranked.slice(0, limit).map((r, i) => ({
      rank: i + 1,
      id: r.node.id,
      name: r.node.name,
      score: r.score,
      free: { ...r.node.free },
    })),
    refused: rejected.length,
    byFilter,
    rejected: rejected.slice(0, rejectedLimit).map((r) => ({
      id: r.node.id,
      name: r.node.name,
      filter: r.filter,
      reason: r.reason,
    })),
  };
}
