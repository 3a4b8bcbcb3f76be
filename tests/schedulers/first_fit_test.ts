import assert from "node:assert/strict";
import { rank } from "../../core/scheduler/pipeline.ts";
import { plugin } from "../../schedulers/first_fit.ts";
import { ctx, GiB, ids, job, nodes } from "../core/scheduler/_nodes.ts";

Deno.test("first-fit: node id order, whatever the fit, skipping nodes that cannot", () => {
  const snapshot = nodes(
    { id: "n3", capacity: { cpu: 2, memBytes: 2 * GiB } },
    { id: "n1", capacity: { cpu: 64, memBytes: 256 * GiB } },
    { id: "n4" },
    { id: "n2", free: { cpu: 0 } },
  );
  const r = rank(job(), snapshot, plugin, ctx());
  assert.deepEqual(ids(r.ranked), ["n1", "n3", "n4"]);
  assert.deepEqual(ids(r.rejected), ["n2"]);
});
