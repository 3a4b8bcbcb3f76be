// Lifeguard's claim, checked: 10 % loss on every link for 10 simulated minutes makes
// no member mark a live one failed. N = 100 (about 4 s of wall time).

import assert from "node:assert/strict";
import { profileTimings, runScenario } from "../../sim/scenarios.ts";

Deno.test("100 nodes, 10 % loss on every link, 10 minutes: no false failure", () => {
  const f = runScenario("loss", {
    nodes: 100,
    seed: 1,
    loss: 0.1,
    minutes: 10,
    timings: profileTimings("lan"),
  });
  assert.equal(f.measuredMs, 600_000);
  assert.equal(f.falseFailures, 0, `${f.suspicions} suspicions, ${f.refutes} refutes`);
});
