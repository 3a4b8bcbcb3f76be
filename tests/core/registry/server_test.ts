import assert from "node:assert/strict";
import { createRegistry, type RegistryOptions } from "../../../core/registry/server.ts";

const CLUSTER = "ab".repeat(32);
const OTHER = "cd".repeat(32);
const ID_A = "aaaaaaaaaaaaaaaa";
const ID_B = "bbbbbbbbbbbbbbbb";
const ID_C = "cccccccccccccccc";

/** A registry on a hand-driven clock; requests come "from" the given source address. */
function registry(options: Partial<RegistryOptions> = {}) {
  let now = 1_000_000;
  const r = createRegistry({ clock: { now: () => now }, ...options });
  const send = (path: string, init: RequestInit = {}, source = "10.0.0.50") =>
    r.app.request(path, init, {
      remoteAddr: { transport: "tcp", hostname: source, port: 40000 },
    });
  const announce = (body: unknown, source?: string) =>
    send("/v1/announce", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    }, source);
  const peers = async (cluster: string, source?: string) =>
    (await (await send(`/v1/peers?cluster=${cluster}`, {}, source)).json()).peers;
  return { ...r, send, announce, peers, advance: (ms: number) => void (now += ms) };
}

Deno.test("registry: announce and list; the source address stands in for a missing one", async () => {
  const r = registry();
  const res = await r.announce({ id: ID_A, port: 7946, cluster: CLUSTER });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { address: "10.0.0.50", ttlMs: 30_000 });
  r.advance(1);
  assert.equal(
    (await r.announce({ id: ID_B, port: 7000, cluster: CLUSTER, address: "192.168.1.9" })).status,
    200,
  );
  assert.deepEqual(await r.peers(CLUSTER.slice(0, 16)), [
    { id: ID_B, address: "192.168.1.9", port: 7000, cluster: CLUSTER.slice(0, 16) },
    { id: ID_A, address: "10.0.0.50", port: 7946, cluster: CLUSTER.slice(0, 16) },
  ]);
  // The full fingerprint and its upper-case spelling name the same cluster.
  assert.equal((await r.peers(CLUSTER.toUpperCase())).length, 2);
  // A re-announcement replaces the entry, it does not add one.
  await r.announce({ id: ID_A, port: 7950, cluster: CLUSTER });
  assert.equal((await r.peers(CLUSTER)).length, 2);
  assert.equal(r.store.size, 2);
  const health = await r.send("/healthz");
  assert.deepEqual(await health.json(), { ok: true, entries: 2 });
});

Deno.test("registry: clusters are isolated", async () => {
  const r = registry();
  await r.announce({ id: ID_A, port: 7946, cluster: CLUSTER });
  await r.announce({ id: ID_B, port: 7946, cluster: OTHER });
  assert.deepEqual((await r.peers(CLUSTER)).map((p: { id: string }) => p.id), [ID_A]);
  assert.deepEqual((await r.peers(OTHER)).map((p: { id: string }) => p.id), [ID_B]);
  assert.deepEqual(await r.peers("ef".repeat(8)), []);
});

Deno.test("registry: entries expire after the TTL unless announced again", async () => {
  const r = registry({ ttlMs: 30_000 });
  await r.announce({ id: ID_A, port: 7946, cluster: CLUSTER });
  await r.announce({ id: ID_B, port: 7946, cluster: CLUSTER });
  r.advance(20_000);
  await r.announce({ id: ID_B, port: 7946, cluster: CLUSTER }); // B keeps announcing
  r.advance(9_999);
  assert.equal((await r.peers(CLUSTER)).length, 2);
  r.advance(1);
  assert.deepEqual((await r.peers(CLUSTER)).map((p: { id: string }) => p.id), [ID_B]);
  r.advance(20_000);
  assert.deepEqual(await r.peers(CLUSTER), []);
  assert.equal(r.store.size, 0);
});

