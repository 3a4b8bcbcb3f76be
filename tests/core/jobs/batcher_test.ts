import assert from "node:assert/strict";
import { Batcher } from "../../../core/jobs/batcher.ts";

/** A callee that answers when told to, recording each call's items. */
function callee() {
  const calls: Array<{ key: string; items: number[]; done: () => void }> = [];
  const send = (key: string, items: number[]) =>
    new Promise<string[]>((resolve) =>
      calls.push({ key, items, done: () => resolve(items.map((i) => `${key}:${i}`)) })
    );
  return { calls, send };
}
const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("batcher: the first item goes at once; those that wait meanwhile go together", async () => {
  const { calls, send } = callee();
  const b = new Batcher(send, 3);
  const first = b.add("a", 1);
  assert.equal(calls.length, 1, "sent without waiting");
  const rest = [2, 3, 4, 5].map((i) => b.add("a", i));
  const other = b.add("b", 9);
  assert.deepEqual(calls.map((c) => [c.key, c.items]), [["a", [1]], ["b", [9]]]);
  calls[0].done();
  assert.equal(await first, "a:1");
  await tick();
  assert.deepEqual(calls[2].items, [2, 3, 4], "at most maxBatch");
  calls[2].done();
  await tick();
  assert.deepEqual(calls[3].items, [5]);
  calls[3].done();
  calls[1].done();
  assert.deepEqual(await Promise.all(rest), ["a:2", "a:3", "a:4", "a:5"]);
  assert.equal(await other, "b:9");
  assert.deepEqual([b.calls, b.items], [4, 6]);
});

Deno.test("batcher: a failed call fails its items only; the next batch still goes", async () => {
  let n = 0;
  const b = new Batcher<string, number, number>(async (_, items) => {
    await Promise.resolve();
    if (n++ === 0) throw new Error("unreachable");
    return items.map((i) => i * 10);
  }, 10);
  const a = b.add("k", 1);
  const c = b.add("k", 2);
  await assert.rejects(a, /unreachable/);
  assert.equal(await c, 20);
});

Deno.test("batcher: a weight limit splits batches; a heavy item goes alone", async () => {
  const { calls, send } = callee();
  const b = new Batcher(send, 100, { weigh: (i) => i, maxWeight: 10 });
  const all = [1, 4, 5, 3, 50, 2].map((i) => b.add("k", i));
  for (const want of [[1], [4, 5], [3], [50], [2]]) {
    await tick();
    assert.deepEqual(calls.at(-1)!.items, want);
    calls.at(-1)!.done();
  }
  assert.equal((await Promise.all(all)).length, 6);
});
