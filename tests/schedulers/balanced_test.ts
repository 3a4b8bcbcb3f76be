import assert from "node:assert/strict";
import { rank } from "../../core/scheduler/pipeline.ts";
import { plugin } from "../../schedulers/balanced.ts";
import { ctx, GiB, ids, job, nodes } from "../core/scheduler/_nodes.ts";

const ZERO = { weightFit: 0, weightLoad: 0, weightPower: 0, weightLocality: 0, weightCost: 0 };

const snapshot = nodes(
  {
    id: "a-dc-busy",
    class: "DataCenter",
    capacity: { cpu: 64, memBytes: 256 * GiB },
    free: { cpu: 8, memBytes: 32 * GiB },
    load1: 56,
    rttMs: 40,
    temperatureC: 75,
  },
  { id: "b-laptop-battery", class: "Laptop", onBattery: true, batteryPercent: 30, rttMs: 1 },
  {
    id: "c-edge-tight",
    class: "Edge",
    capacity: { cpu: 4, memBytes: 4 * GiB },
    free: { cpu: 2, memBytes: 2 * GiB },
    rttMs: 10,
    temperatureC: 45,
  },
  { id: "d-ws-idle", class: "Workstation", load1: 0, temperatureC: 40, rttMs: 10 },
);
const order = (settings: Record<string, unknown>, j = job({ cpu: 1, memBytes: GiB })) =>
  ids(rank(j, snapshot, plugin, ctx(settings)).ranked);

Deno.test("balanced: each weight alone gives its own ordering", () => {
  // The busy DataCenter has 8 of 64 CPUs free: the job fills it best, as a share.
  assert.deepEqual(order({ ...ZERO, weightFit: 1 }), [
    "a-dc-busy",
    "c-edge-tight",
    "b-laptop-battery",
    "d-ws-idle",
  ]);
  assert.deepEqual(order({ ...ZERO, weightLoad: 1 }), [
    "d-ws-idle",
    "b-laptop-battery",
    "c-edge-tight",
    "a-dc-busy",
  ]);
  assert.deepEqual(order({ ...ZERO, weightPower: 1 }), [
    "c-edge-tight",
    "d-ws-idle",
    "a-dc-busy",
    "b-laptop-battery",
  ]);
  assert.deepEqual(order({ ...ZERO, weightLocality: 1 }), [
    "b-laptop-battery",
    "c-edge-tight", // 10 ms, as d: equal, in id order
    "d-ws-idle",
    "a-dc-busy",
  ]);
  assert.deepEqual(order({ ...ZERO, weightCost: 1 }), [
    "c-edge-tight",
    "b-laptop-battery",
    "d-ws-idle",
    "a-dc-busy",
  ]);
});

Deno.test("balanced: the defaults mix them; all weights zero leaves node id order", () => {
  const scores = rank(job(), snapshot, plugin, ctx()).ranked;
  for (const s of scores) assert.ok(s.score >= 0 && s.score <= 1, `${s.node.id} in [0, 1]`);
  // The idle, cool workstation on mains first; the near, cheap laptop on a low battery
  // next; the cheapest but nearly full edge node after; the busy, hot, far, dear
  // DataCenter last.
  assert.deepEqual(ids(scores), ["d-ws-idle", "b-laptop-battery", "c-edge-tight", "a-dc-busy"]);
  assert.deepEqual(order(ZERO), ["a-dc-busy", "b-laptop-battery", "c-edge-tight", "d-ws-idle"]);
  // Weights are relative: scaling all of them changes nothing.
  const x3 = { weightFit: 3, weightLoad: 6, weightPower: 3, weightLocality: 3, weightCost: 3 };
  assert.deepEqual(order(x3), ids(scores));
});
