// A crashed member is marked failed by every live member, within the documented bound
// (docs/membership.md): under 3 s on the lan profile up to 1,000 members.

import assert from "node:assert/strict";
import { detectionBoundMs, profileTimings, runScenario } from "../../sim/scenarios.ts";

const lan = profileTimings("lan");

for (const [nodes, seeds] of [[10, [1, 2, 3, 4, 5]], [100, [1, 2, 3]]] as const) {
  Deno.test(`${nodes} nodes: every live node marks a killed one failed within the bound`, () => {
    const bound = detectionBoundMs(nodes, lan);
    assert.ok(bound <= 3_000, `the bound itself is ${bound} ms`);
    for (const seed of seeds) {
      const f = runScenario("kill", { nodes, seed, loss: 0, minutes: 0.2, timings: lan });
      assert.ok(f.convergeMs !== undefined, "converged first");
      assert.ok(f.detectAllMs !== undefined, `seed ${seed}: not every node noticed`);
      assert.ok(f.detectAllMs <= bound, `seed ${seed}: ${f.detectAllMs} ms > ${bound} ms`);
      assert.equal(f.falseFailures, 0);
    }
  });
}

Deno.test("100 nodes, 10 % loss: the crash is still seen by all within the bound", () => {
  const f = runScenario("kill", { nodes: 100, seed: 7, loss: 0.1, minutes: 0.5, timings: lan });
  assert.ok(
    f.detectAllMs !== undefined && f.detectAllMs <= detectionBoundMs(100, lan),
    String(f.detectAllMs),
  );
  assert.equal(f.falseFailures, 0);
});
