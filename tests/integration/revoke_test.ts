// `herd revoke`: the CA holder revokes a member; the others learn the signed list from
// it, close and refuse the revoked node's connections, and keep refusing after a restart.
// Three real agents on loopback.

import assert from "node:assert/strict";
import { Agent, expectCode, FIXTURES, until } from "./_harness.ts";

interface Row {
  id: string;
  name: string;
  state: string;
}

const nodes = async (a: Agent): Promise<Row[]> =>
  JSON.parse((await a.herd(["nodes", "--json"])).stdout) as Row[];
const stateOf = async (a: Agent, name: string) =>
  (await nodes(a)).find((n) => n.name === name)?.state;

Deno.test("herd revoke: members drop and refuse the revoked node, and remember it after a restart", async () => {
  const started: Agent[] = [];
  const start = async (name: string, extra: string[] = [], dataDir?: string) => {
    const a = await Agent.start({
      dataDir,
      args: ["--name", name, "--profile-from", `${FIXTURES}machines/intel-nuc.json`, ...extra],
    });
    started.push(a);
    return a;
  };
  try {
    const ca = await start("ca");
    const token = (await ca.herd(["token"])).stdout.trim();
    const seed = JSON.parse((await ca.herd(["status", "--json"])).stdout).cluster.address;
    const b = await start("b", ["--join", token, "--peer", seed]);
    const c = await start("c", ["--join", token, "--peer", seed]);
    await until(
      "all three alive at b",
      async () => (await nodes(b)).filter((n) => n.state === "alive").length === 3,
      30_000,
    );
    const cId = (await nodes(b)).find((n) => n.name === "c")!.id;

    // Only the CA holder revokes; itself and strangers are refused.
    const notCa = await b.herd(["revoke", "c"]);
    assert.notEqual(notCa.code, 0);
    assert.match(notCa.stderr, /only the node that holds the cluster CA key can revoke/);
    assert.match(notCa.stderr, /herd revoke' on ca/);
    assert.notEqual((await ca.herd(["revoke", "ca"])).code, 0);
    const unknown = await ca.herd(["revoke", "nosuchnode"]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no member 'nosuchnode'/);

    const r = await ca.herd(["revoke", "c", "--reason", "laptop stolen", "--json"]);
    expectCode(r, 0, "revoke c");
    assert.equal(JSON.parse(r.stdout).revoked, cId);
    assert.notEqual((await ca.herd(["revoke", cId])).code, 0, "revoked twice");

    // b learns the list from the CA holder, drops c, and c cannot get back in.
    await until("b to hold the list", async () => {
      const l = JSON.parse((await b.herd(["revoke", "--list", "--json"])).stdout);
      return l.version === 1 && l.entries[0]?.nodeId === cId &&
        l.entries[0]?.reason === "laptop stolen";
    }, 20_000);
    for (const a of [ca, b]) {
      await until(
        `${a === ca ? "ca" : "b"} to mark c failed`,
        async () => (await stateOf(a, "c")) === "dead",
        20_000,
      );
    }
    await until(
      "c to be told it is refused",
      () => Promise.resolve(/cert-revoked/.test(c.stderr)),
      20_000,
    );
    // It stays out: c keeps trying (push-pulls to failed members, probes), and is refused.
    await new Promise((res) => setTimeout(res, 3_000));
    assert.equal(await stateOf(b, "c"), "dead");
    assert.equal(await stateOf(ca, "c"), "dead");
    const row = (await nodes(b)).find((n) => n.name === "c") as Row & { revoked?: boolean };
    assert.equal(row.revoked, true);
    assert.match((await b.herd(["nodes"])).stdout, /dead \(revoked\)/);

    // b restarted: the list comes from its own store, before it meets anyone.
    await b.stop();
    started.splice(started.indexOf(b), 1);
    const b2 = await start("b", [], b.dataDir);
    const l = JSON.parse((await b2.herd(["revoke", "--list", "--json"])).stdout);
    assert.equal(l.version, 1);
    assert.equal(l.entries[0].nodeId, cId);
    await until("b, restarted, to see ca alive and c not", async () => {
      const n = await nodes(b2);
      return n.find((m) => m.name === "ca")?.state === "alive" &&
        n.find((m) => m.name === "c")?.state !== "alive";
    }, 20_000);
  } finally {
    for (const a of started) await a.stop().catch(() => {});
  }
});
