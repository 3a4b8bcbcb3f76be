import assert from "node:assert/strict";
import { profileTimings, runScenario } from "../../sim/scenarios.ts";

Deno.test("the same seed gives the same event trace and figures; another seed does not", () => {
  const opts = { nodes: 60, loss: 0.05, minutes: 0.5, timings: profileTimings("lan") };
  const { wallMs: _a, ...one } = runScenario("kill", { ...opts, seed: 11 });
  const { wallMs: _b, ...two } = runScenario("kill", { ...opts, seed: 11 });
  const { wallMs: _c, ...other } = runScenario("kill", { ...opts, seed: 12 });
  assert.deepEqual(one, two);
  assert.notEqual(one.traceHash, other.traceHash);
});
