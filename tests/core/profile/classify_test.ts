import assert from "node:assert/strict";
import { classify, classLabel, isDataCenterGpu } from "../../../core/profile/classify.ts";
import { collectProfile } from "../../../core/profile/profile.ts";
import type { GpuInfo, HardwareProfile, NodeClass } from "../../../core/profile/types.ts";
import { type FixtureName, fixtureProbe, GiB } from "./_fixtures.ts";

const expected: [FixtureName, NodeClass, string][] = [
  ["raspberry-pi-4", { kind: "Edge", deviceType: "RaspberryPi" }, "Edge (RaspberryPi)"],
  ["jetson-nano", { kind: "Edge", deviceType: "Jetson" }, "Edge (Jetson)"],
  ["laptop-battery", { kind: "Laptop", batteryLevel: 35 }, "Laptop (battery 35%)"],
  ["workstation-rtx", { kind: "Workstation", gpuCapable: true }, "Workstation (GPU)"],
  [
    "server-8xh100",
    { kind: "DataCenter", gpus: 8, bandwidthMbps: 100_000 },
    "DataCenter (8 GPUs, 100 Gbit/s)",
  ],
  ["intel-nuc", { kind: "Edge", deviceType: "NUC" }, "Edge (NUC)"],
  ["cpu-only-vm", { kind: "Workstation", gpuCapable: false }, "Workstation (no GPU)"],
];

for (const [name, cls, label] of expected) {
  Deno.test(`classify ${name}: ${label}`, async () => {
    const c = classify(await collectProfile(await fixtureProbe(name)));
    assert.deepEqual(c, cls);
    assert.equal(classLabel(c), label);
  });
}

/** A plain x86 desktop; each test changes what its rule looks at. */
function base(): HardwareProfile {
  return {
    schema: 1,
    hostname: "h",
    os: "Linux",
    cpu: { model: "x", vendor: "Intel", arch: "x86_64", cores: 8, threads: 16, mhz: 4000 },
    memory: { totalBytes: 32 * GiB, availableBytes: 30 * GiB },
    gpus: [],
    storage: [],
    network: [],
    power: { source: "ac", hasBattery: false },
    device: {},
  };
}

function gpu(model: string, schedulable = true): GpuInfo {
  return {
    index: 0,
    vendor: "nvidia",
    model,
    memoryBytes: 16 * GiB,
    integrated: false,
    schedulable,
  };
}

Deno.test("rule 1 before 2: a Pi with a UPS battery HAT is still a Pi", () => {
  const p = base();
  p.device.model = "Raspberry Pi 5 Model B Rev 1.0";
  p.power = { source: "battery", hasBattery: true, batteryPercent: 60 };
  assert.deepEqual(classify(p), { kind: "Edge", deviceType: "RaspberryPi" });
});

Deno.test("rule 2: a portable chassis without a readable battery is a Laptop at 0", () => {
  const p = base();
  p.device.chassis = "Convertible";
  assert.deepEqual(classify(p), { kind: "Laptop", batteryLevel: 0 });
});

Deno.test("rule 3: each DataCenter trigger", () => {
  const twoGpus = base();
  twoGpus.gpus = [gpu("NVIDIA GeForce RTX 3090"), gpu("NVIDIA GeForce RTX 3090")];
  assert.deepEqual(classify(twoGpus), { kind: "DataCenter", gpus: 2, bandwidthMbps: 0 });

  const t4 = base();
  t4.gpus = [gpu("Tesla T4")];
  assert.equal(classify(t4).kind, "DataCenter");

  const rack = base();
  rack.device.chassis = "Rack Mount Chassis";
  assert.deepEqual(classify(rack), { kind: "DataCenter", gpus: 0, bandwidthMbps: 0 });
  assert.equal(classLabel(classify(rack)), "DataCenter (no GPU)");

  const big = base();
  big.cpu.threads = 64;
  big.memory.totalBytes = 125.7 * GiB; // 128 GiB installed
  assert.equal(classify(big).kind, "DataCenter");
  big.memory.totalBytes = 64 * GiB;
  assert.equal(classify(big).kind, "Workstation");
});

Deno.test("rule 3: bandwidth is the fastest up Ethernet link, not a veth or a down port", () => {
  const p = base();
  p.device.chassis = "Blade";
  p.network = [
    { name: "eno1", kind: "ethernet", up: true, speedMbps: 25_000, addresses: [] },
    { name: "eno2", kind: "ethernet", up: false, speedMbps: 100_000, addresses: [] },
    { name: "br0", kind: "other", up: true, speedMbps: 40_000, addresses: [] },
  ];
  const c = classify(p);
  assert.deepEqual(c, { kind: "DataCenter", gpus: 0, bandwidthMbps: 25_000 });
  assert.equal(classLabel(c), "DataCenter (no GPU, 25 Gbit/s)");
  assert.equal(
    classLabel({ kind: "DataCenter", gpus: 1, bandwidthMbps: 2500 }),
    "DataCenter (1 GPU, 2.5 Gbit/s)",
  );
  assert.equal(
    classLabel({ kind: "DataCenter", gpus: 2, bandwidthMbps: 100 }),
    "DataCenter (2 GPUs, 100 Mbit/s)",
  );
});

Deno.test("rule 4: small ARM and tiny x86 machines are Edge Other", () => {
  const arm = base();
  arm.cpu.arch = "aarch64";
  arm.memory.totalBytes = 7.6 * GiB;
  assert.deepEqual(classify(arm), { kind: "Edge", deviceType: "Other" });
  arm.memory.totalBytes = 32 * GiB;
  assert.equal(classify(arm).kind, "Workstation", "an ARM box with 32 GiB is not edge");

  const tiny = base();
  tiny.cpu.threads = 2;
  tiny.memory.totalBytes = 2 * GiB;
  assert.deepEqual(classify(tiny), { kind: "Edge", deviceType: "Other" });

  const gateway = base();
  gateway.device.chassis = "IoT Gateway";
  assert.deepEqual(classify(gateway), { kind: "Edge", deviceType: "Other" });
});

Deno.test("rule 5: one consumer GPU makes a GPU-capable Workstation; an iGPU does not", () => {
  const p = base();
  p.gpus = [gpu("Intel Iris Xe", false)];
  assert.deepEqual(classify(p), { kind: "Workstation", gpuCapable: false });
  p.gpus.push(gpu("NVIDIA GeForce RTX 4070"));
  assert.deepEqual(classify(p), { kind: "Workstation", gpuCapable: true });
});

Deno.test("data-center GPU names", () => {
  for (
    const name of [
      "NVIDIA H100 80GB HBM3",
      "NVIDIA A100-SXM4-40GB",
      "NVIDIA A10G",
      "NVIDIA L4",
      "NVIDIA L40S",
      "Tesla V100-PCIE-16GB",
      "Tesla T4",
      "AMD Instinct MI300X",
      "Aldebaran/MI200 [Instinct MI250X]",
    ]
  ) assert.ok(isDataCenterGpu(name), name);
  for (
    const name of [
      "NVIDIA GeForce RTX 4090",
      "NVIDIA RTX A1000",
      "NVIDIA RTX A4000",
      "Quadro T400",
      "NVIDIA Tegra X1",
      "Navi 31 [Radeon RX 7900 XT/7900 XTX/7900M]",
    ]
  ) assert.equal(isDataCenterGpu(name), false, name);
});

Deno.test("classify is pure", async () => {
  const p = await collectProfile(await fixtureProbe("server-8xh100"));
  const before = structuredClone(p);
  classify(p);
  assert.deepEqual(p, before);
});
