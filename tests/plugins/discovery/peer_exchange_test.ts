import assert from "node:assert/strict";
import { MAX_PEERS_PER_ROUND, plugin } from "../../../plugins/discovery/peer_exchange.ts";
import type { Candidate } from "../../../plugins/sdk.ts";
import { CLUSTER, ID_A, ID_B, ID_C, testContext, waitFor } from "./_ctx.ts";

Deno.test("peer-exchange: re-offers known members every interval, without ourselves", async () => {
  const known: Candidate[] = [
    { address: "10.0.0.2", port: 7946, via: "mdns", nodeId: ID_B, cluster: CLUSTER },
    { address: "10.0.0.1", port: 7946, via: "static", nodeId: ID_A },
    { address: "not an address", port: 7946, via: "x" },
    { address: "fd00::3", port: 7000, via: "static" },
  ];
  const t = testContext({ knownPeers: () => known });
  await plugin.start(t.ctx);
  try {
    await waitFor("two rounds", () => t.found.length >= 4);
    assert.deepEqual(t.found.slice(0, 2), [
      { address: "10.0.0.2", port: 7946, via: "peer-exchange", nodeId: ID_B, cluster: CLUSTER },
      { address: "fd00::3", port: 7000, via: "peer-exchange" },
    ]);
    assert.deepEqual(t.found.slice(2, 4), t.found.slice(0, 2));
    // A member that comes back later (remembered after a restart) is offered from then on.
    known.push({ address: "10.0.0.9", port: 7946, via: "mdns", nodeId: ID_C });
    await waitFor("the new member", () => t.found.find((c) => c.nodeId === ID_C));
  } finally {
    await plugin.stop();
  }
  assert.equal(t.logs.filter((l) => /skipping a known peer: bad address/.test(l)).length, 1);
});

Deno.test("peer-exchange: a failing knownPeers() is logged, and a long list is offered in turns", async () => {
  let calls = 0;
  const many: Candidate[] = Array.from({ length: MAX_PEERS_PER_ROUND + 10 }, (_, i) => ({
    address: `10.1.${i >> 8}.${i & 255}`,
    port: 7946,
    via: "x",
  }));
  const t = testContext({
    knownPeers: () => {
      if (calls++ === 0) throw new Error("store closed");
      return many;
    },
  });
  await plugin.start(t.ctx);
  try {
    await waitFor("two rounds of offers", () => t.found.length >= MAX_PEERS_PER_ROUND + 10);
    const offered = new Set(t.found.map((c) => c.address));
    assert.equal(offered.size, many.length, "every member offered within two rounds");
  } finally {
    await plugin.stop();
  }
  assert.match(t.logs[0], /cannot read known peers: store closed/);
});
