// Placement as a pipeline, in the manner of Nomad's stack and the Kubernetes scheduler
// framework. One decision, over a snapshot of the nodes:
//
//   feasibility  the core filters (filters.ts: spread, arch, class, labels, GPU, resources,
//                power), then the policy's own filter; every refusal is kept with its filter
//   score        the policy's score, for the feasible nodes only
//   select       best first, equal scores by node id: a ranked list, not one node, because the
//                target node has the last word (admission) and the caller tries the next
//
// Pure and synchronous: the same snapshot, job and context give the same answer. It runs
// for every placement over up to 10,000 nodes, so the loops allocate nothing per node
// (typed arrays, predicates), a refusal's reason is written only when someone reads it
// (`--dry-run`, an error saying why nothing fits), and the sort is a numeric one.

import type {
  JobRequest,
  NodeSnapshot,
  PolicyContext,
  SchedulingPolicy,
} from "../../plugins/sdk.ts";
import { PolicyError } from "../errors.ts";
import { compileFilters, FilterName, FILTERS } from "./filters.ts";

export interface Ranked {
  readonly node: NodeSnapshot;
  readonly score: number;
}

export interface Rejected {
  readonly node: NodeSnapshot;
  /** The first filter that refused the node. */
  readonly filter: FilterName;
  readonly reason: string;
}

export interface RankResult {
  /** Feasible nodes, best first; equal scores in node id order. */
  readonly ranked: Ranked[];
  /** Nodes that cannot take the job, snapshot order. Reasons are written on first read. */
  readonly rejected: Rejected[];
}

/** Ranks the nodes for a job: feasibility → score → select. */
export function rank(
  job: JobRequest,
  nodes: readonly NodeSnapshot[],
  policy: SchedulingPolicy,
  ctx: PolicyContext,
): RankResult {
  const refusals = new Refusals(job, nodes, ctx);
  const candidates = feasibility(job, nodes, ctx, policy, refusals);
  const scores = score(job, nodes, candidates, policy, ctx);
  return rankResult(select(nodes, candidates, scores, refusals), refusals);
}

/** The result of a decision, its refusals' reasons written on first read. */
export function rankResult(ranked: Ranked[], refusals: Refusals): RankResult {
  return new Ranking(ranked, refusals);
}

// A class, not an object literal with a getter: V8 made every literal with an accessor
// survive young-generation GCs (promoted, then 3–5 ms scavenges) in the benchmark.
class Ranking implements RankResult {
  readonly #refusals: Refusals;
  constructor(readonly ranked: Ranked[], refusals: Refusals) {
    this.#refusals = refusals;
  }
  get rejected(): Rejected[] {
    return this.#refusals.list();
  }
}

/**
 * The nodes refused in one decision. A refusal by a core filter is kept as (node, filter)
 * and its reason written by the filter when `list()` is first called: most decisions never
 * ask, and writing 6,000 reasons would cost more than the decision.
 */
export class Refusals {
  readonly #job: JobRequest;
  readonly #nodes: readonly NodeSnapshot[];
  readonly #ctx: PolicyContext;
  // Per refusal: the node's index, and the filter's index in FILTERS (-1: reason given).
  // A node is refused at most once per decision, so the snapshot's size is enough.
  readonly #at: Int32Array;
  readonly #filter: Int8Array;
  #size = 0;
  /** Reasons given with the refusal, by refusal number. */
  readonly #given = new Map<number, { name: FilterName; reason: string }>();
  #list?: Rejected[];

  constructor(job: JobRequest, nodes: readonly NodeSnapshot[], ctx: PolicyContext) {
    this.#job = job;
    this.#nodes = nodes;
    this.#ctx = ctx;
    this.#at = new Int32Array(nodes.length);
    this.#filter = new Int8Array(nodes.length);
  }

  get size(): number {
    return this.#size;
  }

  /** `nodes[index]` was refused by `FILTERS[filter]`. */
  refuse(index: number, filter: number): void {
    this.#at[this.#size] = index;
    this.#filter[this.#size++] = filter;
    this.#list = undefined;
  }

  /** `nodes[index]` was refused for a reason already written (the policy's own filter). */
  refuseWith(index: number, filter: FilterName, reason: string): void {
    this.#given.set(this.#size, { name: filter, reason });
    this.refuse(index, -1);
  }

