// The snapshot a placement decision runs over: what membership knows of each live member,
// read from its gossiped meta (core/mesh/meta.ts), with the round trip from the locality
// reference filled in here, so policies stay pure.

import {
  type Arch,
  ARCHES,
  NODE_CLASSES,
  type NodeClassKind,
  type NodeSnapshot,
} from "../../plugins/sdk.ts";
import { MemberState } from "../membership/member.ts";
import type { MemberView } from "../mesh/meta.ts";

export interface SnapshotMember {
  id: string;
  state: string;
  /** `readMeta` of the member's meta. */
  meta: MemberView;
}

/** Estimated round trip in ms between two members, when known. */
export type RttEstimate = (fromId: string, toId: string) => number | undefined;

const KNOWN_ARCHES: ReadonlySet<string> = new Set(ARCHES);
const CLASSES: ReadonlySet<string> = new Set(NODE_CLASSES);

/**
 * The alive members as NodeSnapshots, sorted by id (`ordinal` is the position). A member
 * whose meta names no known class (not gossiped yet, or from a newer herd) is left out:
 * nothing could be said of what it can run. `reference` is the node locality is measured
 * from (the job's `near`, else the submitter); its own round trip is 0.
 */
export function buildSnapshot(
  members: readonly SnapshotMember[],
  rtt: RttEstimate,
  reference: string,
): NodeSnapshot[] {
  const alive = members.filter((m) => m.state === MemberState.Alive && CLASSES.has(m.meta.class));
  alive.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return alive.map((m, ordinal) => toSnapshot(m, ordinal, rtt, reference));
}

function toSnapshot(
  m: SnapshotMember,
  ordinal: number,
  rtt: RttEstimate,
  reference: string,
): NodeSnapshot {
  const v = m.meta;
  const r = m.id === reference ? 0 : rtt(reference, m.id);
  // Every field is set, present or not, in one order: all snapshots share one shape, which
  // keeps the policies' property reads monomorphic over 10,000 nodes.
  return {
    id: m.id,
    name: v.name || m.id,
    arch: (KNOWN_ARCHES.has(v.arch) ? v.arch : "other") as Arch,
    class: v.class as NodeClassKind,
    deviceType: v.deviceType,
    labels: v.labels,
    capacity: { cpu: v.capacity.cpu, memBytes: v.capacity.memBytes, gpus: v.capacity.gpus },
    free: { cpu: v.load.cpuFree, memBytes: v.load.memFree, gpus: v.load.gpuFree },
    gpuModels: v.gpuModel ? [v.gpuModel] : [],
    gpuMemBytes: v.gpuMemBytes ?? 0,
    gpuComputeCapability: v.gpuComputeCapability ?? 0,
    onBattery: v.load.onBattery === true,
    batteryPercent: v.load.batteryPercent,
    temperatureC: v.load.temperatureC,
    load1: v.load.load1,
    // The meta does not carry a job count (yet): load and free resources stand for it.
    runningJobs: 0,
    rttMs: r !== undefined && Number.isFinite(r) ? r : undefined,
    ordinal,
  };
}
