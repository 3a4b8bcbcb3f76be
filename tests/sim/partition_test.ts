import assert from "node:assert/strict";
import { profileTimings, runScenario } from "../../sim/scenarios.ts";

Deno.test("a 50/50 partition: each side marks the other failed; healed, all see all alive", () => {
  const f = runScenario("partition", {
    nodes: 100,
    seed: 1,
    loss: 0,
    minutes: 1,
    timings: profileTimings("lan"),
  });
  assert.ok(f.partitionDetectMs !== undefined, "each side saw the other fail");
  assert.ok(f.healMs !== undefined, "merged back after the heal");
  assert.ok(f.healMs < 60_000, `healed after ${f.healMs} ms`);
  assert.equal(f.falseFailures, 0, "no one on its own side, and no one after the heal");
});
