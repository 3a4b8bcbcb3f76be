import assert from "node:assert/strict";
import { rank } from "../../core/scheduler/pipeline.ts";
import { plugin } from "../../schedulers/round_robin.ts";
import { ctx, ids, job, nodes } from "../core/scheduler/_nodes.ts";

const snapshot = nodes({ id: "d" }, { id: "b" }, { id: "a" }, { id: "c" });
const at = (sequence: number, s = snapshot) =>
  ids(rank(job(), s, plugin, ctx({}, sequence, s.length)).ranked);

Deno.test("round-robin: each placement starts one node further along, wrapping", () => {
  assert.deepEqual(at(0), ["a", "b", "c", "d"]);
  assert.deepEqual(at(1), ["b", "c", "d", "a"]);
  assert.deepEqual(at(3), ["d", "a", "b", "c"]);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((s) => at(s)[0]), [
    "a",
    "b",
    "c",
    "d",
    "a",
    "b",
    "c",
    "d",
  ]);
});

Deno.test("round-robin: a node that cannot take the job passes its turn to the next", () => {
  const busy = nodes({ id: "a" }, { id: "b", free: { cpu: 0 } }, { id: "c" }, { id: "d" });
  assert.deepEqual(at(1, busy), ["c", "d", "a"]);
  assert.deepEqual(at(5, busy), ["c", "d", "a"]);
});
