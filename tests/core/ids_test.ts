import assert from "node:assert/strict";
import { JOB_ID_PATTERN, newJobId, newNodeId } from "../../core/ids.ts";
import { seededRandom } from "../../core/clock.ts";

Deno.test("job ids sort by time and match their pattern", () => {
  const rnd = seededRandom(7);
  const a = newJobId(1_700_000_000_000, rnd);
  const b = newJobId(1_700_000_000_001, rnd);
  assert.match(a, JOB_ID_PATTERN);
  assert.ok(a < b);
});

Deno.test("a seeded generator replays the same ids", () => {
  assert.equal(newNodeId(seededRandom(42)), newNodeId(seededRandom(42)));
  assert.notEqual(newNodeId(seededRandom(42)), newNodeId(seededRandom(43)));
  assert.match(newNodeId(seededRandom(1)), /^[0-9a-z]{16}$/);
});
