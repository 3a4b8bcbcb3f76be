import assert from "node:assert/strict";
import { Awareness } from "../../../core/membership/awareness.ts";

// memberlist's awareness_test.
Deno.test("the score is clamped to [0, max-1] and scales timeouts by score+1", () => {
  const a = new Awareness(8);
  const steps: [delta: number, score: number, scaled: number][] = [
    [0, 0, 1_000],
    [-1, 0, 1_000],
    [-10, 0, 1_000],
    [1, 1, 2_000],
    [-1, 0, 1_000],
    [10, 7, 8_000],
    [-1, 6, 7_000],
    [-1, 5, 6_000],
    [-1, 4, 5_000],
    [-1, 3, 4_000],
    [-1, 2, 3_000],
    [-1, 1, 2_000],
    [-1, 0, 1_000],
    [-1, 0, 1_000],
  ];
  for (const [delta, score, scaled] of steps) {
    a.applyDelta(delta);
    assert.equal(a.score, score);
    assert.equal(a.scale(1_000), scaled);
  }
});

Deno.test("a multiplier below 1 is refused, naming the setting", () => {
  assert.throws(
    () => new Awareness(0),
    /'awarenessMaxMultiplier' must be a whole number >= 1: got 0/,
  );
});
