// Run by mdns_test.ts inside a fresh network namespace (unshare --net) whose loopback
// has multicast on: two mdns plugin instances on one host, over real multicast on
// 224.0.0.251:5353. Not a *_test.ts file: outside such a namespace it must not run.

import assert from "node:assert/strict";
import { plugin } from "../../../plugins/discovery/mdns.ts";
import { CLUSTER, ID_A, ID_B, testContext, waitFor } from "./_ctx.ts";

Deno.test("mdns on loopback: two instances advertise, browse and find each other", async () => {
  assert.equal(Deno.env.get("HERD_MDNS_NETNS"), "1", "run me through mdns_test.ts");
  const a = testContext({ self: { id: ID_A, port: 7001 }, config: { interval: 200 } });
  const b = testContext({
    self: { id: ID_B, port: 7002, cluster: "" },
    config: { interval: 200 },
  });
  await plugin.start(a.ctx);
  await plugin.start(b.ctx);
  try {
    const seenByB = await waitFor("B to find A", () => b.found.find((c) => c.nodeId === ID_A));
    const seenByA = await waitFor("A to find B", () => a.found.find((c) => c.nodeId === ID_B));
    assert.deepEqual(seenByB, {
      address: "127.0.0.1",
      port: 7001,
      via: "mdns",
      nodeId: ID_A,
      cluster: CLUSTER.slice(0, 16),
    });
    // B has not joined a cluster yet: its TXT has no cluster.
    assert.deepEqual(seenByA, { address: "127.0.0.1", port: 7002, via: "mdns", nodeId: ID_B });
    assert.ok(a.found.every((c) => c.nodeId !== ID_A), "A does not find itself");
    assert.ok(b.found.every((c) => c.nodeId !== ID_B), "B does not find itself");
  } finally {
    await plugin.stop();
  }
  assert.deepEqual([...a.logs, ...b.logs], []);
});
