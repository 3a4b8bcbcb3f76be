import assert from "node:assert/strict";
import { explain } from "../../../core/scheduler/explain.ts";
import { explainText, formatScore } from "../../../cli/explain.ts";
import { rank } from "../../../core/scheduler/pipeline.ts";
import { plugin as bestFit } from "../../../schedulers/best_fit.ts";
import { ctx, GiB, job, nodes } from "./_nodes.ts";

const snapshot = nodes(
  { id: "n1", name: "big", capacity: { cpu: 32, memBytes: 64 * GiB } },
  { id: "n2", name: "small", capacity: { cpu: 4, memBytes: 8 * GiB } },
  { id: "n3", name: "pi", class: "Edge", arch: "aarch64", free: { cpu: 0.5 } },
  { id: "n4", onBattery: true, batteryPercent: 5, class: "Laptop" },
  { id: "n5", name: "mid", capacity: { cpu: 8, memBytes: 16 * GiB } },
);

Deno.test("explain: ranked rows with free resources; refusals counted by filter", () => {
  const e = explain(rank(job({ cpu: 2, memBytes: 2 * GiB }), snapshot, bestFit, ctx()), {
    limit: 2,
  });
  assert.equal(e.feasible, 3);
  assert.deepEqual(e.ranked.map((r) => [r.rank, r.name]), [[1, "small"], [2, "mid"]]);
  assert.deepEqual(e.ranked[0].free, { cpu: 4, memBytes: 8 * GiB, gpus: 0 });
  assert.equal(e.refused, 2);
  assert.deepEqual(e.byFilter, { resources: 1, power: 1 });
  assert.deepEqual(e.rejected.map((r) => [r.name, r.filter]), [["pi", "resources"], [
    "n4",
    "power",
  ]]);
  // Plain data: survives JSON.
  assert.deepEqual(JSON.parse(JSON.stringify(e)), e);
});

Deno.test("explain: the text for --dry-run", () => {
  const text = explainText(
    explain(rank(job({ cpu: 2, memBytes: 2 * GiB }), snapshot, bestFit, ctx()), { limit: 2 }),
  );
  const lines = text.split("\n");
  assert.equal(lines[0], "3 of 5 nodes can take the job, best first; the first 2:");
  assert.match(lines[1], /^RANK\s+NODE\s+SCORE\s+CPU FREE\s+MEM FREE\s+GPUS FREE$/);
  assert.match(lines[2], /^1\s+small \(n2\)\s+0\.\d+\s+4\s+8 GiB\s+0$/);
  assert.match(lines[3], /^2\s+mid \(n5\)\s/);
  assert.equal(lines[4], "");
  assert.equal(lines[5], "2 nodes cannot (resources 1, power 1):");
  assert.match(lines[6], /^NODE\s+FILTER\s+REASON$/);
  assert.match(lines[7], /^pi \(n3\)\s+resources\s+needs 2 CPUs; 0\.5 free$/);
  assert.match(lines[8], /^n4\s+power\s+on battery at 5 %; needs 20 % \(or allowLowBattery\)$/);

  const none = explainText(explain(rank(job({ cpu: 999 }), snapshot, bestFit, ctx())));
  assert.match(
    none,
    /^No node can take the job \(5 nodes considered\)\.\n\n5 nodes cannot \(resources 5\):\nNODE/,
  );
});

Deno.test("explain: scores read as people read them", () => {
  assert.equal(formatScore(0.123456), "0.1235");
  assert.equal(formatScore(-3), "-3");
  assert.equal(formatScore(2.5e-7), "2.50e-7");
  assert.equal(formatScore(0), "0.00");
});
