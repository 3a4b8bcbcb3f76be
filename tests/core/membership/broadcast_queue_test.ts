import assert from "node:assert/strict";
import {
  BroadcastQueue,
  MAX_QUEUED_RUMORS,
  retransmitLimit,
} from "../../../core/membership/broadcast_queue.ts";
import { aliveMsg, deadMsg, suspectMsg } from "../../../core/membership/messages.ts";

const alive = (id: string, incarnation = 1) =>
  aliveMsg({ id, address: `${id}:7946`, incarnation, meta: {} });

Deno.test("retransmit limit is mult · ceil(log10(N + 1)) (memberlist's values)", () => {
  assert.equal(retransmitLimit(3, 0), 0);
  assert.equal(retransmitLimit(3, 1), 3);
  assert.equal(retransmitLimit(3, 99), 6);
  assert.equal(retransmitLimit(4, 1000), 16);
});

Deno.test("a newer rumor about a member replaces the queued one", () => {
  const q = new BroadcastQueue(4);
  let finished = 0;
  q.enqueue("a", alive("a"), () => finished++);
  q.enqueue("b", alive("b"));
  q.enqueue("a", suspectMsg("a", 1, "b"));
  assert.equal(q.size, 2);
  assert.equal(finished, 1, "the replaced rumor is done");
  const taken = q.take(10_000, 10);
  assert.deepEqual(taken.map((r) => [r.id, r.type]), [["a", 4], ["b", 5]], "newest first");
});

Deno.test("among rumors sent equally often, the newest goes first (memberlist's order)", () => {
  const q = new BroadcastQueue(4);
  for (const id of ["a", "b", "c"]) q.enqueue(id, alive(id));
  assert.deepEqual(q.take(10_000, 10).map((r) => r.id), ["c", "b", "a"]);
  q.enqueue("d", alive("d"));
  assert.deepEqual(q.take(10_000, 10).map((r) => r.id), ["d", "c", "b", "a"]);
});

Deno.test("each rumor is sent at most the retransmit limit, least-sent first", () => {
  const q = new BroadcastQueue(1); // limit 1 · ceil(log10(N + 1)) = 2 for N = 10
  q.enqueue("old", alive("old"));
  q.take(10_000, 10); // "old" sent once
  q.enqueue("new", alive("new"));
  assert.deepEqual(q.take(10_000, 10).map((r) => r.id), ["new", "old"]);
  assert.equal(q.size, 1, "old reached its limit");
  assert.deepEqual(q.take(10_000, 10).map((r) => r.id), ["new"]);
  assert.equal(q.size, 0);
  assert.deepEqual(q.take(10_000, 10), []);
});

Deno.test("a take fits its byte budget", () => {
  const q = new BroadcastQueue(4);
  for (let i = 10; i < 30; i++) q.enqueue(`m${i}`, alive(`m${i}`));
  const one = JSON.stringify(alive("m10")).length;
  const taken = q.take(3 * one + 5, 20);
  assert.equal(taken.length, 3);
  assert.ok(JSON.stringify(taken).length <= 3 * one + 5 + 4);
});

Deno.test("the queue is bounded: past the bound the most-sent rumor goes", () => {
  const q = new BroadcastQueue(100);
  let dropped = "";
  q.enqueue("first", deadMsg("first", 1, "x"), () => (dropped = "first"));
  q.take(100, 10); // "first" is now the most sent
  for (let i = 1; i < MAX_QUEUED_RUMORS; i++) q.enqueue(`m${i}`, alive(`m${i}`));
  assert.equal(q.size, MAX_QUEUED_RUMORS);
  q.enqueue("last", alive("last"));
  assert.equal(q.size, MAX_QUEUED_RUMORS);
  assert.equal(dropped, "first");
});
