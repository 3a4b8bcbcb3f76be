// What every discovery built-in promises: the contract's shape, an aborted signal
// starts nothing, stop() without start() is fine, and start/stop can repeat with every
// socket and timer closed (the test sanitizers check that). mdns is started for real
// only inside its private network namespace (mdns_test.ts), never on the host's LAN.

import assert from "node:assert/strict";
import { checkPlugin } from "../../../plugins/loader.ts";
import { BUILTIN_PLUGINS } from "../../../plugins/registry.ts";
import type { DiscoveryPlugin } from "../../../plugins/sdk.ts";
import { delay, freeUdpPort, testContext } from "./_ctx.ts";

const discovery = BUILTIN_PLUGINS.filter((p): p is DiscoveryPlugin => p.kind === "discovery");

Deno.test("discovery built-ins: the six of discovery.methods, each a valid plugin", () => {
  assert.deepEqual(discovery.map((p) => p.name).sort(), [
    "broadcast",
    "mdns",
    "peer-exchange",
    "registry",
    "static",
    "subnet",
  ]);
  for (const p of discovery) {
    checkPlugin(p, p.name);
    assert.equal(p.sdk, 1);
    assert.ok(p.description, `${p.name} has a description`);
  }
});

Deno.test("discovery built-ins: an aborted signal starts nothing; stop() alone is fine", async () => {
  for (const p of discovery) {
    await p.stop();
    const t = testContext({ config: { peers: ["10.0.0.1"], subnets: ["127.0.0.0/30"] } });
    t.abort();
    await p.start(t.ctx);
    await p.stop();
    assert.deepEqual(t.found, [], p.name);
  }
});

Deno.test("discovery built-ins: start and stop twice, on loopback, leave nothing open", async () => {
  const config = {
    interval: 50,
    peers: ["127.0.0.1:9"],
    broadcastPort: freeUdpPort(),
    broadcastTargets: ["127.0.0.1"],
    subnets: ["127.0.0.0/30"],
    scanRate: 100,
    registry: "http://127.0.0.1:9",
  };
  for (const p of discovery.filter((p) => p.name !== "mdns")) {
    for (let round = 0; round < 2; round++) {
      const t = testContext({ self: { port: 9 }, config });
      await p.start(t.ctx);
      await delay(30);
      await p.stop();
      const n = t.found.length;
      await delay(60);
      assert.equal(t.found.length, n, `${p.name} found nothing after stop()`);
    }
  }
});
