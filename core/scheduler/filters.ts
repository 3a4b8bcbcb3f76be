// Feasibility filters: the first stage of placement (core/scheduler/pipeline.ts). Each is
// a pure function of the job, one node and the decision's context, and answers undefined
// (the node may take the job) or a reason for a person (`needs 2 GPUs; 1 free`), which
// `herd run --dry-run` shows beside the filter's name — as Nomad's FilterNode does.
//
// A decision runs them over 10,000 nodes: the pipeline runs them compiled into one function
// (compileFilters, below) and asks a filter for its reason only when someone reads it.

import type { JobRequest, NodeSnapshot, PolicyContext } from "../../plugins/sdk.ts";
import { SETTINGS } from "../config.ts";
import { formatBytes } from "../units.ts";

export type Filter = (
  job: JobRequest,
  node: NodeSnapshot,
  ctx: PolicyContext,
) => string | undefined;

/** Filter names, as rejections and `--dry-run` show them. `policy` is the policy's own filter. */
export const FilterName = {
  Spread: "spread",
  AntiAffinity: "anti-affinity",
  Arch: "arch",
  Class: "class",
  Labels: "labels",
  Gpu: "gpu",
  Resources: "resources",
  Power: "power",
  Policy: "policy",
} as const;
export type FilterName = (typeof FilterName)[keyof typeof FilterName];

const cpus = (n: number) => `${Number(n.toFixed(3))}`;
const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;

/** Anti-affinity: a node that already holds a replica of the job is not chosen again. */
export function spreadFilter(job: JobRequest, node: NodeSnapshot): string | undefined {
  return job.spreadAvoid?.includes(node.id) ? "already holds a replica of the job" : undefined;
}

/** Anti-affinity with other jobs: not beside a job the job names. */
export function antiAffinityFilter(job: JobRequest, node: NodeSnapshot): string | undefined {
  const there = job.avoidNodes?.[node.id];
  return there === undefined ? undefined : `runs ${there} (anti-affinity)`;
}

export function archFilter(job: JobRequest, node: NodeSnapshot): string | undefined {
  if (job.arch === undefined || job.arch === node.arch) return undefined;
  return `needs ${job.arch}; the node is ${node.arch}`;
}

export function classFilter(job: JobRequest, node: NodeSnapshot): string | undefined {
  if (job.class === undefined || job.class === node.class) return undefined;
  return `needs class ${job.class}; the node is ${node.class}`;
}

/** Node selector: the node must carry every key=value the job names. */
export function labelsFilter(job: JobRequest, node: NodeSnapshot): string | undefined {
  const want = job.labels;
  if (want === undefined) return undefined;
  for (const k in want) {
    const have = node.labels[k];
    if (have === want[k]) continue;
    return have === undefined
      ? `needs label ${k}=${want[k]}; the node has no ${k}`
      : `needs label ${k}=${want[k]}; the node has ${k}=${have}`;
  }
  return undefined;
}

function hasGpuModel(models: readonly string[], wantLower: string): boolean {
  for (let i = 0; i < models.length; i++) {
    if (models[i].toLowerCase().includes(wantLower)) return true;
  }
  return false;
}

/** What the node's GPUs are: how many, which model, how much memory, which compute capability. */
export function gpuFilter(job: JobRequest, node: NodeSnapshot): string | undefined {
  const n = job.resources.gpus;
  if (n > node.capacity.gpus) {
    return node.capacity.gpus === 0
      ? `needs ${plural(n, "GPU")}; the node has none`
      : `needs ${plural(n, "GPU")}; the node has ${node.capacity.gpus}`;
  }
  if (job.gpuModel !== undefined && !hasGpuModel(node.gpuModels, job.gpuModel.toLowerCase())) {
    return `needs a GPU matching "${job.gpuModel}"; the node has ${
      node.gpuModels.length ? node.gpuModels.join(", ") : "none"
    }`;
  }
  if (job.gpuMemBytes !== undefined && node.gpuMemBytes < job.gpuMemBytes) {
    return `needs ${formatBytes(job.gpuMemBytes)} per GPU; the node's has ${
      formatBytes(node.gpuMemBytes)
    }`;
  }
  if (
    job.gpuComputeCapability !== undefined &&
    node.gpuComputeCapability < job.gpuComputeCapability
  ) {
    return `needs compute capability ${job.gpuComputeCapability.toFixed(1)}; the node has ${
      node.gpuComputeCapability ? node.gpuComputeCapability.toFixed(1) : "none"
    }`;
  }
  return undefined;
}

/** Free CPUs, memory and GPUs now (the target node still has the last word: admission). */
export function resourcesFilter(job: JobRequest, node: NodeSnapshot): string | undefined {
  const want = job.resources, free = node.free;
  if (want.cpu > free.cpu) {
    return `needs ${cpus(want.cpu)} CPUs; ${cpus(Math.max(0, free.cpu))} free`;
  }
  if (want.memBytes > free.memBytes) {
    return `needs ${formatBytes(want.memBytes)} of memory; ${
      formatBytes(Math.max(0, free.memBytes))
    } free`;
  }
  if (want.gpus > free.gpus) return `needs ${plural(want.gpus, "GPU")}; ${free.gpus} free`;
  return undefined;
}

const DEFAULT_MIN_BATTERY = SETTINGS["scheduler.minBattery"].default;
const DEFAULT_MAX_TEMPERATURE = SETTINGS["scheduler.maxTemperature"].default;

