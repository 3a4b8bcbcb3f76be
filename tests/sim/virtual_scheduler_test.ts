import assert from "node:assert/strict";
import { VirtualScheduler } from "../../sim/virtual_scheduler.ts";

Deno.test("timers run in time order, ties in creation order, cancelled ones never", () => {
  const v = new VirtualScheduler();
  const ran: string[] = [];
  v.after(20, () => ran.push("b@20"));
  v.after(10, () => ran.push("a@10"));
  v.after(20, () => ran.push("c@20"));
  const cancel = v.after(15, () => ran.push("cancelled"));
  v.after(0, () => v.after(5, () => ran.push(`nested@${v.now()}`)));
  cancel();
  v.runFor(19);
  assert.deepEqual(ran, ["nested@5", "a@10"]);
  assert.equal(v.now(), 19);
  v.runFor(1);
  assert.deepEqual(ran, ["nested@5", "a@10", "b@20", "c@20"]);
  assert.equal(v.events, 5);
});

Deno.test("runUntil stops when the condition holds, or gives up at the limit", () => {
  const v = new VirtualScheduler();
  let n = 0;
  const tick = () => (n++, v.after(100, tick));
  tick();
  assert.equal(v.runUntil(() => n >= 5, 10_000, 10), 400);
  assert.equal(v.runUntil(() => false, 1_000), undefined);
  assert.equal(v.now(), 1_400);
});
