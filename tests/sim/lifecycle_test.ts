import assert from "node:assert/strict";
import { MemberState } from "../../core/membership/member.ts";
import { SimCluster } from "../../sim/cluster.ts";
import { profileTimings } from "../../sim/scenarios.ts";

function converged(nodes: number, seed: number) {
  const c = new SimCluster({ nodes, seed, timings: profileTimings("lan") });
  c.startAll();
  const took = c.scheduler.runUntil(() => c.running().length === nodes && c.converged(), 60_000);
  assert.ok(took !== undefined, "converged");
  return c;
}

Deno.test("a graceful leave is seen as left (not failed) by everyone", async () => {
  const c = converged(30, 3);
  const leaver = c.nodes[7];
  const done = leaver.swim!.leave();
  c.scheduler.runFor(6_000);
  await done;
  assert.equal(leaver.swim!.running, false);
  for (const n of c.running()) {
    assert.equal(n.swim!.member(leaver.id)?.state, MemberState.Left, n.id);
  }
});

Deno.test("a crashed node that restarts with empty state rejoins at a higher incarnation", () => {
  const c = converged(30, 4);
  c.kill(5);
  assert.ok(
    c.scheduler.runUntil(
      () => c.running().every((n) => c.sees(n, c.nodes[5].id, MemberState.Dead)),
      10_000,
    ),
  );
  c.restart(5);
  const back = c.scheduler.runUntil(() => c.converged() && c.running().length === 30, 30_000);
  assert.ok(back !== undefined, "everyone sees it alive again");
  assert.ok(c.nodes[5].swim!.incarnation > 1, "it refuted its own death");
});

Deno.test("metadata changes reach every member", () => {
  const c = converged(50, 5);
  c.nodes[9].swim!.setMeta({ class: "Laptop", load: { v: 2, battery: 35 } });
  const seen = () =>
    c.running().every((n) => (n.swim!.member(c.nodes[9].id)?.meta.load as { v: number })?.v === 2);
  assert.ok(c.scheduler.runUntil(seen, 10_000) !== undefined);
});

Deno.test("network coordinates come to estimate the simulated round trips", () => {
  const c = converged(30, 6);
  c.scheduler.runFor(120_000);
  const errors: number[] = [];
  for (const a of c.nodes.slice(0, 10)) {
    for (const b of c.nodes.slice(10, 20)) {
      const est = a.swim!.estimateRttMs(b.id);
      if (est === undefined) continue;
      const truth = 2 * c.network.delayMs(a.address, b.address);
      errors.push(Math.abs(est - truth) / truth);
    }
  }
  errors.sort((x, y) => x - y);
  assert.ok(errors.length > 50);
  const median = errors[errors.length >> 1];
  assert.ok(median < 0.25, `median relative error ${median}`);
});
