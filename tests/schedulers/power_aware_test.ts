import assert from "node:assert/strict";
import { rank } from "../../core/scheduler/pipeline.ts";
import { plugin } from "../../schedulers/power_aware.ts";
import { ctx, GiB, ids, job, nodes } from "../core/scheduler/_nodes.ts";

Deno.test("power-aware: mains before any battery, then the fuller battery", () => {
  const snapshot = nodes(
    { id: "a-full-battery", class: "Edge", onBattery: true, batteryPercent: 100, temperatureC: 30 },
    { id: "b-half-battery", class: "Laptop", onBattery: true, batteryPercent: 50 },
    { id: "c-warm-mains", class: "DataCenter", temperatureC: 78 },
    { id: "d-battery-90", class: "Laptop", onBattery: true, batteryPercent: 90 },
  );
  assert.deepEqual(ids(rank(job(), snapshot, plugin, ctx()).ranked), [
    "c-warm-mains",
    "a-full-battery",
    "d-battery-90",
    "b-half-battery",
  ]);
});

Deno.test("power-aware: cooler first; a small job on the most frugal class, a large one not", () => {
  const cool = nodes({ id: "a-hot", temperatureC: 70 }, { id: "b-cool", temperatureC: 40 });
  assert.deepEqual(ids(rank(job(), cool, plugin, ctx()).ranked), ["b-cool", "a-hot"]);
  const classes = nodes(
    { id: "a-dc", class: "DataCenter", capacity: { cpu: 32, memBytes: 64 * GiB } },
    { id: "b-ws", class: "Workstation", capacity: { cpu: 32, memBytes: 64 * GiB } },
    { id: "c-laptop", class: "Laptop", capacity: { cpu: 32, memBytes: 64 * GiB } },
    { id: "d-edge", class: "Edge", capacity: { cpu: 32, memBytes: 64 * GiB } },
  );
  assert.deepEqual(
    ids(rank(job({ cpu: 0.5, memBytes: GiB / 2 }), classes, plugin, ctx()).ranked),
    ["d-edge", "c-laptop", "b-ws", "a-dc"],
  );
  // A large job saves nothing on a frugal machine: equal scores, node id order.
  assert.deepEqual(
    ids(rank(job({ cpu: 8, memBytes: 8 * GiB }), classes, plugin, ctx()).ranked),
    ["a-dc", "b-ws", "c-laptop", "d-edge"],
  );
});
