// One placement decision (feasibility → score → select over the whole snapshot) per
// built-in policy, over synthetic clusters of 1,000 and 10,000 unlike nodes: a seeded mix
// of classes, architectures, GPUs, batteries, temperatures, labels and round trips, some
// of them unable to take the job. The goal is a p99 under 1 ms at 10,000 nodes.
//
//   deno task bench:placement [--runs 300] [--warmup 50] [--sizes 1000,10000] [--seed 1]
//
// Warm-up is --warmup decisions and at least 250 ms per policy and size; then --runs timed
// decisions, each on its own (performance.now() around one `rank` call).
//
// Each decision cycles through three jobs (a CPU job, a GPU job with a model and a compute
// capability, a small job with a label selector) and a new round-robin sequence number.

import { parseArgs } from "node:util";
import { benchArgs } from "./_args.ts";
import { seededRng } from "../core/membership/rng.ts";
import type { Rng } from "../core/membership/rng.ts";
import type { MemberView } from "../core/mesh/meta.ts";
import { rank } from "../core/scheduler/pipeline.ts";
import { defaultSchedulerSettings } from "../core/scheduler/settings.ts";
import { buildSnapshot, type SnapshotMember } from "../core/scheduler/snapshot.ts";
import { BUILTIN_PLUGINS } from "../plugins/registry.ts";
import type { JobRequest, NodeSnapshot, SchedulingPolicy } from "../plugins/sdk.ts";

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    runs: { type: "string", default: "300" },
    warmup: { type: "string", default: "50" },
    sizes: { type: "string", default: "1000,10000" },
    seed: { type: "string", default: "1" },
  },
});
const RUNS = Number(values.runs);
const WARMUP = Number(values.warmup);
const SIZES = values.sizes.split(",").map(Number);
const SEED = Number(values.seed);
if (!(RUNS >= 1) || !(WARMUP >= 0) || SIZES.some((n) => !(n >= 1)) || !Number.isFinite(SEED)) {
  console.error("usage: placement_bench.ts [--runs N] [--warmup N] [--sizes N,N] [--seed N]");
  Deno.exit(2);
}

/** Shortest warm-up per policy and size, whatever --warmup says. */
const WARMUP_MIN_MS = 250;
const GiB = 1024 ** 3;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)];

/** A member as it would come out of readMeta, for a synthetic, unlike cluster. */
function syntheticMember(rng: Rng, i: number): SnapshotMember {
  const r = rng.float();
  const kind = r < 0.15 ? "DataCenter" : r < 0.4 ? "Workstation" : r < 0.65 ? "Laptop" : "Edge";
  let arch = "x86_64", cpu = 8, mem = 16 * GiB, gpus = 0, gpuModel: string | undefined;
  let gpuMem = 0, cc = 0, deviceType: string | undefined, onBattery = false;
  let battery: number | undefined;
  switch (kind) {
    case "DataCenter":
      arch = rng.float() < 0.15 ? "aarch64" : "x86_64";
      cpu = pick(rng, [32, 64, 96, 128]);
      mem = pick(rng, [128, 256, 512]) * GiB;
      if (rng.float() < 0.5) {
        gpus = pick(rng, [4, 8]);
        [gpuModel, gpuMem, cc] = pick(
          rng,
          [
            ["NVIDIA A100-SXM4-80GB", 80 * GiB, 8.0],
            ["NVIDIA H100 80GB HBM3", 80 * GiB, 9.0],
            ["Tesla V100-SXM2-32GB", 32 * GiB, 7.0],
          ] as const,
        );
      }
      break;
    case "Workstation":
      cpu = pick(rng, [8, 16, 24, 32]);
      mem = pick(rng, [32, 64, 128]) * GiB;
      if (rng.float() < 0.4) {
        gpus = pick(rng, [1, 2]);
        [gpuModel, gpuMem, cc] = pick(
          rng,
          [
            ["NVIDIA GeForce RTX 4090", 24 * GiB, 8.9],
            ["NVIDIA GeForce RTX 3080", 10 * GiB, 8.6],
          ] as const,
        );
      }
      break;
    case "Laptop":
      arch = rng.float() < 0.2 ? "aarch64" : "x86_64";
      cpu = pick(rng, [4, 8, 12, 16]);
      mem = pick(rng, [8, 16, 32]) * GiB;
      onBattery = rng.float() < 0.4;
      battery = 5 + rng.int(96);
      break;
    case "Edge": {
      const d = rng.float();
      deviceType = d < 0.5 ? "RaspberryPi" : d < 0.75 ? "Jetson" : d < 0.9 ? "NUC" : "Other";
      arch = deviceType === "NUC" ? "x86_64" : deviceType === "Other" ? "arm" : "aarch64";
      cpu = deviceType === "NUC" ? 8 : 4;
      mem = pick(rng, [2, 4, 8]) * GiB;
      if (deviceType === "Jetson") {
        gpus = 1;
        [gpuModel, gpuMem, cc] = ["Orin (nvgpu)", mem, 8.7];
      }
      onBattery = rng.float() < 0.1;
      if (onBattery) battery = rng.int(101);
      break;
    }
  }
  // Free: anything from a full node to an idle one, in the meta's rounding.
  const cpuFree = Math.round(cpu * rng.float() * 10) / 10;
  const memFree = Math.floor((mem * rng.float()) / (64 * 1024 ** 2)) * 64 * 1024 ** 2;
  const gpuFree = rng.int(gpus + 1);
  const labels: Record<string, string> = { zone: pick(rng, ["lab", "office", "rack1", "rack2"]) };
  if (rng.float() < 0.3) labels.tier = "batch";
  const meta: MemberView = {
    name: `node-${i}`,
    class: kind,
    arch,
    capacity: { cpu, memBytes: mem, gpus },
    gpuModel,
    gpuMemBytes: gpus ? gpuMem : undefined,
    gpuComputeCapability: cc || undefined,
    deviceType,
    labels,
    load: {
      cpuFree,
      memFree,
      gpuFree,
      load1: rng.float() < 0.9 ? Math.round(rng.float() * cpu * 2) / 2 : undefined,
      batteryPercent: battery,
      onBattery,
      // 35–91 °C: a few over the 80 °C limit.
      temperatureC: rng.float() < 0.9 ? 35 + 2 * rng.int(29) : undefined,
    },
    ca: false,
    version: "bench",
  };
  return { id: `n${String(i).padStart(6, "0")}-${rng.int(1e6)}`, state: "alive", meta };
}

