// 1,000 members start within one second, each joining through one that started
// before it; every one of them must come to see all 1,000 alive.

import assert from "node:assert/strict";
import { MemberState } from "../../core/membership/member.ts";
import { SimCluster } from "../../sim/cluster.ts";
import { profileTimings } from "../../sim/scenarios.ts";

Deno.test("1,000 nodes converge: every node sees all 1,000 alive", () => {
  const cluster = new SimCluster({ nodes: 1_000, seed: 1, timings: profileTimings("lan") });
  cluster.startAll(1_000);
  const took = cluster.scheduler.runUntil(
    () => cluster.running().length === 1_000 && cluster.converged(),
    120_000,
    500,
  );
  assert.ok(took !== undefined, "converged within 2 simulated minutes");
  for (const n of cluster.nodes) {
    assert.equal(n.swim!.count(MemberState.Alive), 1_000, n.id);
  }
  console.log(`converged after ${took} simulated ms`);
});