Deno.test("registry: malformed announcements and queries are refused with what is wrong", async () => {
  const r = registry();
  const good = { id: ID_A, port: 7946, cluster: CLUSTER };
  const cases: [unknown, RegExp][] = [
    ["not json", /not JSON/],
    [[], /must be a JSON object/],
    [null, /must be a JSON object/],
    [{ ...good, id: "ABC" }, /id must be a node id/],
    [{ ...good, port: 0 }, /port must be 1 to 65535/],
    [{ ...good, port: 70000 }, /port must be 1 to 65535/],
    [{ ...good, port: 1.5 }, /port must be an integer/],
    [{ ...good, port: "7946" }, /port must be a number/],
    [{ ...good, cluster: "xyz" }, /cluster must be 16 to 64 hex/],
    [{ ...good, cluster: "ab".repeat(40) }, /cluster must be 16 to 64 hex/],
    [{ ...good, address: "not an address!" }, /address must be an IP address or a host name/],
    [{ id: ID_A, cluster: CLUSTER }, /^port is missing$/],
  ];
  for (const [body, why] of cases) {
    const res = await r.announce(body);
    assert.equal(res.status, 400, JSON.stringify(body));
    const { error } = await res.json();
    assert.equal(error.code, "invalid");
    assert.match(error.message, why);
  }
  const big = await r.announce({ ...good, pad: "x".repeat(5000) });
  assert.equal(big.status, 413);
  await big.body?.cancel();
  for (const q of ["", "?cluster=", "?cluster=xyz", `?cluster=${"a".repeat(15)}`]) {
    const res = await r.send(`/v1/peers${q}`);
    assert.equal(res.status, 400, q);
    assert.match((await res.json()).error.message, /cluster must be/);
  }
  const missing = await r.send("/v1/nothing");
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  assert.equal(r.store.size, 0);
});

Deno.test("registry: bounded per cluster and in total; those already in may re-announce", async () => {
  const r = registry({ maxPerCluster: 2, maxEntries: 3 });
  assert.equal((await r.announce({ id: ID_A, port: 1, cluster: CLUSTER })).status, 200);
  assert.equal((await r.announce({ id: ID_B, port: 1, cluster: CLUSTER })).status, 200);
  const full = await r.announce({ id: ID_C, port: 1, cluster: CLUSTER });
  assert.equal(full.status, 503);
  assert.equal((await full.json()).error.code, "cluster-full");
  assert.equal((await r.announce({ id: ID_A, port: 2, cluster: CLUSTER })).status, 200);
  assert.equal((await r.announce({ id: ID_C, port: 1, cluster: OTHER })).status, 200);
  const total = await r.announce({ id: ID_A, port: 1, cluster: "ef".repeat(32) });
  assert.equal(total.status, 503);
  assert.equal((await total.json()).error.code, "registry-full");
  // Once entries expire, there is room again.
  r.advance(30_000);
  assert.equal((await r.announce({ id: ID_C, port: 1, cluster: CLUSTER })).status, 200);
  assert.equal(r.store.size, 1);
});

Deno.test("registry: each source address is rate-limited", async () => {
  const r = registry({ ratePerSecond: 1, burst: 3 });
  const codes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await r.announce({ id: ID_A, port: 7946, cluster: CLUSTER }, "10.0.0.7");
    codes.push(res.status);
    await res.body?.cancel();
  }
  assert.deepEqual(codes, [200, 200, 200, 429, 429]);
  // Another source is not affected; /healthz is not limited.
  assert.equal((await r.announce({ id: ID_B, port: 1, cluster: CLUSTER }, "10.0.0.8")).status, 200);
  assert.equal((await r.send("/healthz", {}, "10.0.0.7")).status, 200);
  const limited = await r.send(`/v1/peers?cluster=${CLUSTER}`, {}, "10.0.0.7");
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "1");
  await limited.body?.cancel();
  r.advance(1_000);
  assert.equal((await r.send(`/v1/peers?cluster=${CLUSTER}`, {}, "10.0.0.7")).status, 200);
});

Deno.test("registry: options are checked", () => {
  assert.throws(() => createRegistry({ ttlMs: 0 }), /'ttlMs' must be > 0: got 0/);
  assert.throws(() => createRegistry({ maxEntries: NaN }), /'maxEntries' must be > 0/);
});