function syntheticCluster(n: number, seed: number): NodeSnapshot[] {
  const rng = seededRng(seed);
  const members = Array.from({ length: n }, (_, i) => syntheticMember(rng, i));
  // Round trips from the submitter: 0.2–80 ms, one in ten without an estimate.
  const rtt = new Map<string, number | undefined>();
  for (const m of members) {
    rtt.set(
      m.id,
      rng.float() < 0.1 ? undefined : Math.round((0.2 + 80 * rng.float() ** 2) * 10) / 10,
    );
  }
  return buildSnapshot(members, (_from, to) => rtt.get(to), members[0].id);
}

const JOBS: readonly JobRequest[] = [
  { id: "cpu", resources: { cpu: 2, memBytes: 4 * GiB, gpus: 0 } },
  {
    id: "gpu",
    resources: { cpu: 4, memBytes: 16 * GiB, gpus: 1 },
    gpuModel: "nvidia",
    gpuComputeCapability: 8.0,
  },
  {
    id: "small",
    resources: { cpu: 0.5, memBytes: 256 * 1024 ** 2, gpus: 0 },
    labels: { zone: "lab" },
  },
];

function quantile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

const policies = BUILTIN_PLUGINS.filter((p): p is SchedulingPolicy =>
  p.kind === "scheduling-policy"
);
const settings = defaultSchedulerSettings();

console.log(
  `$ deno run -A bench/placement_bench.ts --runs ${RUNS} --warmup ${WARMUP} --sizes ${
    SIZES.join(",")
  } --seed ${SEED}`,
);
console.log(
  `deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs, ${Deno.build.target}\n`,
);

const rows: string[][] = [];
for (const size of SIZES) {
  const nodes = syntheticCluster(size, SEED);
  const feasible = JOBS.map((job) =>
    rank(job, nodes, policies[0], { settings, sequence: 0, nodeCount: size }).ranked.length
  );
  console.log(
    `${size} nodes; feasible per job: ${JOBS.map((j, i) => `${j.id} ${feasible[i]}`).join(", ")}`,
  );
  for (const policy of policies) {
    let sequence = 0;
    let feasibleSeen = 0;
    const decide = () => {
      const job = JOBS[sequence % JOBS.length];
      const r = rank(job, nodes, policy, { settings, sequence: sequence++, nodeCount: size });
      // Read what a placement reads (the ranked list); the reasons of refusals are written
      // only for --dry-run, which is not what is timed here.
      feasibleSeen += r.ranked.length;
    };
    // Warm-up: the count asked for, and long enough for the engine's optimizing compiler
    // (which works in the background) to have finished with the hot functions.
    const warmStart = performance.now();
    for (let i = 0; i < WARMUP || performance.now() - warmStart < WARMUP_MIN_MS; i++) decide();
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      decide();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    if (feasibleSeen === 0) throw new Error(`${policy.name}: no feasible node in ${size}`);
    rows.push([
      policy.name,
      size.toLocaleString("en-US"),
      quantile(times, 0.5).toFixed(3),
      quantile(times, 0.99).toFixed(3),
    ]);
  }
}

console.log(`\n| policy | nodes | p50 ms | p99 ms |\n|---|---:|---:|---:|`);
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
