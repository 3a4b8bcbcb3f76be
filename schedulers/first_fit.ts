// first-fit: the first feasible node in snapshot order (node id order). Predictable and
// cheap; it fills the lowest ids first.

import type { SchedulingPolicy } from "../plugins/sdk.ts";

export const plugin = {
  kind: "scheduling-policy",
  name: "first-fit",
  sdk: 1,
  description: "The first feasible node in node id order.",
  score: (_job, node) => -node.ordinal,
} satisfies SchedulingPolicy;
