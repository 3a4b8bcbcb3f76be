// balanced: a weighted mean of five scores, each in [0, 1], weights from the settings
// (`weightFit`, `weightLoad`, `weightPower`, `weightLocality`, `weightCost`):
//
//   fit       best-fit's bin-packing fit (a job without GPUs keeps off idle GPU nodes)
//   load      how idle the node stays: 1 − its use after placement, where use is the mean of
//             reserved CPU and memory, averaged with load1 / CPUs when the node reports it
//   power     power-aware's score scaled to [0, 1] (AC, then charge, then cool, then frugal)
//   locality  1 / (1 + rtt / 10 ms); 0 without an estimate
//   cost      1 − cost / the highest class cost (the `cost*` settings)
//
// With the defaults (load 2, the others 1) it spreads: fit and load pull opposite ways, and
// load weighs more. Self-contained (imports only the SDK's types): it can be loaded as a
// single module, so it repeats the few lines of the other policies it mixes.

import type { JobRequest, NodeSnapshot, PolicyContext, SchedulingPolicy } from "../plugins/sdk.ts";

/** The settings' defaults (core/config.ts), for settings that do not say. */
const DEFAULTS = {
  weightFit: 1,
  weightLoad: 2,
  weightPower: 1,
  weightLocality: 1,
  weightCost: 1,
  costDataCenter: 3.0,
  costWorkstation: 0.8,
  costLaptop: 0.3,
  costEdge: 0.05,
  maxTemperature: 80,
} as const;

const LOCALITY_HALF_AT_MS = 10;
const SMALL_CPU = 1;
const SMALL_MEM_BYTES = 1024 ** 3;

const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);

/** The settings a score needs, resolved (defaults for missing values) once per decision. */
interface Knobs {
  fit: number;
  load: number;
  power: number;
  locality: number;
  cost: number;
  total: number;
  maxTemperature: number;
  dc: number;
  ws: number;
  lp: number;
  ed: number;
  maxCost: number;
}

function resolve(s: PolicyContext["settings"]): Knobs {
  const setting = (key: keyof typeof DEFAULTS): number => {
    const v = s[key];
    return typeof v === "number" && Number.isFinite(v) ? v : DEFAULTS[key];
  };
  const weight = (key: keyof typeof DEFAULTS) => Math.max(0, setting(key));
  const k = {
    fit: weight("weightFit"),
    load: weight("weightLoad"),
    power: weight("weightPower"),
    locality: weight("weightLocality"),
    cost: weight("weightCost"),
    total: 0,
    maxTemperature: setting("maxTemperature"),
    dc: setting("costDataCenter"),
    ws: setting("costWorkstation"),
    lp: setting("costLaptop"),
    ed: setting("costEdge"),
    maxCost: 0,
  };
  k.total = k.fit + k.load + k.power + k.locality + k.cost;
  k.maxCost = Math.max(k.dc, k.ws, k.lp, k.ed);
  return k;
}

// Every node of a decision comes with the same settings object: remember the last one
// resolved. A memo, not state: the answer depends on the settings' values alone (they are
// read-only), and 10,000 nodes need not read the same twelve values 10,000 times.
let lastSettings: PolicyContext["settings"] | undefined;
let lastKnobs: Knobs | undefined;
function knobs(s: PolicyContext["settings"]): Knobs {
  if (s !== lastSettings || lastKnobs === undefined) {
    lastKnobs = resolve(s);
    lastSettings = s;
  }
  return lastKnobs;
}

function fit(job: JobRequest, node: NodeSnapshot): number {
  const want = job.resources, free = node.free, cap = node.capacity;
  const c = cap.cpu > 0 ? clamp01((free.cpu - want.cpu) / cap.cpu) : 0;
  const m = cap.memBytes > 0 ? clamp01((free.memBytes - want.memBytes) / cap.memBytes) : 0;
  const g = cap.gpus > 0 ? clamp01((free.gpus - want.gpus) / cap.gpus) : 0;
  return 1 - (10 ** c + 10 ** m + 10 ** g - 3) / 27;
}

function idle(job: JobRequest, node: NodeSnapshot): number {
  const want = job.resources, free = node.free, cap = node.capacity;
  const cpuUsed = cap.cpu > 0 ? clamp01(1 - (free.cpu - want.cpu) / cap.cpu) : 1;
  const memUsed = cap.memBytes > 0
    ? clamp01(1 - (free.memBytes - want.memBytes) / cap.memBytes)
    : 1;
  let used = (cpuUsed + memUsed) / 2;
  if (node.load1 !== undefined && cap.cpu > 0) used = (used + clamp01(node.load1 / cap.cpu)) / 2;
  return 1 - used;
}

function power(job: JobRequest, node: NodeSnapshot, maxT: number): number {
  const supply = node.onBattery ? 0.5 * (node.batteryPercent ?? 50) / 100 : 1;
  const t = node.temperatureC;
  const cool = t === undefined ? 0.5 : maxT > 0 ? clamp01(1 - t / maxT) : 0;
  const r = job.resources;
  const small = r.cpu <= SMALL_CPU && r.memBytes <= SMALL_MEM_BYTES && r.gpus === 0;
  const k = node.class;
  const frugal = !small
    ? 0
    : k === "Edge"
    ? 1
    : k === "Laptop"
    ? 0.75
    : k === "Workstation"
    ? 0.5
    : 0.25;
  return (10 * supply + 2 * cool + frugal) / 13;
}

function cheap(node: NodeSnapshot, k: Knobs): number {
  if (k.maxCost <= 0) return 1;
  const c = node.class;
  const cost = c === "DataCenter"
    ? k.dc
    : c === "Workstation"
    ? k.ws
    : c === "Laptop"
    ? k.lp
    : k.ed;
  return clamp01(1 - cost / k.maxCost);
}

export const plugin = {
  kind: "scheduling-policy",
  name: "balanced",
  sdk: 1,
  description: "A weighted mix of fit, idleness, power, locality and cost (scheduler.weight*).",
  score(job, node, ctx) {
    const k = knobs(ctx.settings);
    if (k.total === 0) return 0;
    const rtt = node.rttMs;
    const locality = rtt === undefined ? 0 : 1 / (1 + Math.max(0, rtt) / LOCALITY_HALF_AT_MS);
    return (
      (k.fit === 0 ? 0 : k.fit * fit(job, node)) +
      (k.load === 0 ? 0 : k.load * idle(job, node)) +
      (k.power === 0 ? 0 : k.power * power(job, node, k.maxTemperature)) +
      k.locality * locality +
      (k.cost === 0 ? 0 : k.cost * cheap(node, k))
    ) / k.total;
  },
} satisfies SchedulingPolicy;
