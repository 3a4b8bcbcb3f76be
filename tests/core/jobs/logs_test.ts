import assert from "node:assert/strict";
import {
  LogHub,
  LogWriter,
  MAX_STORED_CHUNK,
  merge,
  readStoredLogs,
} from "../../../core/jobs/logs.ts";

const enc = new TextEncoder();
const text = (chunks: { data: Uint8Array }[]) =>
  new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c.data])));

Deno.test("merge joins neighbours of one stream and keeps seq ranges", () => {
  const m = merge([
    { seq: 1, last: 1, stream: "stdout", data: enc.encode("a") },
    { seq: 2, last: 2, stream: "stdout", data: enc.encode("b") },
    { seq: 3, last: 3, stream: "stderr", data: enc.encode("c") },
  ]);
  assert.equal(m.length, 2);
  assert.deepEqual([m[0].seq, m[0].last, text([m[0]])], [1, 2, "ab"]);
  assert.equal(m[1].stream, "stderr");
});

Deno.test("the stored tail is bounded and live followers see everything", async () => {
  const kv = await Deno.openKv(":memory:");
  const hub = new LogHub();
  const live: string[] = [];
  hub.subscribe("j", {
    chunk: (c) => void live.push(new TextDecoder().decode(c.data)),
    end: () => {},
  });
  const w = new LogWriter(kv, hub, "j", 8192, 5, (e) => {
    throw e;
  });
  for (let i = 0; i < 100; i++) {
    w.write("stdout", enc.encode(`line ${String(i).padStart(3, "0")} ${"x".repeat(200)}\n`));
    if (i % 10 === 0) await new Promise((r) => setTimeout(r, 10));
  }
  await w.close();
  assert.equal(live.length, 100);
  const stored = await readStoredLogs(kv, "j");
  const bytes = stored.reduce((n, c) => n + c.data.length, 0);
  assert.ok(bytes <= 8192 + MAX_STORED_CHUNK, `stored ${bytes}`);
  assert.ok(text(stored).endsWith(`line 099 ${"x".repeat(200)}\n`));
  assert.equal(w.totalBytes, 100 * 210); // "line NNN " + 200 x + newline
  assert.equal(w.droppedBytes + bytes, w.totalBytes);
  kv.close();
});

Deno.test("a chunk larger than one KV value is split, not lost", async () => {
  const kv = await Deno.openKv(":memory:");
  const w = new LogWriter(kv, new LogHub(), "big", 1024 * 1024, 5, (e) => {
    throw e;
  });
  const big = new Uint8Array(200 * 1024).fill(65);
  w.write("stdout", big);
  await w.close();
  const stored = await readStoredLogs(kv, "big");
  assert.equal(stored.reduce((n, c) => n + c.data.length, 0), big.length);
  kv.close();
});

Deno.test("a burst larger than one KV commit is stored in several (a fast producer cannot crash the agent)", async () => {
  const kv = await Deno.openKv(":memory:");
  const errors: Error[] = [];
  const w = new LogWriter(kv, new LogHub(), "burst", 4 * 1024 * 1024, 1000, (e) => errors.push(e));
  for (let i = 0; i < 64; i++) w.write("stdout", new Uint8Array(64 * 1024).fill(66));
  await w.close();
  assert.deepEqual(errors, []);
  const stored = await readStoredLogs(kv, "burst");
  assert.equal(stored.reduce((n, c) => n + c.data.length, 0), 4 * 1024 * 1024);
  kv.close();
});

Deno.test("a failed store write is reported and counted as dropped, not thrown", async () => {
  const kv = await Deno.openKv(":memory:");
  const errors: Error[] = [];
  const w = new LogWriter(kv, new LogHub(), "closed", 1024 * 1024, 5, (e) => errors.push(e));
  kv.close();
  w.write("stdout", new TextEncoder().encode("lost\n"));
  await w.close();
  assert.equal(errors.length, 1);
  assert.equal(w.droppedBytes, 5);
});
