import assert from "node:assert/strict";
import { buildMeta, type MetaInput, readMeta } from "../../../core/mesh/meta.ts";
import { META_MAX_BYTES, metaBytes } from "../../../core/membership/member.ts";
import { buildSnapshot, type SnapshotMember } from "../../../core/scheduler/snapshot.ts";
import type { HardwareProfile, NodeClass } from "../../../core/profile/types.ts";
import { GiB } from "./_nodes.ts";

function profile(over: Partial<HardwareProfile> = {}): HardwareProfile {
  return {
    schema: 1,
    hostname: "h",
    os: "linux",
    cpu: { model: "cpu", vendor: "v", arch: "aarch64", cores: 6, threads: 6, mhz: 2000 },
    memory: { totalBytes: 8 * GiB, availableBytes: 6 * GiB },
    gpus: [],
    storage: [],
    network: [],
    power: { source: "ac", hasBattery: false },
    device: {},
    ...over,
  };
}

function meta(
  name: string,
  nodeClass: NodeClass,
  p: HardwareProfile,
  over: Partial<MetaInput> = {},
) {
  return readMeta(buildMeta({
    name,
    nodeClass,
    profile: p,
    labels: { zone: "lab" },
    capacity: { cpu: p.cpu.threads, memBytes: p.memory.totalBytes, gpus: p.gpus.length },
    load: { cpuFree: 4, memFree: 4 * GiB, gpuFree: p.gpus.length, temperatureC: 51 },
    ca: false,
    version: "test",
    ...over,
  }));
}

const jetson = profile({
  gpus: [{
    index: 0,
    vendor: "nvidia",
    model: "Orin (nvgpu)",
    memoryBytes: 8 * GiB,
    computeCapability: "8.7",
    integrated: true,
    schedulable: true,
  }],
});

Deno.test("meta carries the GPU compute capability and the Edge device type", () => {
  const v = meta("jet", { kind: "Edge", deviceType: "Jetson" }, jetson);
  assert.equal(v.gpuComputeCapability, 8.7);
  assert.equal(v.deviceType, "Jetson");
  assert.equal(v.gpuMemBytes, 8 * GiB);
  const plain = meta("ws", { kind: "Workstation", gpuCapable: false }, profile());
  assert.equal(plain.gpuComputeCapability, undefined);
  assert.equal(plain.deviceType, undefined);
  // Highest of several; a GPU without one (AMD) does not count.
  const multi = profile({
    gpus: [
      { ...jetson.gpus[0], index: 0, computeCapability: "7.5", integrated: false },
      { ...jetson.gpus[0], index: 1, computeCapability: "8.9", integrated: false },
      { ...jetson.gpus[0], index: 2, vendor: "amd", computeCapability: undefined },
    ],
  });
  assert.equal(
    meta("m", { kind: "Workstation", gpuCapable: true }, multi).gpuComputeCapability,
    8.9,
  );
});

Deno.test("meta with cc and dt still fits one datagram, trimming labels first", () => {
  const labels: Record<string, string> = {};
  for (let i = 0; i < 40; i++) labels[`label-${i}`] = "x".repeat(20);
  const m = buildMeta({
    name: "n".repeat(63),
    nodeClass: { kind: "Edge", deviceType: "Jetson" },
    profile: jetson,
    labels,
    capacity: { cpu: 6, memBytes: 8 * GiB, gpus: 1 },
    load: { cpuFree: 6, memFree: 8 * GiB, gpuFree: 1 },
    ca: true,
    version: "test",
  });
  assert.ok(metaBytes(m) <= META_MAX_BYTES);
  assert.equal(m.lb, undefined);
  assert.equal(m.cc, 8.7);
  assert.equal(m.dt, "Jetson");
});

Deno.test("snapshot: alive members only, id order with ordinals, RTT from the reference", () => {
  const ws = meta("ws", { kind: "Workstation", gpuCapable: false }, profile());
  const jet = meta("jet", { kind: "Edge", deviceType: "Jetson" }, jetson, {
    load: { cpuFree: 2, memFree: 1 * GiB, gpuFree: 1, onBattery: true, batteryPercent: 40 },
  });
  const members: SnapshotMember[] = [
    { id: "zz", state: "alive", meta: ws },
    { id: "bb", state: "alive", meta: jet },
    { id: "cc", state: "suspect", meta: ws },
    { id: "dd", state: "dead", meta: ws },
    { id: "aa", state: "alive", meta: ws },
    { id: "ee", state: "alive", meta: readMeta({}) }, // no meta yet
  ];
  const rtts: Record<string, number> = { bb: 3.5 };
  const calls: string[] = [];
  const snap = buildSnapshot(members, (from, to) => {
    calls.push(`${from}->${to}`);
    return rtts[to];
  }, "aa");
  assert.deepEqual(snap.map((n) => [n.id, n.ordinal]), [["aa", 0], ["bb", 1], ["zz", 2]]);
  assert.deepEqual(snap.map((n) => n.rttMs), [0, 3.5, undefined]);
  assert.deepEqual(calls.sort(), ["aa->bb", "aa->zz"]);
  const j = snap[1];
  assert.equal(j.name, "jet");
  assert.equal(j.class, "Edge");
  assert.equal(j.deviceType, "Jetson");
  assert.equal(j.arch, "aarch64");
  assert.deepEqual(j.capacity, { cpu: 6, memBytes: 8 * GiB, gpus: 1 });
  assert.deepEqual(j.free, { cpu: 2, memBytes: 1 * GiB, gpus: 1 });
  assert.deepEqual(j.gpuModels, ["Orin (nvgpu)"]);
  assert.equal(j.gpuComputeCapability, 8.7);
  assert.equal(j.gpuMemBytes, 8 * GiB);
  assert.equal(j.onBattery, true);
  assert.equal(j.batteryPercent, 40);
  assert.deepEqual(j.labels, { zone: "lab" });
  assert.equal(snap[0].temperatureC, 52, "51 °C, rounded to 2 °C steps by the meta");
  // One shape for every node: the same keys in the same order.
  assert.deepEqual(Object.keys(snap[0]), Object.keys(snap[1]));
});
