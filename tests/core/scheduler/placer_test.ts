import assert from "node:assert/strict";
import { buildMeta, readMeta } from "../../../core/mesh/meta.ts";
import { Placer } from "../../../core/scheduler/placer.ts";
import type { SnapshotMember } from "../../../core/scheduler/snapshot.ts";
import type { HardwareProfile } from "../../../core/profile/types.ts";
import { PluginSet } from "../../../plugins/loader.ts";
import { BUILTIN_PLUGINS } from "../../../plugins/registry.ts";
import { GiB } from "./_nodes.ts";

const profile: HardwareProfile = {
  schema: 1,
  hostname: "h",
  os: "linux",
  cpu: { model: "cpu", vendor: "v", arch: "x86_64", cores: 4, threads: 4, mhz: 2000 },
  memory: { totalBytes: 8 * GiB, availableBytes: 6 * GiB },
  gpus: [],
  storage: [],
  network: [],
  power: { source: "ac", hasBattery: false },
  device: {},
};

const member = (id: string, cpuFree: number): SnapshotMember => ({
  id,
  state: "alive",
  meta: readMeta(buildMeta({
    name: id,
    nodeClass: { kind: "Workstation", gpuCapable: false },
    profile,
    labels: {},
    capacity: { cpu: 4, memBytes: 8 * GiB, gpus: 0 },
    load: { cpuFree, memFree: 8 * GiB, gpuFree: 0 },
    ca: false,
    version: "test",
  })),
});

function placer(now: { t: number }, policy = "best-fit", free = { a: 4, b: 2 }) {
  return new Placer({
    selfId: "a",
    plugins: new PluginSet(BUILTIN_PLUGINS),
    settings: {},
    defaultPolicy: policy,
    // best-fit packs: with no holds, every 1-CPU job goes to the fuller node, b.
    members: () => [member("a", free.a), member("b", free.b)],
    rtt: () => undefined,
    now: () => now.t,
    holdMs: 1_000,
  });
}
const job = (cpu: number) => ({ id: "j", resources: { cpu, memBytes: 0, gpus: 0 } });

Deno.test("placer: what it offered counts against the target until the hold lapses or is dropped", async () => {
  const now = { t: 0 };
  const p = placer(now);
  const first = async () => (await p.decide(job(1))).result.ranked.map((r) => r.node.id);
  assert.deepEqual(await first(), ["b", "a"]);
  p.hold("b", { cpu: 1, memBytes: 0, gpus: 0 });
  const drop = p.hold("b", { cpu: 1, memBytes: 0, gpus: 0 });
  // b has 2 free, both held: it cannot take a third CPU now.
  assert.deepEqual(await first(), ["a"]);
  drop(); // refused: b has one free again
  assert.deepEqual(await first(), ["b", "a"]);
  now.t = 1_000; // the remaining hold lapses: b's own announcement says the rest
  p.hold("a", { cpu: 4, memBytes: 0, gpus: 0 });
  assert.deepEqual(await first(), ["b"]);
  p.close();
});

Deno.test("placer: round-robin takes turns across placements; a dry run does not take one", async () => {
  const p = placer({ t: 0 }, "round-robin");
  const top = async () => (await p.decide(job(0.1))).result.ranked[0].node.id;
  const explained = async () => (await p.explain(job(0.1))).ranked[0].id;
  const a = await top();
  const peek = await explained();
  const b = await top();
  assert.notEqual(a, b, "consecutive placements rotate");
  assert.equal(peek, b, "the dry run showed the next turn without taking it");
  p.close();
});

Deno.test("placer: holds steer but never refuse; a member's new announcement replaces them", async () => {
  const free = { a: 4, b: 2 };
  const p = placer({ t: 0 }, "best-fit", free);
  const ids = async (cpu: number) => (await p.decide(job(cpu))).result.ranked.map((r) => r.node.id);
  p.hold("a", { cpu: 4, memBytes: 0, gpus: 0 });
  p.hold("b", { cpu: 2, memBytes: 0, gpus: 0 });
  // Nothing is free once the holds count: rank as if there were none; the targets decide.
  assert.deepEqual(await ids(1), ["b", "a"]);
  free.b = 1; // b announced (one job of ours running): its hold is dropped, a's stays
  assert.deepEqual(await ids(1), ["b"]);
  p.close();
});
