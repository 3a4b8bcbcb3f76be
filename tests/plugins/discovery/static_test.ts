import assert from "node:assert/strict";
import { parsePeer, parsePeers, plugin } from "../../../plugins/discovery/static.ts";
import { checkPlugin } from "../../../plugins/loader.ts";
import { testContext, waitFor } from "./_ctx.ts";

Deno.test("static: peer entries parse as host:port, [v6]:port or a bare host", () => {
  assert.deepEqual(parsePeer("10.0.0.5:7000"), { host: "10.0.0.5", port: 7000 });
  assert.deepEqual(parsePeer("10.0.0.5"), { host: "10.0.0.5", port: 7946 });
  assert.deepEqual(parsePeer("node-1.lan:8000"), { host: "node-1.lan", port: 8000 });
  assert.deepEqual(parsePeer("pi"), { host: "pi", port: 7946 });
  assert.deepEqual(parsePeer("[::1]:7946"), { host: "::1", port: 7946 });
  assert.deepEqual(parsePeer("[fe80::1]"), { host: "fe80::1", port: 7946 });
  assert.deepEqual(parsePeer("fd00::2"), { host: "fd00::2", port: 7946 });
  assert.deepEqual(parsePeer("  10.0.0.5:1 "), { host: "10.0.0.5", port: 1 });
  for (
    const bad of [
      "",
      "10.0.0.5:",
      "10.0.0.5:0",
      "10.0.0.5:65536",
      "10.0.0.5:x",
      "[::1]:",
      "[nope]:1",
      "[]:1",
      "host name:1",
      "a:b:c",
      "-bad-:1",
      "300.1.1.1",
    ]
  ) {
    assert.equal(typeof parsePeer(bad), "string", `${JSON.stringify(bad)} should be refused`);
  }
  const bad: string[] = [];
  const peers = parsePeers(["a:1", "a:1", "A:1", "nope:0", "b"], (m) => bad.push(m));
  assert.deepEqual(peers, [{ host: "a", port: 1 }, { host: "b", port: 7946 }]);
  assert.equal(bad.length, 1);
  assert.match(bad[0], /'nope:0': port must be 1 to 65535/);
});

Deno.test("static: offers every peer each interval and logs bad entries once", async () => {
  checkPlugin(plugin, "static");
  const t = testContext({
    self: { address: "10.0.0.1", port: 7946 },
    config: { interval: 50, peers: ["10.0.0.2:7000", "[::1]", "bad:port", "10.0.0.1:7946", 42] },
  });
  await plugin.start(t.ctx);
  try {
    // Three rounds: the same peers again and again (a peer that was down gets retried).
    await waitFor("three rounds of offers", () => t.found.length >= 6);
    assert.deepEqual(t.found.slice(0, 2), [
      { address: "10.0.0.2", port: 7000, via: "static" },
      { address: "::1", port: 7946, via: "static" },
    ]);
    assert.deepEqual(t.found.slice(2, 4), t.found.slice(0, 2));
    // Ourselves (10.0.0.1:7946) is not offered.
    assert.ok(t.found.every((c) => c.address !== "10.0.0.1"));
  } finally {
    await plugin.stop();
  }
  const n = t.found.length;
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(t.found.length, n, "no offers after stop()");
  assert.equal(t.logs.filter((l) => l.includes("bad:port")).length, 1);
  assert.equal(t.logs.filter((l) => l.includes("42")).length, 1);
});

Deno.test("static: no peers, or an aborted signal, runs nothing", async () => {
  const empty = testContext();
  await plugin.start(empty.ctx);
  const aborted = testContext({ config: { peers: ["a:1"] } });
  aborted.abort();
  await plugin.start(aborted.ctx);
  await plugin.stop();
  assert.deepEqual(empty.found, []);
  assert.deepEqual(aborted.found, []);
});

Deno.test("static: aborting ctx.signal ends the session; a bad interval falls back", async () => {
  const t = testContext({ config: { peers: ["a:1"], interval: -5 } });
  await plugin.start(t.ctx);
  await waitFor("an offer", () => t.found.length >= 1);
  t.abort();
  await plugin.stop();
  assert.match(t.logs.join("\n"), /'interval' must be an integer/);
});
