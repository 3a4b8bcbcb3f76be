import assert from "node:assert/strict";
import type { NodeView } from "../../../core/mesh/mesh.ts";
import { clusterPool, UNKNOWN_GPU_MODEL } from "../../../core/mesh/pool.ts";
import { poolText } from "../../../cli/pool.ts";

const GIB = 1024 ** 3;

let nextId = 0;
function node(p: Partial<NodeView> & Pick<NodeView, "name" | "class">): NodeView {
  return {
    id: `id${nextId++}`,
    address: "127.0.0.1:7946",
    state: "alive",
    incarnation: 1,
    self: false,
    changedAt: 0,
    arch: "x86_64",
    capacity: { cpu: 4, memBytes: 8 * GIB, gpus: 0 },
    labels: {},
    load: { cpuFree: 4, memFree: 8 * GIB, gpuFree: 0 },
    ca: false,
    version: "test",
    ...p,
  };
}

const cluster: NodeView[] = [
  node({
    name: "h100a",
    class: "DataCenter",
    capacity: { cpu: 64, memBytes: 1024 * GIB, gpus: 8 },
    load: { cpuFree: 60.5, memFree: 1000 * GIB, gpuFree: 6, temperatureC: 70 },
    gpuModel: "NVIDIA H100 80GB HBM3",
    gpuMemBytes: 80 * GIB,
  }),
  node({
    name: "h100b",
    class: "DataCenter",
    state: "suspect", // may still be up: counts
    capacity: { cpu: 64, memBytes: 1024 * GIB, gpus: 8 },
    load: { cpuFree: 64, memFree: 1024 * GIB, gpuFree: 8 },
    gpuModel: "NVIDIA H100 80GB HBM3",
    gpuMemBytes: 80 * GIB,
  }),
  node({
    name: "ws",
    class: "Workstation",
    capacity: { cpu: 16, memBytes: 64 * GIB, gpus: 1 },
    load: { cpuFree: 15.1, memFree: 60 * GIB, gpuFree: 1, temperatureC: 82 },
    gpuModel: "NVIDIA GeForce RTX 4090",
    gpuMemBytes: 24 * GIB,
  }),
  node({
    name: "lap",
    class: "Laptop",
    capacity: { cpu: 8, memBytes: 16 * GIB, gpus: 0 },
    load: { cpuFree: 7.2, memFree: 12 * GIB, gpuFree: 0, onBattery: true, batteryPercent: 35 },
  }),
  node({
    name: "pi",
    class: "Edge",
    arch: "aarch64",
    deviceType: "RaspberryPi",
    load: { cpuFree: 4, memFree: 8 * GIB, gpuFree: 0, batteryPercent: 90 }, // plugged in
  }),
  // Down members: in the member counts, never in the resources.
  node({
    name: "gone",
    class: "DataCenter",
    state: "dead",
    capacity: { cpu: 128, memBytes: 2048 * GIB, gpus: 8 },
    load: { cpuFree: 128, memFree: 2048 * GIB, gpuFree: 8 },
    gpuModel: "NVIDIA A100",
  }),
  node({ name: "bye", class: "Edge", state: "left" }),
];

Deno.test("pool: members by state; down ones count there and nowhere else", () => {
  const p = clusterPool(cluster);
  assert.deepEqual(p.members, { alive: 4, suspect: 1, dead: 1, left: 1 });
  assert.equal(p.total.nodes, 5);
  assert.equal(p.classes.DataCenter.nodes, 2);
  assert.equal(p.classes.Edge.nodes, 1);
  assert.ok(!p.total.gpus.byModel.some((m) => m.model === "NVIDIA A100"), "dead node's GPUs");
});

Deno.test("pool: totals by class and in total, the total the sum of the classes", () => {
  const p = clusterPool(cluster);
  assert.deepEqual(p.classes.DataCenter.cpu, { total: 128, free: 124.5 });
  assert.deepEqual(p.classes.DataCenter.gpus.total, 16);
  assert.deepEqual(p.classes.DataCenter.gpus.free, 14);
  assert.deepEqual(p.classes.Laptop.memBytes, { total: 16 * GIB, free: 12 * GIB });
  assert.deepEqual(p.total.cpu, { total: 156, free: 150.8 });
  assert.deepEqual(p.total.gpus.total, 17);
  assert.deepEqual(p.total.gpus.free, 15);
  assert.deepEqual(p.total.arches, ["aarch64", "x86_64"]);
  assert.deepEqual(p.classes.Edge.arches, ["aarch64"]);
  const classes = Object.values(p.classes);
  for (const f of ["cpu", "memBytes", "gpus"] as const) {
    const sum = (k: "total" | "free") =>
      Math.round(classes.reduce((s, c) => s + c[f][k], 0) * 10) / 10;
    assert.equal(sum("total"), p.total[f].total, `${f} total`);
    assert.equal(sum("free"), p.total[f].free, `${f} free`);
  }
  assert.equal(classes.reduce((s, c) => s + c.nodes, 0), p.total.nodes);
});

