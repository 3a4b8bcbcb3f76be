import assert from "node:assert/strict";
import { seededRng } from "../../../core/membership/rng.ts";
import { realScheduler, TimerGroup } from "../../../core/membership/scheduler.ts";
import { VirtualScheduler } from "../../../sim/virtual_scheduler.ts";

Deno.test("a seeded rng replays; floats in [0, 1), ints in [0, n), shuffles permute", () => {
  const a = seededRng(42);
  const b = seededRng(42);
  const xs = Array.from({ length: 1_000 }, () => a.float());
  assert.deepEqual(xs, Array.from({ length: 1_000 }, () => b.float()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const counts = [0, 0, 0];
  for (let i = 0; i < 3_000; i++) counts[a.int(3)]++;
  assert.ok(counts.every((c) => c > 900 && c < 1_100), String(counts));
  assert.equal(a.int(0), 0);
  assert.deepEqual(a.shuffle([1, 2, 3, 4, 5]).sort(), [1, 2, 3, 4, 5]);
});

Deno.test("a timer group cancels everything its owner started", () => {
  const v = new VirtualScheduler();
  const g = new TimerGroup(v);
  const ran: number[] = [];
  g.after(10, () => ran.push(1));
  const cancel = g.after(20, () => ran.push(2));
  g.after(30, () => ran.push(3));
  cancel();
  v.runFor(15);
  assert.equal(g.size, 1);
  g.cancelAll();
  v.runFor(100);
  assert.deepEqual(ran, [1]);
  assert.equal(g.size, 0);
});

Deno.test("the real scheduler runs and cancels on the event loop", async () => {
  const ran: string[] = [];
  const cancel = realScheduler.after(5, () => ran.push("cancelled"));
  cancel();
  const t0 = realScheduler.now();
  await new Promise<void>((resolve) => realScheduler.after(10, () => (ran.push("ran"), resolve())));
  assert.deepEqual(ran, ["ran"]);
  assert.ok(realScheduler.now() - t0 >= 9);
});
