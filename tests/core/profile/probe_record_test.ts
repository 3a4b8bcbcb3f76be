import assert from "node:assert/strict";
import { parseProbeRecord } from "../../../core/profile/probe_record.ts";

const good = {
  kind: "herd-probe-record",
  version: 1,
  description: "a test",
  arch: "aarch64",
  hostname: "pi",
  files: { "/proc/cpuinfo": "processor : 0\n" },
  dirs: { "/sys/block": ["mmcblk0"] },
  commands: { "nvidia-smi -L": { code: 9, stdout: "" } },
  addresses: { eth0: ["192.168.1.2"] },
};

Deno.test("parseProbeRecord accepts a good record and keeps it as is", () => {
  assert.deepEqual(parseProbeRecord(structuredClone(good)), good);
  const { description: _, ...noDescription } = good;
  assert.deepEqual(parseProbeRecord(noDescription), noDescription);
});

const bad: [string, unknown, RegExp][] = [
  ["not an object", 42, /'record' must be an object: got number 42/],
  ["null", null, /'record' must be an object: got null/],
  ["wrong kind", { ...good, kind: "other" }, /'kind' must be "herd-probe-record": got "other"/],
  ["wrong version", { ...good, version: 2 }, /'version' must be 1: got number 2/],
  ["description", { ...good, description: 5 }, /'description'/],
  ["missing arch", { ...good, arch: undefined }, /'arch' must be a string: got nothing/],
  ["hostname", { ...good, hostname: ["x"] }, /'hostname' must be a string: got an array/],
  ["files array", { ...good, files: [] }, /'files' must be an object: got an array/],
  [
    "file content",
    { ...good, files: { "/proc/meminfo": 1 } },
    /'files\["\/proc\/meminfo"\]' must be a string: got number 1/,
  ],
  [
    "dirs entry",
    { ...good, dirs: { "/sys/block": "sda" } },
    /'dirs\["\/sys\/block"\]' must be an array/,
  ],
  [
    "dirs item",
    { ...good, dirs: { "/sys/block": ["sda", 2] } },
    /'dirs\["\/sys\/block"\]\[1\]' must be a string/,
  ],
  [
    "command code",
    { ...good, commands: { "lspci": { code: "0", stdout: "" } } },
    /'commands\["lspci"\]\.code' must be an integer: got "0"/,
  ],
  [
    "command stdout",
    { ...good, commands: { "lspci": { code: 0 } } },
    /'commands\["lspci"\]\.stdout' must be a string/,
  ],
  [
    "addresses",
    { ...good, addresses: { eth0: "1.2.3.4" } },
    /'addresses\["eth0"\]' must be an array/,
  ],
];

for (const [what, json, message] of bad) {
  Deno.test(`parseProbeRecord rejects ${what}, naming the field`, () => {
    assert.throws(() => parseProbeRecord(json), message);
  });
}

Deno.test("parseProbeRecord keeps a '__proto__' path as data", () => {
  const json = JSON.parse(`{"kind":"herd-probe-record","version":1,"arch":"x86_64",
    "hostname":"h","files":{"__proto__":"x"},"dirs":{},"commands":{},"addresses":{}}`);
  const record = parseProbeRecord(json);
  assert.equal(Object.hasOwn(record.files, "__proto__"), true);
  assert.equal(Object.getPrototypeOf(record.files), Object.prototype);
});