  /** The refusals in snapshot order, with their reasons. */
  list(): Rejected[] {
    if (this.#list) return this.#list;
    const at = this.#at;
    const order = Array.from({ length: this.#size }, (_, k) => k).sort((a, b) => at[a] - at[b]);
    this.#list = order.map((k) => {
      const node = this.#nodes[at[k]];
      const given = this.#given.get(k);
      if (given) return { node, filter: given.name, reason: given.reason };
      const f = FILTERS[this.#filter[k]];
      const reason = f.check(this.#job, node, this.#ctx) ?? "refused (the filter gives no reason)";
      return { node, filter: f.name, reason };
    });
    return this.#list;
  }
}

/**
 * Stage 1. The indices (into `nodes`) of the nodes every filter accepts, in snapshot order;
 * the others go to `refusals`. The policy's own filter runs last, when there is one.
 */
export function feasibility(
  job: JobRequest,
  nodes: readonly NodeSnapshot[],
  ctx: PolicyContext,
  policy: Pick<SchedulingPolicy, "name" | "filter"> | undefined,
  refusals: Refusals,
): Int32Array {
  const firstRefusal = compileFilters(job, ctx);
  const policyFilter = policy?.filter;
  const out = new Int32Array(nodes.length);
  let n = 0;
  let i = 0;
  try {
    for (; i < nodes.length; i++) {
      const node = nodes[i];
      const refused = firstRefusal(node);
      if (refused >= 0) {
        refusals.refuse(i, refused);
        continue;
      }
      if (policyFilter !== undefined) {
        const reason = policyFilter.call(policy, job, node, ctx);
        if (reason !== undefined) {
          refusals.refuseWith(i, FilterName.Policy, String(reason));
          continue;
        }
      }
      out[n++] = i;
    }
  } catch (e) {
    throw failed(policy?.name ?? "?", "filter", nodes[i], e);
  }
  return out.subarray(0, n);
}

/** Stage 2. The policy's score of each candidate: `scores[k]` is that of `nodes[candidates[k]]`. */
export function score(
  job: JobRequest,
  nodes: readonly NodeSnapshot[],
  candidates: ArrayLike<number>,
  policy: SchedulingPolicy,
  ctx: PolicyContext,
): Float64Array {
  const scores = new Float64Array(candidates.length);
  let k = 0;
  try {
    for (; k < candidates.length; k++) scores[k] = policy.score(job, nodes[candidates[k]], ctx);
  } catch (e) {
    throw failed(policy.name, "score", nodes[candidates[k]], e);
  }
  return scores;
}

/**
 * Stage 3. The candidates best first, equal scores in node id order. A score that is not a
 * finite number (a policy's bug) cannot be ordered: that node is refused, with its score.
 */
export function select(
  nodes: readonly NodeSnapshot[],
  candidates: ArrayLike<number>,
  scores: Float64Array,
  refusals: Refusals,
): Ranked[] {
  // Positions (into candidates) of the finite scores.
  const fin = new Int32Array(candidates.length);
  let m = 0;
  for (let k = 0; k < candidates.length; k++) {
    if (Number.isFinite(scores[k])) {
      fin[m++] = k;
    } else {
      refusals.refuseWith(
        candidates[k],
        FilterName.Policy,
        `the policy scored ${scores[k]}; a score must be a finite number`,
      );
    }
  }
  const better = (a: number, b: number): number => {
    const d = scores[b] - scores[a];
    if (d !== 0) return d;
    const x = nodes[candidates[a]].id, y = nodes[candidates[b]].id;
    return x < y ? -1 : x > y ? 1 : 0;
  };
  let order: number[];
  if (!LITTLE_ENDIAN || m > MAX_PACKED) {
    order = Array.from(fin.subarray(0, m)).sort(better);
  } else {
    const { words, mask } = sortedKeys(scores, fin, m);
    order = new Array(m);
    for (let p = 0; p < m; p++) order[p] = fin[words[2 * p] & mask];
    // Keys that are equal but for the position bits are in snapshot order: put each such
    // run right when it is not already in exact order (scores, then ids).
    const same = (a: number, b: number) =>
      words[2 * a + 1] === words[2 * b + 1] && ((words[2 * a] ^ words[2 * b]) & ~mask) === 0;
    for (let p = 1; p < m; p++) {
      if (!same(p - 1, p) || better(order[p - 1], order[p]) < 0) continue;
      let start = p - 1;
      while (start > 0 && same(start - 1, start)) start--;
      let end = p + 1;
      while (end < m && same(end - 1, end)) end++;
      const run = order.slice(start, end).sort(better);
      for (let r = 0; r < run.length; r++) order[start + r] = run[r];
      p = end - 1;
    }
  }
  const ranked: Ranked[] = new Array(m);
  for (let p = 0; p < m; p++) {
    const k = order[p];
    ranked[p] = { node: nodes[candidates[k]], score: scores[k] };
  }
  return ranked;
}

// Sorting without a comparator: a comparator sort calls back into JavaScript n·log n times
// (~0.7 ms for 4,000 nodes on the benchmark's machine); the engine's numeric sort of 64-bit
// integers takes ~0.05 ms.
// Each key is the score's bits, mapped so that unsigned order is best-first order, with its
// lowest bits replaced by the candidate's place: the order is exact but among scores that
// differ only in those bits (or not at all), which `select` then puts right. Keys are
// written through a Uint32Array view (no BigInt per node), which needs a little-endian
// machine: every platform Deno runs on; elsewhere `select` sorts with a comparator.

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Most candidates whose place fits the low bits of a key (and a 32-bit shift). */
const MAX_PACKED = 1 << 24;
const F64 = new Float64Array(1);
const F64_WORDS = new Uint32Array(F64.buffer);

/** The packed keys of `scores[fin[0..m)]`, sorted, as 32-bit words (low, high); and the place mask. */
function sortedKeys(
  scores: Float64Array,
  fin: Int32Array,
  m: number,
): { words: Uint32Array; mask: number } {
  const keys = new BigUint64Array(m);
  const words = new Uint32Array(keys.buffer);
  let bits = 1;
  while (1 << bits < m) bits++;
  const mask = ((1 << bits) - 1) >>> 0;
  for (let p = 0; p < m; p++) {
    F64[0] = 0 - scores[fin[p]]; // not -s: 0 and -0 must give one key
    let lo = F64_WORDS[0], hi = F64_WORDS[1];
    // IEEE 754 to unsigned order: a negative number flips every bit, any other its sign bit.
    if (hi >= 0x80000000) {
      hi = ~hi >>> 0;
      lo = ~lo >>> 0;
    } else {
      hi = (hi | 0x80000000) >>> 0;
    }
    words[2 * p] = ((lo & ~mask) | p) >>> 0;
    words[2 * p + 1] = hi;
  }
  keys.sort();
  return { words, mask };
}

function failed(policy: string, what: string, node: NodeSnapshot | undefined, e: unknown) {
  if (e instanceof PolicyError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new PolicyError(policy, "failed", `${what}() threw on node ${node?.id}: ${msg}`, {
    cause: e,
  });
}
