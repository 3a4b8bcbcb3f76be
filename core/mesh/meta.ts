// What a node tells the others about itself through membership: a profile summary,
// its class, labels, and a small versioned load vector. It must fit one datagram
// (META_MAX_BYTES), so keys are short and values rounded; rounding also keeps a
// load that only jitters from being gossiped again and again.

import type { Json, MemberMeta } from "../membership/member.ts";
import { META_MAX_BYTES, metaBytes } from "../membership/member.ts";
import type { HardwareProfile, NodeClass } from "../profile/types.ts";

/** Version of the meta layout (and of its load vector). */
export const META_VERSION = 1;

const MIB = 1024 * 1024;

export interface LoadVector {
  /** CPUs not reserved by jobs. */
  cpuFree: number;
  /** Bytes not reserved by jobs. */
  memFree: number;
  gpuFree: number;
  /** One-minute load average. */
  load1?: number;
  batteryPercent?: number;
  onBattery?: boolean;
  temperatureC?: number;
}

export interface MetaInput {
  name: string;
  nodeClass: NodeClass;
  profile: HardwareProfile;
  labels: Readonly<Record<string, string>>;
  capacity: { cpu: number; memBytes: number; gpus: number };
  load: LoadVector;
  /** Holds the cluster CA (grants joins). */
  ca: boolean;
  version: string;
  /** Version of the revocation list this node holds (0: none). */
  revocations?: number;
}

/** Rounded so that small changes do not count as changes. */
export function roundLoad(l: LoadVector): LoadVector {
  const out: LoadVector = {
    cpuFree: Math.round(l.cpuFree * 10) / 10,
    // 64 MiB steps.
    memFree: Math.floor(l.memFree / (64 * MIB)) * 64 * MIB,
    gpuFree: l.gpuFree,
  };
  if (l.load1 !== undefined) out.load1 = Math.round(l.load1 * 2) / 2;
  if (l.batteryPercent !== undefined) out.batteryPercent = Math.round(l.batteryPercent / 5) * 5;
  if (l.onBattery) out.onBattery = true;
  if (l.temperatureC !== undefined) out.temperatureC = Math.round(l.temperatureC / 2) * 2;
  return out;
}

/** The meta to gossip. Trimmed (labels, then the GPU model) when it would not fit. */
export function buildMeta(i: MetaInput): MemberMeta {
  const gpus = i.profile.gpus.filter((g) => g.schedulable);
  // Highest CUDA compute capability ("8.9" → 8.9); 0 when no GPU reports one.
  const cc = Math.max(0, ...gpus.map((g) => Number(g.computeCapability) || 0));
  const l = roundLoad(i.load);
  const load: Record<string, Json> = { c: l.cpuFree, m: l.memFree, g: l.gpuFree };
  if (l.load1 !== undefined) load.l = l.load1;
  if (l.batteryPercent !== undefined) load.b = l.batteryPercent;
  if (l.onBattery) load.ob = true;
  if (l.temperatureC !== undefined) load.t = l.temperatureC;
  const meta: Record<string, Json> = {
    v: META_VERSION,
    n: i.name.slice(0, 63),
    k: i.nodeClass.kind,
    a: i.profile.cpu.arch,
    c: i.capacity.cpu,
    m: i.capacity.memBytes,
    g: i.capacity.gpus,
    ...(gpus.length ? { gm: gpus[0].model.slice(0, 40), gb: gpus[0].memoryBytes } : {}),
    ...(cc > 0 ? { cc } : {}),
    ...(i.nodeClass.kind === "Edge" ? { dt: i.nodeClass.deviceType } : {}),
    ...(i.ca ? { ca: true } : {}),
    ...(i.revocations ? { rv: i.revocations } : {}),
    hv: i.version,
    l: load,
    ...(Object.keys(i.labels).length ? { lb: { ...i.labels } } : {}),
  };
  if (metaBytes(meta) > META_MAX_BYTES) delete meta.lb;
  if (metaBytes(meta) > META_MAX_BYTES) delete meta.gm;
  if (metaBytes(meta) > META_MAX_BYTES) meta.n = i.name.slice(0, 16);
  return meta;
}

/** The meta read back for listings (`herd nodes`, the API): tolerant of missing fields. */
export interface MemberView {
  name: string;
  class: string;
  arch: string;
  capacity: { cpu: number; memBytes: number; gpus: number };
  gpuModel?: string;
  /** Memory of the first schedulable GPU, bytes. */
  gpuMemBytes?: number;
  /** Highest CUDA compute capability, e.g. 8.9. */
  gpuComputeCapability?: number;
  /** Edge device type (RaspberryPi, Jetson, NUC, Other), for an Edge node. */
  deviceType?: string;
  labels: Record<string, string>;
  load: LoadVector;
  ca: boolean;
  version: string;
  /** Version of the revocation list the member holds (0 or absent: none). */
  revocations?: number;
}

const num = (v: Json | undefined): number => (typeof v === "number" ? v : 0);
const opt = (v: Json | undefined): number | undefined => (typeof v === "number" ? v : undefined);
const text = (v: Json | undefined): string => (typeof v === "string" ? v : "");

export function readMeta(meta: MemberMeta): MemberView {
  const l = (meta.l && typeof meta.l === "object" && !Array.isArray(meta.l) ? meta.l : {}) as {
    readonly [k: string]: Json;
  };
  const labels: Record<string, string> = {};
  if (meta.lb && typeof meta.lb === "object" && !Array.isArray(meta.lb)) {
    for (const [k, v] of Object.entries(meta.lb)) if (typeof v === "string") labels[k] = v;
  }
  return {
    name: text(meta.n),
    class: text(meta.k),
    arch: text(meta.a),
    capacity: { cpu: num(meta.c), memBytes: num(meta.m), gpus: num(meta.g) },
    gpuModel: typeof meta.gm === "string" ? meta.gm : undefined,
    gpuMemBytes: opt(meta.gb),
    gpuComputeCapability: opt(meta.cc),
    deviceType: typeof meta.dt === "string" ? meta.dt : undefined,
    labels,
    load: {
      cpuFree: num(l.c),
      memFree: num(l.m),
      gpuFree: num(l.g),
      load1: opt(l.l),
      batteryPercent: opt(l.b),
      onBattery: l.ob === true,
      temperatureC: opt(l.t),
    },
    ca: meta.ca === true,
    revocations: num(meta.rv),
    version: text(meta.hv),
  };
}