Deno.test("pool: GPUs by model, most first, with free count and memory per GPU", () => {
  const p = clusterPool(cluster);
  assert.deepEqual(p.total.gpus.byModel, [
    { model: "NVIDIA H100 80GB HBM3", count: 16, free: 14, memBytes: 80 * GIB, nodes: 2 },
    { model: "NVIDIA GeForce RTX 4090", count: 1, free: 1, memBytes: 24 * GIB, nodes: 1 },
  ]);
  assert.deepEqual(p.classes.Workstation.gpus.byModel.map((m) => m.model), [
    "NVIDIA GeForce RTX 4090",
  ]);
  assert.deepEqual(p.classes.Edge.gpus.byModel, []);
});

Deno.test("pool: power — AC vs battery, the lowest battery on battery, the hottest", () => {
  const p = clusterPool(cluster);
  assert.deepEqual(p.total.power, {
    onAc: 4,
    onBattery: 1,
    lowestBattery: { node: "lap", percent: 35 },
    hottest: { node: "ws", celsius: 82 },
  });
  assert.deepEqual(p.classes.Edge.power, { onAc: 1, onBattery: 0 });
  assert.deepEqual(p.classes.DataCenter.power.hottest, { node: "h100a", celsius: 70 });
});

Deno.test("pool: stable shape when empty; a GPU without a model and a member without meta", () => {
  const none = clusterPool([]);
  assert.deepEqual(Object.keys(none.classes), ["DataCenter", "Workstation", "Laptop", "Edge"]);
  assert.equal(none.total.nodes, 0);
  assert.deepEqual(none.total.power, { onAc: 0, onBattery: 0 });

  const p = clusterPool([
    node({ name: "trimmed", class: "DataCenter", capacity: { cpu: 8, memBytes: GIB, gpus: 2 } }),
    // Joined, its meta not arrived yet: counted apart, so the total is still the sum.
    node({ name: "", class: "", arch: "", capacity: { cpu: 0, memBytes: 0, gpus: 0 } }),
  ]);
  assert.deepEqual(p.total.gpus.byModel, [
    { model: UNKNOWN_GPU_MODEL, count: 2, free: 0, nodes: 1 },
  ]);
  assert.equal(p.classes.unknown.nodes, 1);
  assert.equal(p.total.nodes, 2);
  assert.deepEqual(p.total.arches, ["x86_64"]);
});

Deno.test("pool: the human form — present classes, TOTAL, GPU models, power, members", () => {
  const text = poolText(clusterPool(cluster));
  const lines = text.split("\n");
  assert.match(lines[0], /^CLASS\s+NODES\s+CPU\s+MEMORY\s+GPU\s+ARCH$/);
  assert.match(text, /^DataCenter\s+2\s+124\.5\/128\s+2 TiB\/2 TiB\s+14\/16\s+x86_64$/m);
  assert.match(text, /^Edge\s+1\s+4\/4\s+8 GiB\/8 GiB\s+-\s+aarch64$/m);
  assert.match(text, /^TOTAL\s+5\s+150\.8\/156\s+.*15\/17\s+aarch64,x86_64$/m);
  assert.match(text, /^NVIDIA H100 80GB HBM3\s+14\/16\s+80 GiB\s+2$/m);
  assert.match(text, /^power: 4 on AC, 1 on battery \(lowest 35% lap\); hottest 82 °C ws$/m);
  assert.match(text, /^members: 4 alive, 1 suspect, 1 dead, 1 left$/m);

  const cpuOnly = poolText(clusterPool([node({ name: "a", class: "Edge" })]));
  assert.doesNotMatch(cpuOnly, /GPU MODEL/);
  assert.doesNotMatch(cpuOnly, /^DataCenter/m);
});
