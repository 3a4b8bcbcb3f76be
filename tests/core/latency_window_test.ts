import assert from "node:assert/strict";
import { LatencyWindow } from "../../core/latency_window.ts";

Deno.test("latency window: nearest-rank quantiles over the last samples only", () => {
  const w = new LatencyWindow(100);
  assert.ok(Number.isNaN(w.quantiles([0.5])[0]));
  for (let i = 1; i <= 100; i++) w.add(i);
  assert.deepEqual(w.quantiles([0.5, 0.99, 1]), [50, 99, 100]);
  for (let i = 0; i < 100; i++) w.add(1000); // the window slides: the first 100 are gone
  assert.deepEqual(w.quantiles([0.5]), [1000]);
  assert.equal(w.count, 200);
  assert.equal(w.sumMs, 5050 + 100_000);
});
