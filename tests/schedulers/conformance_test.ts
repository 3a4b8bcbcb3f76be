// What every scheduling policy promises (built-ins here; a third-party policy can run the
// same checks): the contract's shape, a finite score for any feasible node — including
// nodes that report little — purity (a frozen snapshot, the same answer twice), and
// fallbacks for missing settings equal to the config's defaults.

import assert from "node:assert/strict";
import { rank } from "../../core/scheduler/pipeline.ts";
import { checkPlugin } from "../../plugins/loader.ts";
import { BUILTIN_PLUGINS } from "../../plugins/registry.ts";
import type { SchedulingPolicy } from "../../plugins/sdk.ts";
import { ctx, GiB, job, nodes } from "../core/scheduler/_nodes.ts";

const policies = BUILTIN_PLUGINS.filter((p): p is SchedulingPolicy =>
  p.kind === "scheduling-policy"
);

const snapshot = nodes(
  { id: "dc", class: "DataCenter", capacity: { cpu: 64, memBytes: 256 * GiB, gpus: 8 } },
  { id: "ws", rttMs: 2, temperatureC: 60, load1: 3 },
  {
    id: "lap",
    class: "Laptop",
    onBattery: true,
    batteryPercent: 70,
    capacity: { cpu: 4, memBytes: 8 * GiB },
  },
  { id: "pi", class: "Edge", deviceType: "RaspberryPi", arch: "aarch64", rttMs: 0 },
  // Reports almost nothing: zero capacity, free above capacity, no estimates.
  { id: "odd", capacity: { cpu: 0, memBytes: 0 }, free: { cpu: 1, memBytes: 2 * GiB } },
  { id: "far", rttMs: 1e6, temperatureC: 0, onBattery: true },
);

function deepFreeze<T>(x: T): T {
  if (x && typeof x === "object") {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

Deno.test("scheduling policies: the seven built-ins, each a valid plugin with a description", () => {
  assert.deepEqual(policies.map((p) => p.name).sort(), [
    "balanced",
    "best-fit",
    "cost-optimized",
    "first-fit",
    "locality-aware",
    "power-aware",
    "round-robin",
  ]);
  for (const p of policies) {
    checkPlugin(p, p.name);
    assert.equal(p.sdk, 1);
    assert.ok(p.description, `${p.name} has a description`);
  }
});

Deno.test("scheduling policies: a finite score for every feasible node, small and large jobs", () => {
  const jobs = [job({ cpu: 0, memBytes: 0 }), job({ cpu: 1 }), job({ cpu: 4, memBytes: 8 * GiB })];
  for (const p of policies) {
    for (const j of jobs) {
      for (const n of snapshot) {
        const s = p.score(j, n, ctx({}, 5, snapshot.length));
        assert.ok(Number.isFinite(s), `${p.name} scored ${n.id}: ${s}`);
      }
    }
  }
});

Deno.test("scheduling policies: pure — a frozen snapshot, the same ranking twice", () => {
  const frozen = deepFreeze(structuredClone(snapshot));
  for (const p of policies) {
    const c = deepFreeze(ctx({}, 3, frozen.length));
    const j = deepFreeze(job({ cpu: 0.5 }));
    const a = rank(j, frozen, p, c);
    const b = rank(j, frozen, p, c);
    assert.deepEqual(a.ranked, b.ranked, p.name);
    assert.equal(a.ranked.length, frozen.length, p.name);
  }
});

Deno.test("scheduling policies: missing settings fall back to the config's defaults", () => {
  const empty = { settings: {}, sequence: 2, nodeCount: snapshot.length };
  for (const p of policies) {
    for (const n of snapshot) {
      const j = job({ cpu: 0.5 });
      assert.equal(
        p.score(j, n, empty),
        p.score(j, n, ctx({}, 2, snapshot.length)),
        `${p.name} ${n.id}`,
      );
    }
  }
});
