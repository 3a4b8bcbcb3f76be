import assert from "node:assert/strict";
import { rank } from "../../core/scheduler/pipeline.ts";
import { fit, plugin } from "../../schedulers/best_fit.ts";
import { ctx, GiB, ids, job, nodes } from "../core/scheduler/_nodes.ts";

Deno.test("best-fit: the node the job fills most comes first", () => {
  const snapshot = nodes(
    { id: "a-big", capacity: { cpu: 64, memBytes: 256 * GiB } },
    { id: "b-mid", capacity: { cpu: 8, memBytes: 16 * GiB } },
    { id: "c-small", capacity: { cpu: 4, memBytes: 8 * GiB } },
    {
      id: "d-exact",
      capacity: { cpu: 8, memBytes: 16 * GiB },
      free: { cpu: 2, memBytes: 2 * GiB },
    },
  );
  const r = rank(job({ cpu: 2, memBytes: 2 * GiB }), snapshot, plugin, ctx());
  assert.deepEqual(ids(r.ranked), ["d-exact", "c-small", "b-mid", "a-big"]);
  assert.equal(r.ranked[0].score, 1, "a job that fills the node exactly fits perfectly");
  // Nothing placed on an idle node: 1/3 without GPUs (none wasted), 0 with idle GPUs.
  assert.ok(Math.abs(fit(job({ cpu: 0, memBytes: 0 }), snapshot[0]) - 1 / 3) < 1e-12);
  assert.equal(fit(job({ cpu: 0, memBytes: 0 }), nodes({ id: "g", capacity: { gpus: 1 } })[0]), 0);
});

Deno.test("best-fit: a job without GPUs keeps off a node whose GPUs are idle", () => {
  const snapshot = nodes(
    { id: "a-gpu", capacity: { gpus: 2 }, gpuModels: ["RTX 4090"] },
    { id: "b-cpu" },
    { id: "c-gpu-busy", capacity: { gpus: 2 }, free: { gpus: 0 } },
  );
  assert.deepEqual(ids(rank(job(), snapshot, plugin, ctx()).ranked), [
    "b-cpu",
    "c-gpu-busy",
    "a-gpu",
  ]);
  // A GPU job fills the GPU node: it goes where one GPU is left rather than two.
  const gpuNodes = nodes(
    { id: "a-two", capacity: { gpus: 2 } },
    { id: "b-one-left", capacity: { gpus: 2 }, free: { gpus: 1 } },
  );
  assert.deepEqual(ids(rank(job({ gpus: 1 }), gpuNodes, plugin, ctx()).ranked), [
    "b-one-left",
    "a-two",
  ]);
});