/** `scheduler.minBattery`, in %. */
export function minBattery(ctx: PolicyContext): number {
  const v = ctx.settings.minBattery;
  return typeof v === "number" ? v : DEFAULT_MIN_BATTERY;
}

/** `scheduler.maxTemperature`, in °C. */
export function maxTemperature(ctx: PolicyContext): number {
  const v = ctx.settings.maxTemperature;
  return typeof v === "number" ? v : DEFAULT_MAX_TEMPERATURE;
}

/**
 * Power safety: no job for a node on battery below `scheduler.minBattery` (unless the job
 * allows low battery), nor for one hotter than `scheduler.maxTemperature` (unless it allows
 * hot). A node that reports no level or no temperature passes that check.
 */
export function powerFilter(
  job: JobRequest,
  node: NodeSnapshot,
  ctx: PolicyContext,
): string | undefined {
  if (
    job.allowLowBattery !== true && node.onBattery && node.batteryPercent !== undefined &&
    node.batteryPercent < minBattery(ctx)
  ) {
    return `on battery at ${node.batteryPercent} %; needs ${
      minBattery(ctx)
    } % (or allowLowBattery)`;
  }
  if (
    job.allowHot !== true && node.temperatureC !== undefined &&
    node.temperatureC > maxTemperature(ctx)
  ) {
    return `at ${node.temperatureC} °C; the limit is ${maxTemperature(ctx)} °C (or allowHot)`;
  }
  return undefined;
}

export interface FilterStage {
  name: FilterName;
  /** Why the node does not pass (undefined when it does). */
  check: Filter;
}

/**
 * The filters in the order they run: permanent mismatches first (what the node is), then
 * what changes (what it has free, its battery and temperature). A node is rejected by the
 * first filter that refuses it, and only that one is reported.
 */
export const FILTERS: readonly FilterStage[] = [
  { name: FilterName.Spread, check: spreadFilter },
  { name: FilterName.AntiAffinity, check: antiAffinityFilter },
  { name: FilterName.Arch, check: archFilter },
  { name: FilterName.Class, check: classFilter },
  { name: FilterName.Labels, check: labelsFilter },
  { name: FilterName.Gpu, check: gpuFilter },
  { name: FilterName.Resources, check: resourcesFilter },
  { name: FilterName.Power, check: powerFilter },
];

const at = (name: FilterName) => FILTERS.findIndex((f) => f.name === name);
const SPREAD = at(FilterName.Spread);
const ANTI_AFFINITY = at(FilterName.AntiAffinity);
const ARCH = at(FilterName.Arch);
const CLASS = at(FilterName.Class);
const LABELS = at(FilterName.Labels);
const GPU = at(FilterName.Gpu);
const RESOURCES = at(FilterName.Resources);
const POWER = at(FilterName.Power);

/** For one node: the index in FILTERS of the first filter that refuses it, or -1. */
export type FirstRefusal = (node: NodeSnapshot) => number;

/**
 * Every filter, bound to one job and one decision's settings, as one function: what the
 * pipeline runs over every node. One call per node instead of one per filter (an indirect
 * call costs more than the check it makes), nothing allocated, the job's and the settings'
 * values read once; a filter the job cannot trip (no arch named, no labels) costs one test.
 * The same rules as the functions above, in the same order: a test holds them together.
 */
export function compileFilters(job: JobRequest, ctx: PolicyContext): FirstRefusal {
  const avoid = job.spreadAvoid?.length ? new Set(job.spreadAvoid) : undefined;
  const beside = job.avoidNodes;
  const arch = job.arch;
  const kind = job.class;
  const labelKeys = Object.keys(job.labels ?? {});
  const labelValues = labelKeys.map((k) => job.labels![k]);
  const nLabels = labelKeys.length;
  const { cpu, memBytes, gpus } = job.resources;
  const model = job.gpuModel?.toLowerCase();
  const gpuMem = job.gpuMemBytes ?? 0;
  const cc = job.gpuComputeCapability ?? 0;
  const gpuAsked = gpus > 0 || model !== undefined || gpuMem > 0 || cc > 0;
  // A bound no node reaches stands for "allowed".
  const minPct = job.allowLowBattery === true ? -Infinity : minBattery(ctx);
  const maxC = job.allowHot === true ? Infinity : maxTemperature(ctx);
  return (node) => {
    if (avoid !== undefined && avoid.has(node.id)) return SPREAD;
    if (beside !== undefined && Object.hasOwn(beside, node.id)) return ANTI_AFFINITY;
    if (arch !== undefined && node.arch !== arch) return ARCH;
    if (kind !== undefined && node.class !== kind) return CLASS;
    for (let i = 0; i < nLabels; i++) {
      if (node.labels[labelKeys[i]] !== labelValues[i]) return LABELS;
    }
    if (
      gpuAsked &&
      !(gpus <= node.capacity.gpus && node.gpuMemBytes >= gpuMem &&
        node.gpuComputeCapability >= cc &&
        (model === undefined || hasGpuModel(node.gpuModels, model)))
    ) return GPU;
    const free = node.free;
    if (cpu > free.cpu || memBytes > free.memBytes || gpus > free.gpus) return RESOURCES;
    if (node.onBattery && node.batteryPercent !== undefined && node.batteryPercent < minPct) {
      return POWER;
    }
    if (node.temperatureC !== undefined && node.temperatureC > maxC) return POWER;
    return -1;
  };
}
