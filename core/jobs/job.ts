// A job and its life: what was asked (spec) and what happened (record).
//
//   pending ──▶ running ──▶ succeeded | failed | killed
//      ▲           └──────▶ lost      (the node stopped, or died, while it ran)
//      └── a new attempt, when its restart policy says so (owners.ts)

import type { Arch, NodeClassKind, Resources } from "../../plugins/sdk.ts";

export type JobState = "pending" | "running" | "succeeded" | "failed" | "killed" | "lost";

export const FINAL_STATES: ReadonlySet<JobState> = new Set([
  "succeeded",
  "failed",
  "killed",
  "lost",
]);

export interface JobSpec {
  name: string;
  /** Executor plugin that runs it: `exec`, `deno`, or a loaded one. */
  executor: string;
  /** The executor's part, checked by its `validate`. */
  task: Record<string, unknown>;
  resources: Resources;
  /** 0 means none. */
  timeoutMs: number;
  /** Where it may go and how to choose (`herd run`'s placement flags). */
  placement?: Placement;
  /** What happens after it ends or its node dies. Absent: on-failure, 3 attempts. */
  restart?: Restart;
  /** The replica set it belongs to (`--replicas`): owned together, spread by `spread`. */
  group?: string;
  /** At most one replica of the group per node. */
  spread?: boolean;
  /** Copied to the next attempt's node by `herd migrate`. */
  checkpointDir?: string;
  /** Set by `herd apply`: the declared job's name and a digest of its declaration. */
  applied?: { name: string; digest: string };
}

export interface Placement {
  policy?: string;
  arch?: Arch;
  class?: NodeClassKind;
  labels?: Record<string, string>;
  gpuModel?: string;
  gpuMemBytes?: number;
  gpuComputeCapability?: number;
  allowLowBattery?: boolean;
  allowHot?: boolean;
  near?: string;
  /** Never on a node running a job (or replica set) of one of these names. */
  antiAffinity?: string[];
}

export type RestartPolicy = "never" | "on-failure" | "always";

export interface Restart {
  /**
   * never: one attempt, a dead node's job is lost; on-failure: again after a failure or
   * a dead node; always: again after any end (a service), with backoff.
   */
  policy: RestartPolicy;
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Wait before a restart after a failure; doubles each time, up to 60 s. */
  backoffMs: number;
}

export const DEFAULT_RESTART: Restart = { policy: "on-failure", maxAttempts: 3, backoffMs: 1_000 };

/** What a running job holds of its node. */
export interface Reservation {
  /** Thousandths of a CPU, so sums are exact. */
  cpuMilli: number;
  memBytes: number;
  /** GPU indices, exported to the job as CUDA_VISIBLE_DEVICES. */
  gpus: number[];
}

export interface JobRecord {
  id: string;
  spec: JobSpec;
  state: JobState;
  nodeId: string;
  attempt: number;
  submittedAt: number;
  startedAt?: number;
  finishedAt?: number;
  exitCode?: number;
  signal?: string;
  /** Why it failed, was killed or was lost; for the user. */
  reason?: string;
  /** A `deno` function's return value. */
  result?: unknown;
  reservation: Reservation;
  /** Output bytes written, and of those the oldest dropped from the kept tail. */
  logBytes: number;
  logDroppedBytes: number;
  /** The node it was submitted on. */
  origin?: string;
  /** Why its node was chosen (policy, score, candidates), for `herd ps`. */
  why?: string;
  /** Owners' version of the record: the higher one wins when replicas disagree. */
  rev?: number;
  /** Earlier attempts: where each ran and how it ended. */
  history?: AttemptRecord[];
  /** Not before this time (ms since the epoch): a restart's backoff. */
  notBefore?: number;
}

export interface AttemptRecord {
  attempt: number;
  nodeId: string;
  state: JobState;
  reason?: string;
  exitCode?: number;
  finishedAt?: number;
}

export function isFinal(state: JobState): boolean {
  return FINAL_STATES.has(state);
}
