// power-aware: spend the least energy and the least battery. The rule, in order of weight:
//
//   1. mains power beats battery, always (10 points on AC; at most 5 on battery);
//   2. on battery, the fuller the better (5 × charge; 2.5 when the level is unknown);
//   3. cooler is better (2 × the headroom below `maxTemperature`; 1 when unknown);
//   4. a small job (≤ 1 CPU, ≤ 1 GiB, no GPU) goes to the most frugal class:
//      Edge 1, Laptop 0.75, Workstation 0.5, DataCenter 0.25 (0 for larger jobs, which
//      frugal machines run slowly, so no energy is saved).
//
// Self-contained (imports only the SDK's types): it can be loaded as a single module.

import type { JobRequest, NodeClassKind, NodeSnapshot, SchedulingPolicy } from "../plugins/sdk.ts";

/** `scheduler.maxTemperature` when the settings do not say (core/config.ts's default). */
const MAX_TEMPERATURE_C = 80;
const SMALL_CPU = 1;
const SMALL_MEM_BYTES = 1024 ** 3;

const FRUGAL: Readonly<Record<NodeClassKind, number>> = {
  Edge: 1,
  Laptop: 0.75,
  Workstation: 0.5,
  DataCenter: 0.25,
};

const score: SchedulingPolicy["score"] = (job: JobRequest, node: NodeSnapshot, ctx) => {
  const supply = node.onBattery ? 0.5 * (node.batteryPercent ?? 50) / 100 : 1;
  const maxT = typeof ctx.settings.maxTemperature === "number"
    ? ctx.settings.maxTemperature
    : MAX_TEMPERATURE_C;
  const t = node.temperatureC;
  const cool = t === undefined ? 0.5 : maxT > 0 ? Math.min(1, Math.max(0, 1 - t / maxT)) : 0;
  const r = job.resources;
  const small = r.cpu <= SMALL_CPU && r.memBytes <= SMALL_MEM_BYTES && r.gpus === 0;
  return 10 * supply + 2 * cool + (small ? FRUGAL[node.class] ?? 0 : 0);
};

export const plugin = {
  kind: "scheduling-policy",
  name: "power-aware",
  sdk: 1,
  description:
    "Mains power first, then battery charge, then cool nodes; small jobs on frugal classes.",
  score,
} satisfies SchedulingPolicy;
