// A job and its life: what was asked (spec) and what happened (record).
//
//   running ──▶ succeeded | failed | killed
//      └──────▶ lost      (the node stopped, or died, while it ran)

import type { Resources } from "../../plugins/sdk.ts";

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
}

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
}

export function isFinal(state: JobState): boolean {
  return FINAL_STATES.has(state);
}
