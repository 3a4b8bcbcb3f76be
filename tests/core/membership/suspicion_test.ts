import assert from "node:assert/strict";
import {
  Suspicion,
  suspicionBounds,
  suspicionTimeout,
} from "../../../core/membership/suspicion.ts";

// memberlist's suspicion_test (remainingSuspicionTime), as total timeout − elapsed.
Deno.test("the timeout shrinks on a log scale with confirmations, down to the min", () => {
  const b = { minMs: 2_000, maxMs: 30_000, expected: 3 };
  const cases: [confirmations: number, elapsedMs: number, remainingMs: number][] = [
    [0, 0, 30_000],
    [1, 2_000, 14_000],
    [2, 3_000, 4_810],
    [3, 4_000, -2_000],
    [4, 5_000, -3_000],
    [5, 10_000, -8_000],
  ];
  for (const [n, elapsed, remaining] of cases) {
    assert.equal(suspicionTimeout(n, b) - elapsed, remaining, `n=${n}`);
  }
});

Deno.test("with no confirmations expected, the timeout is the min", () => {
  assert.equal(suspicionTimeout(0, { minMs: 500, maxMs: 3_000, expected: 0 }), 500);
});

// memberlist's TestSuspicionTimeout: mult · max(1, log10 N) · interval.
Deno.test("bounds scale with log10 of the cluster size", () => {
  const t = { suspicionMult: 3, suspicionMaxTimeoutMult: 6, suspicionUnitMs: 1_000 };
  const mins: [number, number][] = [[5, 3_000], [10, 3_000], [50, 5_096], [100, 6_000], [
    500,
    8_096,
  ], [1000, 9_000]];
  for (const [n, min] of mins) {
    const b = suspicionBounds(n, t);
    assert.equal(b.minMs, min, `n=${n}`);
    assert.equal(b.maxMs, 6 * min);
  }
  assert.equal(suspicionBounds(100, t).expected, 1, "K = suspicionMult − 2");
  assert.equal(suspicionBounds(2, t).expected, 0, "too few members to confirm");
  assert.equal(suspicionBounds(100, { ...t, suspicionMult: 1 }).expected, 0);
});

// memberlist's TestSuspicion_Timer: the accuser and repeats do not count.
Deno.test("confirmations count distinct accusers other than the first, up to K", () => {
  const s = new Suspicion("me", { minMs: 500, maxMs: 2_000, expected: 3 }, 10_000);
  assert.equal(s.deadline, 12_000);
  assert.equal(s.confirm("me"), false, "the first accuser");
  assert.equal(s.confirm("foo"), true);
  assert.equal(s.confirm("foo"), false, "a repeat");
  assert.equal(s.deadline, 10_000 + 1_250);
  assert.equal(s.confirm("bar"), true);
  assert.equal(s.confirm("baz"), true);
  assert.equal(s.deadline, 10_500);
  assert.equal(s.confirm("qux"), false, "past K: nothing changes");
  assert.equal(s.confirmations, 3);
});
