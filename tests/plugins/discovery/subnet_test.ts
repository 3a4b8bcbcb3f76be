import assert from "node:assert/strict";
import { hostAddresses, parseCidr, plugin } from "../../../plugins/discovery/subnet.ts";
import { delay, testContext, waitFor } from "./_ctx.ts";

Deno.test("subnet: CIDRs parse, networks larger than /16 are refused", () => {
  assert.deepEqual(parseCidr("192.168.1.0/24"), { network: 0xc0a80100, prefix: 24 });
  assert.deepEqual(parseCidr("192.168.1.77/24"), { network: 0xc0a80100, prefix: 24 });
  assert.deepEqual(parseCidr("10.0.0.9"), { network: 0x0a000009, prefix: 32 });
  assert.deepEqual(parseCidr("10.1.0.0/16"), { network: 0x0a010000, prefix: 16 });
  assert.match(
    parseCidr("10.0.0.0/8") as string,
    /refusing '10\.0\.0\.0\/8': larger than \/16 \(16777216 addresses\)/,
  );
  assert.match(parseCidr("0.0.0.0/0") as string, /refusing/);
  assert.match(parseCidr("fd00::/120") as string, /IPv6/);
  for (const bad of ["10.0.0.0/33", "10.0.0/24", "10.0.0.0/", "10.0.0.0/x", "a/b/c", ""]) {
    assert.match(parseCidr(bad) as string, /not a CIDR/, bad);
  }
  const hosts = (c: string) => [...hostAddresses(parseCidr(c) as never)];
  assert.deepEqual(hosts("127.0.0.0/29"), [1, 2, 3, 4, 5, 6].map((i) => `127.0.0.${i}`));
  assert.deepEqual(hosts("10.0.0.4/30"), ["10.0.0.5", "10.0.0.6"]);
  assert.deepEqual(hosts("10.0.0.4/31"), ["10.0.0.4", "10.0.0.5"]);
  assert.deepEqual(hosts("10.0.0.4/32"), ["10.0.0.4"]);
  assert.equal(hosts("10.7.0.0/16").length, 65534);
});

/** Two TCP listeners on one port number (retried if the second address has it taken). */
function listenPair(a: string, b: string): [Deno.Listener, Deno.Listener] {
  for (let i = 0;; i++) {
    const first = Deno.listen({ hostname: a, port: 0 });
    try {
      return [first, Deno.listen({ hostname: b, port: (first.addr as Deno.NetAddr).port })];
    } catch (e) {
      first.close();
      if (!(e instanceof Deno.errors.AddrInUse) || i === 5) throw e;
    }
  }
}

Deno.test("subnet: a scan of 127.0.0.0/29 finds real listeners, skips our own address, keeps its rate", async () => {
  // Listeners on 127.0.0.2 and 127.0.0.6 (loopback is all of 127/8 on Linux); the port is ours.
  const [first, last] = listenPair("127.0.0.2", "127.0.0.6");
  const port = (first.addr as Deno.NetAddr).port;
  const accepted: Deno.Conn[] = [];
  const accepting = [first, last].map(async (l) => {
    try {
      for await (const c of l) accepted.push(c);
    } catch { /* closed */ }
  });
  const rate = 5;
  const t = testContext({
    self: { port, address: "127.0.0.4" },
    config: { subnets: ["127.0.0.0/29", "10.0.0.0/8"], scanRate: rate, interval: 60_000 },
  });
  const started = Date.now();
  await plugin.start(t.ctx);
  try {
    await waitFor("127.0.0.6 to be found", () => t.found.find((c) => c.address === "127.0.0.6"));
    const elapsed = Date.now() - started;
    // 127.0.0.1 (this machine's lo) and 127.0.0.4 (self.address) are skipped: .2 .3 .5 .6
    // are tried, the 4th at 3/rate seconds at the earliest.
    assert.ok(
      elapsed >= (3 / rate) * 1000 - 20,
      `found after ${elapsed} ms: faster than ${rate}/s`,
    );
    await waitFor("the first pass to end", () => t.logs.find((l) => /first pass/.test(l)));
    assert.deepEqual(t.found.map((c) => c.address).sort(), ["127.0.0.2", "127.0.0.6"]);
    assert.deepEqual(t.found[0], { address: "127.0.0.2", port, via: "subnet" });
    assert.match(
      t.logs.join("\n"),
      /first pass over 127\.0\.0\.0\/29: 4 addresses in .* open on 2/,
    );
    assert.match(t.logs.join("\n"), /refusing '10\.0\.0\.0\/8': larger than \/16/);
  } finally {
    await plugin.stop();
    first.close();
    last.close();
    await Promise.all(accepting);
    for (const c of accepted) c.close();
  }
});

Deno.test("subnet: nothing configured, or only refused networks, scans nothing", async () => {
  const none = testContext();
  const big = testContext({ config: { subnets: ["10.0.0.0/15", "nonsense"] } });
  await plugin.start(none.ctx);
  await plugin.start(big.ctx);
  await delay(50);
  await plugin.stop();
  assert.deepEqual(none.found, []);
  assert.deepEqual(none.logs, []);
  assert.deepEqual(big.found, []);
  assert.equal(big.logs.length, 2);
  assert.match(big.logs[0], /refusing '10\.0\.0\.0\/15': larger than \/16 \(131072 addresses\)/);
  assert.match(big.logs[1], /'nonsense' is not a CIDR/);
});

Deno.test("subnet: stop() ends a pass in the middle", async () => {
  const t = testContext({
    self: { port: 9 },
    config: { subnets: ["127.0.1.0/24"], scanRate: 2, interval: 60_000 },
  });
  await plugin.start(t.ctx);
  await delay(100);
  const before = Date.now();
  await plugin.stop();
  assert.ok(Date.now() - before < 2_000, "stop waits for at most one probe");
  assert.equal(t.logs.filter((l) => /first pass/.test(l)).length, 0);
});
