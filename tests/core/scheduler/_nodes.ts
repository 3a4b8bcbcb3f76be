// Hand-built snapshots for the scheduler's tests: a node is a few overrides of a plain,
// idle, cool x86_64 Workstation on mains power.

import type { JobRequest, NodeSnapshot, PolicyContext, Resources } from "../../../plugins/sdk.ts";
import { defaultSchedulerSettings } from "../../../core/scheduler/settings.ts";

export const GiB = 1024 ** 3;

export type NodeSpec = Partial<Omit<NodeSnapshot, "capacity" | "free">> & {
  id: string;
  capacity?: Partial<Resources>;
  free?: Partial<Resources>;
};

/** One node; `free` defaults to the whole capacity. */
export function node(spec: NodeSpec): NodeSnapshot {
  const capacity = { cpu: 8, memBytes: 16 * GiB, gpus: 0, ...spec.capacity };
  return {
    name: spec.id,
    arch: "x86_64",
    class: "Workstation",
    deviceType: undefined,
    labels: {},
    gpuModels: [],
    gpuMemBytes: 0,
    gpuComputeCapability: 0,
    onBattery: false,
    batteryPercent: undefined,
    temperatureC: undefined,
    load1: undefined,
    runningJobs: 0,
    rttMs: undefined,
    ordinal: 0,
    ...spec,
    capacity,
    free: { ...capacity, ...spec.free },
  };
}

/** Nodes with ordinals set as the snapshot builder sets them (id order). */
export function nodes(...specs: NodeSpec[]): NodeSnapshot[] {
  const ids = specs.map((s) => s.id).sort();
  return specs.map((s) => node({ ...s, ordinal: ids.indexOf(s.id) }));
}

export function job(
  resources: Partial<Resources> = {},
  extra: Partial<JobRequest> = {},
): JobRequest {
  return { id: "j1", resources: { cpu: 1, memBytes: GiB, gpus: 0, ...resources }, ...extra };
}

export function ctx(
  settings: Record<string, unknown> = {},
  sequence = 0,
  nodeCount = 0,
): PolicyContext {
  return { settings: { ...defaultSchedulerSettings(), ...settings }, sequence, nodeCount };
}

export const ids = (xs: ReadonlyArray<{ node: NodeSnapshot }>) => xs.map((x) => x.node.id);
