import assert from "node:assert/strict";
import {
  archFilter,
  classFilter,
  compileFilters,
  FILTERS,
  gpuFilter,
  labelsFilter,
  powerFilter,
  resourcesFilter,
  spreadFilter,
} from "../../../core/scheduler/filters.ts";
import { seededRng } from "../../../core/membership/rng.ts";
import type { JobRequest, NodeSnapshot } from "../../../plugins/sdk.ts";
import { ctx, GiB, job, node } from "./_nodes.ts";

Deno.test("resources: free CPUs, then memory, then GPUs, each with what is free", () => {
  const n = node({
    id: "a",
    free: { cpu: 0.5, memBytes: 2 * GiB, gpus: 1 },
    capacity: { gpus: 2 },
  });
  assert.equal(resourcesFilter(job({ cpu: 0.5, memBytes: 2 * GiB, gpus: 1 }), n), undefined);
  assert.equal(resourcesFilter(job({ cpu: 2 }), n), "needs 2 CPUs; 0.5 free");
  assert.equal(
    resourcesFilter(job({ cpu: 0.5, memBytes: 3 * GiB }), n),
    "needs 3 GiB of memory; 2 GiB free",
  );
  assert.equal(resourcesFilter(job({ cpu: 0.5, gpus: 2 }), n), "needs 2 GPUs; 1 free");
});

Deno.test("arch and class: the node must be what the job names", () => {
  const pi = node({ id: "pi", arch: "aarch64", class: "Edge" });
  assert.equal(archFilter(job(), pi), undefined);
  assert.equal(archFilter(job({}, { arch: "aarch64" }), pi), undefined);
  assert.equal(archFilter(job({}, { arch: "x86_64" }), pi), "needs x86_64; the node is aarch64");
  assert.equal(classFilter(job({}, { class: "Edge" }), pi), undefined);
  assert.equal(
    classFilter(job({}, { class: "DataCenter" }), pi),
    "needs class DataCenter; the node is Edge",
  );
});

Deno.test("labels: every key=value of the selector, a missing key said so", () => {
  const n = node({ id: "a", labels: { zone: "lab", tier: "batch" } });
  assert.equal(labelsFilter(job({}, { labels: { zone: "lab" } }), n), undefined);
  assert.equal(labelsFilter(job({}, { labels: { zone: "lab", tier: "batch" } }), n), undefined);
  assert.equal(
    labelsFilter(job({}, { labels: { zone: "lab", tier: "web" } }), n),
    "needs label tier=web; the node has tier=batch",
  );
  assert.equal(
    labelsFilter(job({}, { labels: { rack: "r1" } }), n),
    "needs label rack=r1; the node has no rack",
  );
});

Deno.test("gpu: count, model (substring, any case), memory per GPU, compute capability", () => {
  const n = node({
    id: "g",
    capacity: { gpus: 2 },
    gpuModels: ["NVIDIA GeForce RTX 4090"],
    gpuMemBytes: 24 * GiB,
    gpuComputeCapability: 8.9,
  });
  const cpuOnly = node({ id: "c" });
  assert.equal(gpuFilter(job({ gpus: 2 }), n), undefined);
  assert.equal(gpuFilter(job({ gpus: 3 }), n), "needs 3 GPUs; the node has 2");
  assert.equal(gpuFilter(job({ gpus: 1 }), cpuOnly), "needs 1 GPU; the node has none");
  assert.equal(gpuFilter(job({ gpus: 1 }, { gpuModel: "rtx 40" }), n), undefined);
  assert.equal(
    gpuFilter(job({ gpus: 1 }, { gpuModel: "A100" }), n),
    'needs a GPU matching "A100"; the node has NVIDIA GeForce RTX 4090',
  );
  assert.equal(
    gpuFilter(job({}, { gpuModel: "A100" }), cpuOnly),
    'needs a GPU matching "A100"; the node has none',
  );
  assert.equal(gpuFilter(job({ gpus: 1 }, { gpuMemBytes: 24 * GiB }), n), undefined);
  assert.equal(
    gpuFilter(job({ gpus: 1 }, { gpuMemBytes: 40 * GiB }), n),
    "needs 40 GiB per GPU; the node's has 24 GiB",
  );
  assert.equal(gpuFilter(job({ gpus: 1 }, { gpuComputeCapability: 8.9 }), n), undefined);
  assert.equal(
    gpuFilter(job({ gpus: 1 }, { gpuComputeCapability: 9.0 }), n),
    "needs compute capability 9.0; the node has 8.9",
  );
});

