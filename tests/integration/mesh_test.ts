// Several real agents on loopback, each its own process and mesh port: they form a
// cluster with a token, detect a kill -9, take back a restarted node, see a graceful
// leave, and refuse wrong tokens.

import assert from "node:assert/strict";
import { findAgent } from "../../core/datadir.ts";
import { Agent, expectCode } from "./_harness.ts";

interface NodeRow {
  id: string;
  name: string;
  state: string;
  address: string;
  self: boolean;
  class: string;
  capacity: { cpu: number };
}

async function nodesOf(a: Agent): Promise<NodeRow[]> {
  const r = await a.herd(["nodes", "--json"]);
  expectCode(r, 0, "nodes --json");
  return JSON.parse(r.stdout);
}

async function meshAddress(a: Agent): Promise<string> {
  const r = await a.herd(["status", "--json"]);
  expectCode(r, 0, "status --json");
  return JSON.parse(r.stdout).cluster.address;
}

async function nodeId(a: Agent): Promise<string> {
  return (await findAgent(a.dataDir)).info.nodeId;
}

/** Polls until `ok` holds for what `read` gives; fails with the last reading. */
async function until<T>(
  what: string,
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T = await read();
  while (!ok(last)) {
    if (Date.now() > deadline) {
      throw new Error(`${what}: not after ${ms} ms; last: ${JSON.stringify(last, null, 1)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
    last = await read();
  }
  return last;
}

const stateOf = (rows: NodeRow[], id: string) => rows.find((r) => r.id === id)?.state;

Deno.test("three nodes form a cluster, detect a kill -9, take a restarted node back, see a leave", async () => {
  const a = await Agent.start({ args: ["--name", "node-a"] });
  const tok = await a.herd(["token"]);
  expectCode(tok, 0, "token");
  const token = tok.stdout.trim();
  assert.match(token, /^herd1\.[0-9a-f]{64}\.[A-Za-z0-9_-]{43}$/);
  const seed = await meshAddress(a);

  const b = await Agent.start({ args: ["--name", "node-b", "--join", token, "--peer", seed] });
  const c = await Agent.start({ args: ["--name", "node-c", "--join", token, "--peer", seed] });
  const ids = { a: await nodeId(a), b: await nodeId(b), c: await nodeId(c) };
  try {
    // Every node sees all three alive, with their profile summary.
    for (const n of [a, b, c]) {
      const rows = await until(
        "all alive",
        () => nodesOf(n),
        (r) => r.length === 3 && r.every((x) => x.state === "alive"),
      );
      assert.deepEqual(rows.map((r) => r.name).sort(), ["node-a", "node-b", "node-c"]);
      assert.ok(rows.every((r) => r.capacity.cpu > 0 && r.class !== ""), "meta carried");
      assert.equal(rows.filter((r) => r.self).length, 1);
    }

    // kill -9: the others mark it failed.
    const cDir = c.dataDir;
    await c.stop("SIGKILL");
    for (const n of [a, b]) {
      await until("c failed", () => nodesOf(n), (r) => stateOf(r, ids.c) === "dead");
    }

    // Restarted with its data dir and no token: it rejoins and is alive again everywhere.
    const c2 = await Agent.start({ dataDir: cDir, args: ["--name", "node-c"] });
    try {
      assert.equal(await nodeId(c2), ids.c);
      for (const n of [a, b, c2]) {
        await until(
          "c back",
          () => nodesOf(n),
          (r) => r.length === 3 && r.every((x) => x.state === "alive"),
        );
      }

      // A graceful leave is seen as left, not failed.
      const l = await b.herd(["leave"]);
      expectCode(l, 0, "leave");
      await b.stop();
      for (const n of [a, c2]) {
        await until("b left", () => nodesOf(n), (r) => stateOf(r, ids.b) === "left");
      }

      // Metrics and status tell the same story.
      const { info, token: apiToken } = await findAgent(a.dataDir);
      const metrics = await (await fetch(`${info.apiUrl}/metrics`, {
        headers: { authorization: `Bearer ${apiToken}` },
      })).text();
      assert.match(metrics, /herd_membership_members\{state="alive"\} 2/);
      assert.match(metrics, /herd_membership_members\{state="left"\} 1/);
      assert.match(metrics, /herd_transport_datagrams_received_total \d+/);
    } finally {
      await c2.stop();
    }
  } finally {
    await b.stop();
    await c.stop();
    await a.stop();
  }
});

Deno.test("wrong tokens are refused and the cluster is unchanged", async () => {
  const a = await Agent.start();
  const other = await Agent.start();
  try {
    const seed = await meshAddress(a);
    const token = (await a.herd(["token"])).stdout.trim();
    const otherToken = (await other.herd(["token"])).stdout.trim();
    const [prefix, hash] = token.split(".");
    const wrongSecret = `${prefix}.${hash}.${"A".repeat(43)}`;

    const dir = await Deno.makeTempDir({ prefix: "herd-test-" });
    // A fresh node joining on loopback; it must exit (not join and run).
    const joinWith = (t: string) =>
      a.herd([
        "up",
        "--data-dir",
        dir,
        "--api-port",
        "0",
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--profile",
        "local",
        "--join",
        t,
        "--peer",
        seed,
      ]);
    const bad = await joinWith(wrongSecret);
    assert.notEqual(bad.code, 0, "a wrong secret must not join");
    assert.match(bad.stderr, /could not join cluster .*join-bad-mac/s);

    const foreign = await joinWith(otherToken);
    assert.notEqual(foreign.code, 0, "another cluster's token must not join");
    assert.match(foreign.stderr, /could not join cluster/);

    const malformed = await a.herd(["up", "--data-dir", dir, "--join", "herd1.nope"]);
    expectCode(malformed, 2, "malformed token");
    assert.match(malformed.stderr, /not a herd join token/);

    const rows = await nodesOf(a);
    assert.equal(rows.length, 1, "nothing joined");
  } finally {
    await other.stop();
    await a.stop();
  }
});

Deno.test("/v1/events streams membership events as server-sent events", async () => {
  const a = await Agent.start({ args: ["--name", "ev-a"] });
  const { info, token: apiToken } = await findAgent(a.dataDir);
  const res = await fetch(`${info.apiUrl}/v1/events`, {
    headers: { authorization: `Bearer ${apiToken}` },
  });
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const token = (await a.herd(["token"])).stdout.trim();
  const b = await Agent.start({
    args: ["--name", "ev-b", "--join", token, "--peer", await meshAddress(a)],
  });
  try {
    let text = "";
    const deadline = Date.now() + 20_000;
    while (!/event: NodeJoined\ndata: .*"name":"ev-b"/.test(text)) {
      if (Date.now() > deadline) throw new Error(`no NodeJoined for ev-b in: ${text}`);
      const { value, done } = await Promise.race([
        reader.read(),
        new Promise<{ value: undefined; done: true }>((r) =>
          setTimeout(() => r({ value: undefined, done: true }), 20_000)
        ),
      ]);
      if (done) break;
      text += value;
    }
    assert.match(text, /id: \d+\nevent: NodeJoined\ndata: \{/);
  } finally {
    await reader.cancel();
    await b.stop();
    await a.stop();
  }
});
