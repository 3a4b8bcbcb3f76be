// round-robin: placement number s starts at the node with ordinal s mod N and goes on in
// id order, wrapping; a node that cannot take the job passes its turn to the next one.
// The rotation is the placer's count of placements (ctx.sequence): no state here.

import type { SchedulingPolicy } from "../plugins/sdk.ts";

export const plugin = {
  kind: "scheduling-policy",
  name: "round-robin",
  sdk: 1,
  description: "Each placement starts one node further along, in node id order.",
  score(_job, node, ctx) {
    const n = ctx.nodeCount > 0 ? ctx.nodeCount : 1;
    const start = ctx.sequence % n;
    // Distance from this placement's starting node, going forward: 0 is best.
    return -((((node.ordinal - start) % n) + n) % n);
  },
} satisfies SchedulingPolicy;
