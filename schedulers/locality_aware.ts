// locality-aware: the node closest to the job's locality reference (the node named by
// `near`, else the submitter), by the estimated round trip the snapshot carries. Nodes
// without an estimate come after every node with one.

import type { SchedulingPolicy } from "../plugins/sdk.ts";

/** Round trip (ms) at which locality is worth half that of a node at distance 0. */
const HALF_AT_MS = 10;

export const plugin = {
  kind: "scheduling-policy",
  name: "locality-aware",
  sdk: 1,
  description: "The node with the shortest estimated round trip from the submitter (or near).",
  // In (0, 1] with an estimate, falling as the round trip grows; 0 without one.
  score: (_job, node) =>
    node.rttMs === undefined ? 0 : 1 / (1 + Math.max(0, node.rttMs) / HALF_AT_MS),
} satisfies SchedulingPolicy;
