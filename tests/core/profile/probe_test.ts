import assert from "node:assert/strict";
import {
  COMMAND_TIMEOUT_EXIT_CODE,
  commandKey,
  LiveProbe,
  RecordedProbe,
  RecordingProbe,
} from "../../../core/profile/probe.ts";
import { collectProfile } from "../../../core/profile/profile.ts";
import { fixtureProbe, FIXTURES, inlineProbe } from "./_fixtures.ts";

Deno.test("RecordedProbe: what the record lacks does not exist", async () => {
  const p = inlineProbe({
    files: { "/a": "x" },
    dirs: { "/d": ["a", "b"] },
    commands: { "tool --flag": { code: 0, stdout: "out" } },
    addresses: { eth0: ["10.0.0.1"] },
  });
  assert.equal(await p.readText("/a"), "x");
  assert.equal(await p.readText("/missing"), undefined);
  assert.equal(await p.readText("constructor"), undefined, "no prototype keys");
  assert.deepEqual(await p.list("/d"), ["a", "b"]);
  assert.equal(await p.list("/missing"), undefined);
  assert.deepEqual(await p.run("tool", ["--flag"]), { code: 0, stdout: "out" });
  assert.equal(await p.run("tool", []), undefined);
  assert.deepEqual(await p.addresses(), { eth0: ["10.0.0.1"] });
  assert.equal(p.hostname(), "test");
});

Deno.test("RecordedProbe: callers cannot change the record", async () => {
  const p = inlineProbe({ dirs: { "/d": ["a"] }, addresses: { eth0: ["10.0.0.1"] } });
  (await p.list("/d"))!.push("b");
  (await p.addresses()).eth0.push("10.0.0.2");
  assert.deepEqual(await p.list("/d"), ["a"]);
  assert.deepEqual(await p.addresses(), { eth0: ["10.0.0.1"] });
});

Deno.test("RecordedProbe.fromJson validates", () => {
  assert.throws(
    () => RecordedProbe.fromJson(`{"kind":"herd-probe-record","version":2}`),
    /'version'/,
  );
});

Deno.test("RecordingProbe keeps what was read, not what was absent", async () => {
  const inner = inlineProbe({
    files: { "/a": "x", "/b": "y" },
    dirs: { "/d": ["a"] },
    commands: { "tool": { code: 3, stdout: "" } },
    addresses: { lo: ["127.0.0.1"] },
  });
  const rec = new RecordingProbe(inner);
  await rec.readText("/a");
  await rec.readText("/missing");
  await rec.list("/d");
  await rec.list("/nope");
  await rec.run("tool", []);
  await rec.run("absent", ["x"]);
  await rec.addresses();
  const record = rec.record("unit test");
  assert.deepEqual(record, {
    kind: "herd-probe-record",
    version: 1,
    description: "unit test",
    arch: "x86_64",
    hostname: "test",
    files: { "/a": "x" },
    dirs: { "/d": ["a"] },
    commands: { tool: { code: 3, stdout: "" } },
    addresses: { lo: ["127.0.0.1"] },
  });
  assert.equal("description" in rec.record(), false);
});

Deno.test("commandKey joins the command line", () => {
  assert.equal(commandKey("lspci", ["-mm", "-nn"]), "lspci -mm -nn");
});

for (const name of FIXTURES) {
  Deno.test(`record → replay round trip keeps the profile: ${name}`, async () => {
    const rec = new RecordingProbe(await fixtureProbe(name));
    const original = await collectProfile(rec);
    const replayed = await collectProfile(RecordedProbe.fromJson(JSON.stringify(rec.record())));
    assert.deepEqual(replayed, original);
  });
}

Deno.test("LiveProbe → RecordingProbe → RecordedProbe gives the same profile as live", async () => {
  const rec = new RecordingProbe(new LiveProbe());
  const live = await collectProfile(rec);
  const replayed = await collectProfile(RecordedProbe.fromJson(JSON.stringify(rec.record())));
  assert.deepEqual(replayed, live);
});

Deno.test("LiveProbe reads files and directories, undefined when absent", async () => {
  const p = new LiveProbe();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/b`, "hello");
    await Deno.writeTextFile(`${dir}/a`, "");
    assert.equal(await p.readText(`${dir}/b`), "hello");
    assert.equal(await p.readText(`${dir}/missing`), undefined);
    assert.equal(await p.readText(dir), undefined, "a directory is not a file");
    assert.deepEqual(await p.list(dir), ["a", "b"], "sorted");
    assert.equal(await p.list(`${dir}/missing`), undefined);
    assert.equal(await p.list(`${dir}/b`), undefined, "a file is not a directory");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LiveProbe.run: output, exit code, and a missing tool", async () => {
  const p = new LiveProbe();
  assert.deepEqual(await p.run("sh", ["-c", "echo hi; echo err >&2; exit 3"]), {
    code: 3,
    stdout: "hi\n",
  });
  assert.equal(await p.run("herd-no-such-tool-xyz", []), undefined);
});

Deno.test("LiveProbe.run: a hung tool is killed at the timeout", async () => {
  const p = new LiveProbe({ commandTimeoutMs: 200 });
  const started = performance.now();
  const out = await p.run("sleep", ["30"]);
  const elapsed = performance.now() - started;
  assert.deepEqual(out, { code: COMMAND_TIMEOUT_EXIT_CODE, stdout: "" });
  assert.ok(elapsed < 3_000, `took ${elapsed} ms`);
});

Deno.test("LiveProbe rejects a non-positive timeout", () => {
  assert.throws(
    () => new LiveProbe({ commandTimeoutMs: 0 }),
    /'commandTimeoutMs' must be > 0: got 0/,
  );
});

Deno.test("LiveProbe: arch, hostname and addresses of this machine", async () => {
  const p = new LiveProbe();
  assert.equal(p.arch, Deno.build.arch);
  assert.equal(p.hostname(), Deno.hostname());
  const addresses = await p.addresses();
  for (const list of Object.values(addresses)) assert.ok(list.length > 0);
});
