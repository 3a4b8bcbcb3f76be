import assert from "node:assert/strict";
import { rank } from "../../core/scheduler/pipeline.ts";
import { plugin } from "../../schedulers/locality_aware.ts";
import { ctx, ids, job, nodes } from "../core/scheduler/_nodes.ts";

Deno.test("locality-aware: shortest round trip first; no estimate after every estimate", () => {
  const snapshot = nodes(
    { id: "a-unknown" },
    { id: "b-far", rttMs: 100_000 },
    { id: "c-near", rttMs: 5 },
    { id: "d-self", rttMs: 0 },
    { id: "e-mid", rttMs: 20 },
    { id: "f-unknown" },
    { id: "g-busy", rttMs: 1, free: { cpu: 0 } },
  );
  const r = rank(job(), snapshot, plugin, ctx());
  assert.deepEqual(ids(r.ranked), ["d-self", "c-near", "e-mid", "b-far", "a-unknown", "f-unknown"]);
  assert.deepEqual(ids(r.rejected), ["g-busy"]);
});
