// The placer: what a node runs when it is asked where a job should go. It takes a
// snapshot of the members it knows (their gossiped meta), names the policy (a built-in
// by name, or a module by path, run in a permission-less worker), and ranks. One per
// agent: it owns the policy workers.

import type {
  JobRequest,
  NodeSnapshot,
  PolicyContext,
  Resources,
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
  /** Milliseconds, for how long a hold lasts. */
  now(): number;
  /**
   * How long this node counts what it offered a member against that member's free
   * resources: until the member's own announcement has had time to say so.
   */
  holdMs: number;
}

interface Hold {
  nodeId: string;
  resources: Resources;
  until: number;
  /** The member's announced free resources when the hold was first applied. */
  seen?: string;
}

export interface Decision {
  policy: string;
  snapshot: NodeSnapshot[];
  result: RankResult;
}

export class Placer {
  readonly #o: PlacerOptions;
  readonly #workers = new Map<string, Promise<WorkerPolicy>>();
  /** What this node has offered and the members' announcements may not show yet. */
  readonly #holds = new Set<Hold>();
  /** Placements decided so far (round-robin's turn); dry runs do not count. */
  #sequence = 0;

  constructor(o: PlacerOptions) {
    this.#o = o;
  }

  /**
   * Counts `resources` against `nodeId`'s free ones in this node's decisions, so jobs
   * placed at once do not all go to the member that looked best before any of them. The
   * returned function drops the hold (the offer was refused); else it lapses by itself.
   */
  hold(nodeId: string, resources: Resources): () => void {
    const h: Hold = { nodeId, resources, until: this.#o.now() + this.#o.holdMs };
    this.#holds.add(h);
    return () => this.#holds.delete(h);
  }

  /** Ranks the members for `job` (a placement: round-robin takes its next turn). */
  decide(job: JobRequest, policyName?: string): Promise<Decision> {
    return this.#decide(job, policyName, this.#sequence++);
  }

  async #decide(
    job: JobRequest,
    policyName: string | undefined,
    sequence: number,
  ): Promise<Decision> {
    const plain = buildSnapshot(this.#o.members(), this.#o.rtt, job.near ?? this.#o.selfId);
    const held = this.#held(plain);
    const d = await this.#rank(job, policyName, sequence, held);
    // Holds steer, they never refuse: what only they rule out is still worth an offer.
    return d.result.ranked.length === 0 && held !== plain
      ? await this.#rank(job, policyName, sequence, plain)
      : d;
  }

  async #rank(
    job: JobRequest,
    policyName: string | undefined,
    sequence: number,
    snapshot: NodeSnapshot[],
  ): Promise<Decision> {
    const name = policyName || this.#o.defaultPolicy;
    const ctx: PolicyContext = {
      settings: this.#o.settings,
      sequence,
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
    const d = await this.#decide(job, policyName, this.#sequence);
    return { policy: d.policy, ...explain(d.result) };
  }

  /** The snapshot less what is held on each member. */
  #held(snapshot: NodeSnapshot[]): NodeSnapshot[] {
    if (this.#holds.size === 0) return snapshot;
    const now = this.#o.now();
    const free = new Map(snapshot.map((n) => [n.id, JSON.stringify(n.free)]));
    const held = new Map<string, Resources>();
    for (const h of this.#holds) {
      // Lapsed, or the member has announced since: its free resources say it now.
      h.seen ??= free.get(h.nodeId);
      if (h.until <= now || (h.seen !== undefined && free.get(h.nodeId) !== h.seen)) {
        this.#holds.delete(h);
        continue;
      }
      const t = held.get(h.nodeId) ?? { cpu: 0, memBytes: 0, gpus: 0 };
      held.set(h.nodeId, {
        cpu: t.cpu + h.resources.cpu,
        memBytes: t.memBytes + h.resources.memBytes,
        gpus: t.gpus + h.resources.gpus,
      });
    }
    return snapshot.map((n) => {
      const h = held.get(n.id);
      if (!h) return n;
      return {
        ...n,
        free: {
          cpu: Math.max(0, n.free.cpu - h.cpu),
          memBytes: Math.max(0, n.free.memBytes - h.memBytes),
          gpus: Math.max(0, n.free.gpus - h.gpus),
        },
      };
    });
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
