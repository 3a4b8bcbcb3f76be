import assert from "node:assert/strict";
import { rank } from "../../core/scheduler/pipeline.ts";
import { plugin } from "../../schedulers/cost_optimized.ts";
import { ctx, GiB, ids, job, nodes } from "../core/scheduler/_nodes.ts";

const snapshot = nodes(
  { id: "a-dc", class: "DataCenter", capacity: { cpu: 64, memBytes: 256 * GiB } },
  { id: "b-ws-big", class: "Workstation", capacity: { cpu: 32, memBytes: 64 * GiB } },
  { id: "c-laptop", class: "Laptop" },
  { id: "d-edge", class: "Edge", capacity: { cpu: 4, memBytes: 4 * GiB } },
  { id: "e-ws-small", class: "Workstation", capacity: { cpu: 4, memBytes: 8 * GiB } },
);
const order = (settings: Record<string, unknown> = {}) =>
  ids(rank(job({ cpu: 2, memBytes: 2 * GiB }), snapshot, plugin, ctx(settings)).ranked);

Deno.test("cost-optimized: the cheapest class first; equal cost by best fit", () => {
  // Defaults: Edge 0.05 < Laptop 0.3 < Workstation 0.8 < DataCenter 3.0 ($/hour).
  assert.deepEqual(order(), ["d-edge", "c-laptop", "e-ws-small", "b-ws-big", "a-dc"]);
});

Deno.test("cost-optimized: reads the cost settings", () => {
  assert.deepEqual(
    order({ costDataCenter: 0.01, costEdge: 5 }),
    ["a-dc", "c-laptop", "e-ws-small", "b-ws-big", "d-edge"],
  );
  // Every class at the same price: best fit alone decides, across classes.
  const same = { costDataCenter: 1, costWorkstation: 1, costLaptop: 1, costEdge: 1 };
  assert.deepEqual(order(same), ["d-edge", "e-ws-small", "c-laptop", "b-ws-big", "a-dc"]);
  // A tiny price difference still wins over the best fit.
  assert.deepEqual(
    order({ ...same, costDataCenter: 0.999999 })[0],
    "a-dc",
  );
});
