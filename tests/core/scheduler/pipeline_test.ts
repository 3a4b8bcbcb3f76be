import assert from "node:assert/strict";
import { PolicyError } from "../../../core/errors.ts";
import { seededRng } from "../../../core/membership/rng.ts";
import { rank } from "../../../core/scheduler/pipeline.ts";
import type { NodeSnapshot, SchedulingPolicy } from "../../../plugins/sdk.ts";
import { ctx, GiB, ids, job, node, nodes } from "./_nodes.ts";

/** A policy that scores by a table, for the pipeline's own behaviour. */
function byTable(table: Record<string, number>, extra: Partial<SchedulingPolicy> = {}) {
  return {
    kind: "scheduling-policy",
    name: "table",
    sdk: 1,
    score: (_job, n) => table[n.id],
    ...extra,
  } satisfies SchedulingPolicy;
}

Deno.test("rank: filters, then score, best first; refusals in snapshot order with filter and reason", () => {
  const snapshot = nodes(
    { id: "a" },
    { id: "b", free: { cpu: 0.5 } },
    { id: "c", arch: "aarch64" },
    { id: "d", onBattery: true, batteryPercent: 10, class: "Laptop" },
    { id: "e" },
  );
  const r = rank(
    job({ cpu: 1 }),
    snapshot,
    byTable({ a: 1, b: 9, c: 9, d: 9, e: 2 }),
    ctx(),
  );
  // c is aarch64, which this job does not mind.
  assert.deepEqual(ids(r.ranked), ["c", "e", "a"]);
  assert.deepEqual(r.ranked.map((x) => x.score), [9, 2, 1]);
  assert.deepEqual(
    r.rejected.map((x) => [x.node.id, x.filter, x.reason]),
    [
      ["b", "resources", "needs 1 CPUs; 0.5 free"],
      ["d", "power", "on battery at 10 %; needs 20 % (or allowLowBattery)"],
    ],
  );
  // An arch constraint brings the arch filter in, and it refuses first.
  const r2 = rank(
    job({}, { arch: "x86_64" }),
    snapshot,
    byTable({ a: 1, b: 1, c: 1, d: 1, e: 1 }),
    ctx(),
  );
  assert.deepEqual(r2.rejected.map((x) => [x.node.id, x.filter]), [
    ["b", "resources"],
    ["c", "arch"],
    ["d", "power"],
  ]);
});

Deno.test("rank: equal scores in node id order, whatever the snapshot's order", () => {
  const snapshot = [node({ id: "m" }), node({ id: "c" }), node({ id: "x" }), node({ id: "a" })];
  const policy = byTable({ m: 1, c: 1, x: 2, a: 1 });
  const r = rank(job(), snapshot, policy, ctx());
  assert.deepEqual(ids(r.ranked), ["x", "a", "c", "m"]);
  const reversed = rank(job(), [...snapshot].reverse(), policy, ctx());
  assert.deepEqual(ids(reversed.ranked), ["x", "a", "c", "m"]);
});

Deno.test("rank: deterministic — the same input twice gives the same answer, a shuffle the same ranking", () => {
  const rng = seededRng(3);
  const snapshot: NodeSnapshot[] = [];
  const table: Record<string, number> = {};
  for (let i = 0; i < 300; i++) {
    const id = `n${rng.int(1e9)}`;
    snapshot.push(node({ id, free: { cpu: rng.int(8) } }));
    table[id] = rng.int(5); // many ties
  }
  const policy = byTable(table);
  const a = rank(job({ cpu: 2 }), snapshot, policy, ctx());
  const b = rank(job({ cpu: 2 }), snapshot, policy, ctx());
  assert.deepEqual(ids(a.ranked), ids(b.ranked));
  assert.deepEqual(a.rejected.map((x) => x.reason), b.rejected.map((x) => x.reason));
  const shuffled = rank(job({ cpu: 2 }), rng.shuffle([...snapshot]), policy, ctx());
  assert.deepEqual(ids(shuffled.ranked), ids(a.ranked));
});

Deno.test("select: exact order against a comparator sort, near-ties and ties included", () => {
  const rng = seededRng(11);
  for (let round = 0; round < 40; round++) {
    const n = 1 + rng.int(700);
    const snapshot: NodeSnapshot[] = [];
    const table: Record<string, number> = {};
    const base = [0, -0, 1, -1, 0.1, 1e-300, -1e300, 12345.678, 2 ** 52];
    for (let i = 0; i < n; i++) {
      const id = `id-${rng.int(1e6)}-${i}`;
      snapshot.push(node({ id }));
      const b = base[rng.int(base.length)];
      // Scores that differ only in their last bits, to defeat the packed keys' truncation.
      const ulps = rng.int(4);
      let s = b;
      for (let u = 0; u < ulps; u++) s = nextUp(s);
      table[id] = rng.float() < 0.3 ? rng.float() * 10 - 5 : s;
    }
    const r = rank(job(), snapshot, byTable(table), ctx());
    const expected = [...snapshot].sort((x, y) =>
      table[y.id] - table[x.id] || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)
    );
    assert.deepEqual(ids(r.ranked), expected.map((x) => x.id), `round ${round}`);
  }
});

/** The next float64 above x. */
function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x;
  if (x === 0) return Number.MIN_VALUE;
  const f = new Float64Array([x]);
  const b = new BigInt64Array(f.buffer);
  b[0] += x > 0 ? 1n : -1n;
  return f[0];
}

Deno.test("rank: the policy's own filter runs after the core's; non-finite scores are refused", () => {
  const snapshot = nodes({ id: "a" }, { id: "b" }, { id: "c" }, { id: "d", free: { cpu: 0 } });
  const policy = byTable({ a: NaN, b: 1, c: 2, d: 3 }, {
    filter: (_job, n) => (n.id === "c" || n.id === "d" ? `no ${n.id}` : undefined),
  });
  const r = rank(job(), snapshot, policy, ctx());
  assert.deepEqual(ids(r.ranked), ["b"]);
  assert.deepEqual(r.rejected.map((x) => [x.node.id, x.filter, x.reason]), [
    ["a", "policy", "the policy scored NaN; a score must be a finite number"],
    ["c", "policy", "no c"],
    ["d", "resources", "needs 1 CPUs; 0 free"],
  ]);
});

Deno.test("rank: a policy that throws is a PolicyError naming it and the node", () => {
  const policy = byTable({}, {
    score: (_j, n) => {
      if (n.id === "b") throw new Error("boom");
      return 1;
    },
  });
  assert.throws(
    () => rank(job(), nodes({ id: "a" }, { id: "b" }), policy, ctx()),
    (e: Error) =>
      e instanceof PolicyError && e.reason === "failed" &&
      e.message === "policy table: score() threw on node b: boom",
  );
});

Deno.test("rank: no node at all, and no feasible node", () => {
  const empty = rank(job(), [], byTable({}), ctx());
  assert.deepEqual(empty.ranked, []);
  assert.deepEqual(empty.rejected, []);
  const none = rank(job({ memBytes: 64 * GiB }), nodes({ id: "a" }), byTable({ a: 1 }), ctx());
  assert.deepEqual(none.ranked, []);
  assert.equal(none.rejected[0].reason, "needs 64 GiB of memory; 16 GiB free");
});

Deno.test("rank: the snapshot is left as it was", () => {
  const snapshot = nodes({ id: "b" }, { id: "a", free: { cpu: 0 } });
  const copy = structuredClone(snapshot);
  const r = rank(job(), snapshot, byTable({ a: 1, b: 1 }), ctx());
  void r.rejected;
  assert.deepEqual(snapshot, copy);
});