Deno.test("power: low battery and heat refuse unless the job allows them; thresholds from settings", () => {
  const low = node({ id: "l", class: "Laptop", onBattery: true, batteryPercent: 15 });
  const charging = node({ id: "c", class: "Laptop", onBattery: false, batteryPercent: 5 });
  const hot = node({ id: "h", temperatureC: 86 });
  const c = ctx();
  assert.equal(
    powerFilter(job(), low, c),
    "on battery at 15 %; needs 20 % (or allowLowBattery)",
  );
  assert.equal(powerFilter(job({}, { allowLowBattery: true }), low, c), undefined);
  assert.equal(powerFilter(job(), low, ctx({ minBattery: 10 })), undefined);
  assert.equal(powerFilter(job(), charging, c), undefined, "on mains, the level does not matter");
  assert.equal(powerFilter(job(), hot, c), "at 86 °C; the limit is 80 °C (or allowHot)");
  assert.equal(powerFilter(job({}, { allowHot: true }), hot, c), undefined);
  assert.equal(powerFilter(job(), hot, ctx({ maxTemperature: 90 })), undefined);
  assert.equal(powerFilter(job(), node({ id: "u", onBattery: true }), c), undefined);
  // Without settings, the config's defaults.
  assert.match(powerFilter(job(), low, { settings: {}, sequence: 0, nodeCount: 1 })!, /20 %/);
});

Deno.test("spread: a node that holds a replica is not chosen again", () => {
  const a = node({ id: "a" });
  assert.equal(spreadFilter(job({}, { spreadAvoid: ["b"] }), a), undefined);
  assert.equal(
    spreadFilter(job({}, { spreadAvoid: ["b", "a"] }), a),
    "already holds a replica of the job",
  );
});

Deno.test("the compiled filters agree with the filters' reasons, over a random mix", () => {
  const rng = seededRng(7);
  const pick = <T>(xs: readonly T[]) => xs[rng.int(xs.length)];
  const snapshot: NodeSnapshot[] = [];
  for (let i = 0; i < 400; i++) {
    const gpus = pick([0, 0, 1, 2, 8]);
    snapshot.push(node({
      id: `n${i}`,
      arch: pick(["x86_64", "aarch64", "arm"] as const),
      class: pick(["DataCenter", "Workstation", "Laptop", "Edge"] as const),
      labels: pick<Record<string, string>>([{}, { zone: "lab" }, {
        zone: "office",
        tier: "batch",
      }]),
      capacity: { cpu: pick([4, 8, 64]), memBytes: pick([4, 16, 256]) * GiB, gpus },
      free: { cpu: rng.int(9), memBytes: rng.int(17) * GiB, gpus: rng.int(gpus + 1) },
      gpuModels: gpus ? [pick(["NVIDIA A100", "RTX 4090", "Orin"])] : [],
      gpuMemBytes: gpus ? pick([8, 24, 80]) * GiB : 0,
      gpuComputeCapability: gpus ? pick([7.5, 8.0, 8.9]) : 0,
      onBattery: rng.float() < 0.3,
      batteryPercent: rng.float() < 0.8 ? rng.int(101) : undefined,
      temperatureC: rng.float() < 0.8 ? 40 + rng.int(50) : undefined,
    }));
  }
  const jobs: JobRequest[] = [
    job(),
    job({ cpu: 4, memBytes: 8 * GiB }, { arch: "aarch64", labels: { zone: "lab" } }),
    job({ gpus: 1 }, { gpuModel: "a100", gpuMemBytes: 40 * GiB, gpuComputeCapability: 8.0 }),
    job({}, { gpuModel: "orin" }),
    job({}, { class: "Edge", spreadAvoid: ["n1", "n2", "n3"], allowHot: true }),
    job({}, { spreadAvoid: ["n4"], avoidNodes: { n4: "db", n5: "db", n6: "cache" } }),
    job({}, { allowLowBattery: true, allowHot: true, labels: { zone: "office", tier: "batch" } }),
  ];
  const c = ctx({ minBattery: 30, maxTemperature: 70 });
  const seen = new Set<string>();
  for (const j of jobs) {
    const first = compileFilters(j, c);
    for (const n of snapshot) {
      const want = FILTERS.findIndex((f) => f.check(j, n, c) !== undefined);
      assert.equal(first(n), want, `${n.id}: ${FILTERS[want]?.check(j, n, c)}`);
      if (want >= 0) seen.add(FILTERS[want].name);
    }
  }
  assert.deepEqual(
    [...seen].sort(),
    ["anti-affinity", "arch", "class", "gpu", "labels", "power", "resources", "spread"],
    "the mix trips every filter",
  );
});
