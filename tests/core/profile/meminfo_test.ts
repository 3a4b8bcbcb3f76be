import assert from "node:assert/strict";
import { meminfoFields, parseMeminfo } from "../../../core/profile/meminfo.ts";
import { garbage, GiB, loadRecord } from "./_fixtures.ts";

Deno.test("meminfo: kB to bytes", () => {
  const text = "MemTotal:       16303788 kB\nMemFree:         1000000 kB\n" +
    "MemAvailable:   12000000 kB\nHugePages_Total:       0\n";
  assert.deepEqual(parseMeminfo(text), {
    totalBytes: 16303788 * 1024,
    availableBytes: 12000000 * 1024,
  });
  assert.equal(meminfoFields(text).get("HugePages_Total"), 0, "counts stay counts");
});

Deno.test("meminfo: before MemAvailable (Linux < 3.14), free + buffers + cached", () => {
  const text = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 200 kB\n";
  assert.equal(parseMeminfo(text).availableBytes, 350 * 1024);
});

Deno.test("meminfo: fixtures", async () => {
  const pi = parseMeminfo((await loadRecord("raspberry-pi-4")).files["/proc/meminfo"]);
  assert.ok(pi.totalBytes > 3.5 * GiB && pi.totalBytes < 4 * GiB);
  const server = parseMeminfo((await loadRecord("server-8xh100")).files["/proc/meminfo"]);
  assert.ok(server.totalBytes > 1.9 * 1024 * GiB);
  assert.ok(server.availableBytes <= server.totalBytes);
});

Deno.test("meminfo: empty and garbage", () => {
  for (const text of [undefined, "", "MemTotal: lots\n", "MemTotal:\n", garbage(2, 3000)]) {
    const m = parseMeminfo(text);
    assert.ok(m.totalBytes >= 0 && m.availableBytes >= 0 && m.availableBytes <= m.totalBytes);
  }
  assert.deepEqual(parseMeminfo(""), { totalBytes: 0, availableBytes: 0 });
});
