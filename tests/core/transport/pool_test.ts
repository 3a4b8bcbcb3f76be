import assert from "node:assert/strict";
import { ConfigError } from "../../../core/errors.ts";
import { ConnectionPool, type DropReason } from "../../../core/transport/pool.ts";
import { VirtualScheduler } from "../../../sim/virtual_scheduler.ts";

function pool(maxConnections: number, idleTimeoutMs = 1_000) {
  const sched = new VirtualScheduler();
  const dropped: Array<[string, string, DropReason]> = [];
  const p = new ConnectionPool<string>({
    maxConnections,
    idleTimeoutMs,
    scheduler: sched,
    onDrop: (id, conn, why) => dropped.push([id, conn, why]),
  });
  return { p, sched, dropped };
}

Deno.test("pool: past the cap, the least recently used goes", () => {
  const { p, dropped } = pool(2);
  p.add("a", "A");
  p.add("b", "B");
  p.touch("a", "A"); // b is now the least recently used
  p.add("c", "C");
  assert.deepEqual(dropped, [["b", "B", "evicted"]]);
  assert.deepEqual(p.ids().sort(), ["a", "c"]);
  assert.equal(p.get("b"), undefined);
});

Deno.test("pool: the newest connection to a peer replaces the old one", () => {
  const { p, dropped } = pool(4);
  p.add("a", "A1");
  p.add("a", "A2");
  assert.deepEqual(dropped, [["a", "A1", "replaced"]]);
  assert.equal(p.get("a"), "A2");
  assert.equal(p.size, 1);
  // the old one closing later does not remove the new one
  assert.equal(p.remove("a", "A1"), false);
  assert.equal(p.remove("a", "A2"), true);
  assert.equal(p.size, 0);
});

Deno.test("pool: a connection without traffic for idleTimeout is closed", () => {
  const { p, sched, dropped } = pool(8, 1_000);
  p.add("a", "A");
  p.add("b", "B");
  sched.runFor(600);
  p.touch("a", "A");
  sched.runFor(500); // b: 1,100 ms idle; a: 500
  assert.deepEqual(dropped, [["b", "B", "idle"]]);
  sched.runFor(499);
  assert.equal(dropped.length, 1);
  sched.runFor(2);
  assert.deepEqual(dropped[1], ["a", "A", "idle"]);
  assert.equal(p.size, 0);
  // nothing left: no timer keeps running
  sched.runFor(10_000);
  assert.equal(dropped.length, 2);
});

Deno.test("pool: touching a connection the pool does not hold changes nothing", () => {
  const { p, sched, dropped } = pool(8, 1_000);
  p.add("a", "A2");
  sched.runFor(900);
  p.touch("a", "A1");
  p.touch("zz", "Z");
  sched.runFor(200);
  assert.deepEqual(dropped, [["a", "A2", "idle"]]);
});

Deno.test("pool: clear() hands everything back and stops the timer", () => {
  const { p, sched, dropped } = pool(8);
  p.add("a", "A");
  p.add("b", "B");
  assert.deepEqual(p.clear().sort(), ["A", "B"]);
  sched.runFor(10_000);
  assert.deepEqual(dropped, []);
});

Deno.test("pool: bad settings are ConfigErrors naming the setting", () => {
  const scheduler = new VirtualScheduler();
  const onDrop = () => {};
  assert.throws(
    () => new ConnectionPool({ maxConnections: 0, idleTimeoutMs: 1, scheduler, onDrop }),
    /'transport\.maxConnections'/,
  );
  assert.throws(
    () => new ConnectionPool({ maxConnections: 1, idleTimeoutMs: 0, scheduler, onDrop }),
    (e: unknown) => e instanceof ConfigError && /'transport\.idleTimeout'/.test(e.message),
  );
});
