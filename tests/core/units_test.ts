import assert from "node:assert/strict";
import { formatBytes, parseDuration, parseSize } from "../../core/units.ts";
import { UsageError } from "../../core/errors.ts";

Deno.test("parseSize reads binary units as docker does", () => {
  assert.equal(parseSize("512M"), 512 * 1024 ** 2);
  assert.equal(parseSize("512MB"), 512 * 1024 ** 2);
  assert.equal(parseSize("1.5GiB"), 1.5 * 1024 ** 3);
  assert.equal(parseSize("2g"), 2 * 1024 ** 3);
  assert.equal(parseSize("1024"), 1024);
  assert.equal(parseSize("0"), 0);
});

Deno.test("parseSize refuses what it does not fully understand", () => {
  for (const bad of ["12XB", "", "M", "-5M", "1e3", "5 M B", "0x10", "1.2.3G", "2P", "99999999T"]) {
    assert.throws(
      () => parseSize(bad, "--mem"),
      (e: Error) => e instanceof UsageError && e.message.includes("--mem"),
      bad,
    );
  }
});

Deno.test("parseDuration reads Go-style durations", () => {
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("0"), 0);
});

Deno.test("parseDuration refuses bad durations", () => {
  for (const bad of ["", "30", "s", "-1s", "1x", "1h 30m", "400d", "30sec"]) {
    assert.throws(() => parseDuration(bad, "--timeout"), UsageError, bad);
  }
});

Deno.test("formatBytes", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(512 * 1024 ** 2), "512 MiB");
  assert.equal(formatBytes(1.5 * 1024 ** 3), "1.5 GiB");
});
