// The placer: what a node runs when it is asked where a job should go. It takes a
// snapshot of the members it knows (their gossiped meta), names the policy (a built-in
// by name, or a module by path, run in a permission-less worker), and ranks. One per
// agent: it owns the policy workers.

import type {
  JobRequest,
  NodeSnapshot,
  PolicyContext,
  SchedulingPolicy,
} from "../../plugins/sdk.ts";
import type { PluginSet } from "../../plugins/loader.ts";
import { UsageError } from "../errors.ts";
import { explain, type Explanation } from "./explain.ts";
import { rank, type RankResult } from "./pipeline.ts";
import { buildSnapshot, type RttEstimate, type SnapshotMember } from "./snapshot.ts";
import { isPolicyPath } from "./settings.ts";
import { loadWorkerPolicy, type WorkerPolicy } from "./worker_policy.ts";

export interface PlacerOptions {
  selfId: string;
  plugins: PluginSet;
  /** The `scheduler.*` settings without the prefix. */
  settings: Readonly<Record<string, unknown>>;
  /** The default policy (`scheduler.policy`). */
  defaultPolicy: string;
  members(): SnapshotMember[];
  rtt: RttEstimate;
}

export interface Decision {
  policy: string;
  snapshot: NodeSnapshot[];
  result: RankResult;
}

export class Placer {
  readonly #o: PlacerOptions;
  readonly #workers = new Map<string, Promise<WorkerPolicy>>();

  constructor(o: PlacerOptions) {
    this.#o = o;
  }

  /** Ranks the members for `job`. */
  async decide(job: JobRequest, policyName?: string): Promise<Decision> {
    const name = policyName || this.#o.defaultPolicy;
    const snapshot = buildSnapshot(this.#o.members(), this.#o.rtt, job.near ?? this.#o.selfId);
    const ctx: PolicyContext = {
      settings: this.#o.settings,
      // Only dry runs so far, which place nothing: round-robin starts from the first node.
      sequence: 0,
      nodeCount: snapshot.length,
    };
    if (isPolicyPath(name)) {
      const worker = await this.#worker(name);
      return { policy: worker.name, snapshot, result: await worker.rankAsync(job, snapshot, ctx) };
    }
    return { policy: name, snapshot, result: rank(job, snapshot, this.#policy(name), ctx) };
  }

  /** What `herd run --dry-run` shows. */
  async explain(job: JobRequest, policyName?: string): Promise<Explanation & { policy: string }> {
    const d = await this.decide(job, policyName);
    return { policy: d.policy, ...explain(d.result) };
  }

  close(): void {
    for (const w of this.#workers.values()) w.then((p) => p.close(), () => {});
    this.#workers.clear();
  }

  #policy(name: string): SchedulingPolicy {
    const p = this.#o.plugins.get("scheduling-policy", name);
    if (!p) {
      throw new UsageError(
        `no scheduling policy '${name}' (have: ${
          this.#o.plugins.names("scheduling-policy").join(", ")
        }, or a module's path)`,
      );
    }
    return p;
  }

  #worker(path: string): Promise<WorkerPolicy> {
    let w = this.#workers.get(path);
    if (!w) {
      w = loadWorkerPolicy(path);
      this.#workers.set(path, w);
      // A module that failed to load is tried afresh next time (it may have been fixed).
      w.catch(() => this.#workers.delete(path));
    }
    return w;
  }
}
