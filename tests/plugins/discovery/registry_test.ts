import assert from "node:assert/strict";
import { serveRegistry } from "../../../core/registry/server.ts";
import { parsePeers, plugin, registryUrl } from "../../../plugins/discovery/registry.ts";
import { CLUSTER, delay, ID_A, ID_B, ID_C, OTHER_CLUSTER, testContext, waitFor } from "./_ctx.ts";

Deno.test("registry plugin: URLs and peer lists are checked", () => {
  assert.equal((registryUrl("http://reg.lan:7949/") as URL).href, "http://reg.lan:7949/");
  assert.match(registryUrl("reg.lan:7949") as string, /only http and https/);
  assert.match(registryUrl("not a url") as string, /is not a URL/);
  assert.match(registryUrl("ftp://reg.lan") as string, /only http and https/);
  assert.match(registryUrl("http://reg.lan/?x=1") as string, /no query/);
  const rejected: string[] = [];
  const peers = parsePeers(
    {
      peers: [
        { id: ID_B, address: "10.0.0.2", port: 7946, cluster: CLUSTER.slice(0, 16) },
        { id: ID_A, address: "10.0.0.1", port: 7946 }, // ourselves
        { id: "nope", address: "10.0.0.3", port: 7946 },
        { id: ID_C, address: "10.0.0.4", port: 0 },
        null,
      ],
    },
    ID_A,
    (w) => rejected.push(w),
  );
  assert.deepEqual(peers, [{
    address: "10.0.0.2",
    port: 7946,
    via: "registry",
    nodeId: ID_B,
    cluster: CLUSTER.slice(0, 16),
  }]);
  assert.equal(rejected.length, 3);
  assert.deepEqual(parsePeers({}, ID_A), []);
  assert.deepEqual(parsePeers("x", ID_A), []);
});

Deno.test("registry plugin: nodes find their cluster through a real registry, and only it", async () => {
  let now = 0;
  const reg = serveRegistry({ hostname: "127.0.0.1", port: 0 }, {
    ttlMs: 3_000,
    clock: { now: () => now },
  });
  const config = { interval: 100, registry: reg.url };
  const a = testContext({ self: { id: ID_A, port: 7001 }, config });
  const b = testContext({ self: { id: ID_B, port: 7002, address: "10.9.9.9" }, config });
  const c = testContext({ self: { id: ID_C, port: 7003, cluster: OTHER_CLUSTER }, config });
  try {
    for (const t of [a, b, c]) await plugin.start(t.ctx);
    await waitFor("A to list B", () => a.found.find((x) => x.nodeId === ID_B));
    await waitFor("B to list A", () => b.found.find((x) => x.nodeId === ID_A));
    assert.deepEqual(b.found.find((x) => x.nodeId === ID_A), {
      address: "127.0.0.1", // no address announced: the registry saw the request come from here
      port: 7001,
      via: "registry",
      nodeId: ID_A,
      cluster: CLUSTER.slice(0, 16),
    });
    assert.equal(a.found.find((x) => x.nodeId === ID_B)?.address, "10.9.9.9");
    // C is in another cluster: it sees no one, and no one sees it.
    await delay(300);
    assert.deepEqual(c.found, []);
    assert.ok([...a.found, ...b.found].every((x) => x.nodeId !== ID_C));
    assert.ok(a.found.every((x) => x.nodeId !== ID_A), "A is not offered itself");

    // B stops announcing; once its TTL has passed on the registry's clock, it is listed
    // no more. (Bumped until B is gone, in case B's last request landed late.)
    b.abort();
    const prefix = CLUSTER.slice(0, 16);
    await waitFor("B to expire", () => {
      now += 3_000;
      return reg.store.peers(prefix).every((e) => e.id !== ID_B);
    });
    // A round of A that started after that (its announcement is newer): from then on
    // A's lists are of A alone.
    const roundOfA = async () => {
      const t = ++now;
      await waitFor(
        "a round of A",
        () => reg.store.peers(prefix).some((e) => e.id === ID_A && e.announcedAt >= t),
      );
    };
    await roundOfA();
    const seen = a.found.length;
    await roundOfA();
    await roundOfA();
    assert.ok(a.found.slice(seen).every((x) => x.nodeId !== ID_B), "B expired");
    assert.equal(reg.store.peers(prefix).map((e) => e.id).join(), ID_A);
  } finally {
    await plugin.stop();
    await reg.stop();
  }
  assert.deepEqual([...a.logs, ...b.logs, ...c.logs], []);
});

Deno.test("registry plugin: an outage is logged once, and its end once", async () => {
  // A port with nothing on it, then a registry on that port.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const t = testContext({ config: { interval: 50, registry: `http://127.0.0.1:${port}` } });
  await plugin.start(t.ctx);
  let reg;
  try {
    await waitFor("the outage to be logged", () => t.logs.length >= 1);
    await delay(300); // several more failed rounds
    assert.equal(t.logs.length, 1);
    assert.match(
      t.logs[0],
      /cannot reach http:\/\/127\.0\.0\.1:\d+\/: .*\(retrying every interval\)/,
    );
    reg = serveRegistry({ hostname: "127.0.0.1", port });
    await waitFor("the end of the outage", () => t.logs.length >= 2);
    assert.match(t.logs[1], /is reachable again/);
    // Only we announced: nothing to find, and nothing more to log.
    await delay(200);
    assert.equal(t.logs.length, 2);
    assert.deepEqual(t.found, []);
  } finally {
    await plugin.stop();
    await reg?.stop();
  }
});

Deno.test("registry plugin: a registry that never answers times out", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const c of listener) held.push(c); // accepted, never answered
    } catch { /* closed */ }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  const t = testContext({ config: { interval: 200, registry: `http://127.0.0.1:${port}/herd/` } });
  await plugin.start(t.ctx);
  try {
    await waitFor("the timeout to be logged", () => t.logs.length >= 1);
    assert.match(t.logs[0], /cannot reach http:\/\/127\.0\.0\.1:\d+\/herd\//);
  } finally {
    await plugin.stop();
    listener.close();
    await accepting;
    for (const c of held) c.close();
  }
});

Deno.test("registry plugin: no URL, a bad URL, or no cluster yet: said once, nothing sent", async () => {
  const none = testContext({ config: { registry: "" } });
  const bad = testContext({ config: { registry: "ftp://x" } });
  const reg = serveRegistry({ hostname: "127.0.0.1", port: 0 });
  const fresh = testContext({ self: { cluster: "" }, config: { interval: 50, registry: reg.url } });
  try {
    for (const t of [none, bad, fresh]) await plugin.start(t.ctx);
    await delay(200);
  } finally {
    await plugin.stop();
    await reg.stop();
  }
  assert.deepEqual(none.logs, [
    "registry: no registry URL set (discovery.registry): nothing to do",
  ]);
  assert.match(bad.logs.join(), /only http and https registries are supported; not running/);
  assert.deepEqual(fresh.logs, [
    "registry: this node has no cluster yet: nothing to announce or ask",
  ]);
  assert.equal(reg.store.size, 0);
});
