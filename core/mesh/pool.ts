// The cluster as one pool of resources (`herd pool`, GET /v1/pool): what it has and
// what is free, by node class and in total. A pure fold over the members' gossiped
// meta, so it costs nothing to serve and reads the same numbers placement reads.

import type { NodeView } from "./mesh.ts";
import { MemberState } from "../membership/member.ts";
import { NODE_CLASSES } from "../../plugins/sdk.ts";

/** The model of GPUs whose node did not say (its meta was trimmed to fit a datagram). */
export const UNKNOWN_GPU_MODEL = "unknown";

/** States whose members count toward capacity: a suspect may still be up, so it does. */
const UP_STATES: ReadonlySet<string> = new Set([MemberState.Alive, MemberState.Suspect]);

export interface Amount {
  total: number;
  free: number;
}

export interface GpuModelPool {
  model: string;
  /** GPUs of this model. */
  count: number;
  /** Of them not reserved by jobs. */
  free: number;
  /** Memory of one GPU, bytes: the smallest reported, what a job can count on. */
  memBytes?: number;
  /** Nodes that have this model. */
  nodes: number;
}

export interface PowerSummary {
  /** Nodes on mains power (every counted node that does not report running on battery). */
  onAc: number;
  onBattery: number;
  /** The emptiest battery among nodes running on it: the first to go away. */
  lowestBattery?: { node: string; percent: number };
  /** The hottest node reporting a temperature: the first to throttle. */
  hottest?: { node: string; celsius: number };
}

export interface PoolTotals {
  /** Nodes counted (alive or suspect). */
  nodes: number;
  cpu: Amount;
  memBytes: Amount;
  gpus: Amount & { byModel: GpuModelPool[] };
  power: PowerSummary;
  /** CPU architectures present, sorted. */
  arches: string[];
}

export interface ClusterPool {
  /** Every known member by state, down ones included: how much of the cluster is missing. */
  members: Record<string, number>;
  /** One entry per node class (all four always, so the shape is stable; zeros when none). */
  classes: Record<string, PoolTotals>;
  total: PoolTotals;
}

/** An empty accumulator; `finish` turns it into the reported totals. */
interface Acc {
  nodes: number;
  cpu: Amount;
  memBytes: Amount;
  gpus: Amount;
  models: Map<string, GpuModelPool>;
  power: PowerSummary;
  arches: Set<string>;
}

function empty(): Acc {
  return {
    nodes: 0,
    cpu: { total: 0, free: 0 },
    memBytes: { total: 0, free: 0 },
    gpus: { total: 0, free: 0 },
    models: new Map(),
    power: { onAc: 0, onBattery: 0 },
    arches: new Set(),
  };
}

function add(a: Acc, n: NodeView): void {
  a.nodes++;
  a.cpu.total += n.capacity.cpu;
  a.cpu.free += n.load.cpuFree;
  a.memBytes.total += n.capacity.memBytes;
  a.memBytes.free += n.load.memFree;
  a.gpus.total += n.capacity.gpus;
  a.gpus.free += n.load.gpuFree;
  if (n.capacity.gpus > 0) {
    // Meta carries one model per node (its first schedulable GPU), so all of a node's
    // GPUs are counted as that model; mixed-GPU nodes are rare enough for a summary.
    const model = n.gpuModel || UNKNOWN_GPU_MODEL;
    const m = a.models.get(model) ?? { model, count: 0, free: 0, nodes: 0 };
    m.count += n.capacity.gpus;
    m.free += n.load.gpuFree;
    m.nodes++;
    if (n.gpuMemBytes !== undefined) {
      m.memBytes = m.memBytes === undefined ? n.gpuMemBytes : Math.min(m.memBytes, n.gpuMemBytes);
    }
    a.models.set(model, m);
  }
  const p = a.power;
  if (n.load.onBattery) {
    p.onBattery++;
    const pct = n.load.batteryPercent;
    if (pct !== undefined && (p.lowestBattery === undefined || pct < p.lowestBattery.percent)) {
      p.lowestBattery = { node: n.name, percent: pct };
    }
  } else p.onAc++;
  const t = n.load.temperatureC;
  if (t !== undefined && (p.hottest === undefined || t > p.hottest.celsius)) {
    p.hottest = { node: n.name, celsius: t };
  }
  if (n.arch) a.arches.add(n.arch);
}

// Sums of rounded gossip values drift in binary floating point (0.1 + 0.2): one decimal
// is all the meta carries for CPUs.
const tenths = (x: number) => Math.round(x * 10) / 10;

function finish(a: Acc): PoolTotals {
  return {
    nodes: a.nodes,
    cpu: { total: tenths(a.cpu.total), free: tenths(a.cpu.free) },
    memBytes: { ...a.memBytes },
    gpus: {
      ...a.gpus,
      // Most GPUs first: the model the cluster is built around leads.
      byModel: [...a.models.values()].sort((x, y) =>
        y.count - x.count || x.model.localeCompare(y.model)
      ),
    },
    power: a.power,
    arches: [...a.arches].sort(),
  };
}

/** Folds the members into the pool. Only alive and suspect members count toward resources. */
export function clusterPool(nodes: readonly NodeView[]): ClusterPool {
  const members: Record<string, number> = {};
  for (const s of Object.values(MemberState)) members[s] = 0;
  const total = empty();
  const classes = new Map<string, Acc>(NODE_CLASSES.map((k) => [k, empty()]));
  for (const n of nodes) {
    members[n.state] = (members[n.state] ?? 0) + 1;
    if (!UP_STATES.has(n.state)) continue;
    add(total, n);
    // A member whose meta has not arrived yet has no class: kept apart so totals still
    // equal the sum of the classes.
    const kind = n.class || "unknown";
    let c = classes.get(kind);
    if (!c) classes.set(kind, c = empty());
    add(c, n);
  }
  return {
    members,
    classes: Object.fromEntries([...classes].map(([k, a]) => [k, finish(a)])),
    total: finish(total),
  };
}
