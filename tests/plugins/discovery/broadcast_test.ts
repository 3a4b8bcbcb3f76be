import assert from "node:assert/strict";
import {
  broadcastTargets,
  decodeAnnouncement,
  encodeAnnouncement,
  plugin,
} from "../../../plugins/discovery/broadcast.ts";
import { CLUSTER, delay, freeUdpPort, ID_A, ID_B, ID_C, testContext, waitFor } from "./_ctx.ts";

const v4 = (address: string, netmask: string) => ({ family: "IPv4" as const, address, netmask });

Deno.test("broadcast: targets are each IPv4 network's broadcast address, loopback only alone", () => {
  assert.deepEqual(
    broadcastTargets([
      v4("127.0.0.1", "255.0.0.0"),
      v4("192.168.1.23", "255.255.255.0"),
      v4("10.99.0.7", "255.255.0.0"),
      v4("10.99.3.9", "255.255.0.0"), // a second address on the same network: one target
      v4("172.16.5.1", "255.255.255.254"), // /31: no broadcast address
      v4("172.16.9.1", "255.255.255.255"), // /32
      { family: "IPv6", address: "fd00::2", netmask: "ffff:ffff:ffff:ffff::" },
      v4("not-an-ip", "255.255.255.0"),
    ]),
    ["10.99.255.255", "192.168.1.255"],
  );
  assert.deepEqual(broadcastTargets([v4("127.0.0.1", "255.0.0.0")]), ["127.255.255.255"]);
  assert.deepEqual(broadcastTargets([v4("10.1.2.3", "255.255.255.252")]), ["10.1.2.3"]);
  assert.deepEqual(broadcastTargets([]), []);
});

Deno.test("broadcast: announcements round-trip; malformed datagrams are named, not thrown", () => {
  const a = { herd: 1 as const, id: ID_A, port: 7946, cluster: CLUSTER.slice(0, 16) };
  const bytes = encodeAnnouncement(a);
  assert.ok(bytes.length < 100, `${bytes.length} bytes`);
  assert.deepEqual(decodeAnnouncement(bytes), a);
  assert.deepEqual(
    decodeAnnouncement(encodeAnnouncement({ ...a, address: "10.0.0.9" })),
    { ...a, address: "10.0.0.9" },
  );
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array([0xff, 0xfe]), /not JSON/],
    [new TextEncoder().encode("{"), /not JSON/],
    [enc([1]), /not an object/],
    [enc({ ...a, herd: 2 }), /version 2/],
    [enc({ ...a, id: "short" }), /bad id/],
    [enc({ ...a, port: 0 }), /bad port/],
    [enc({ ...a, port: "7946" }), /bad port/],
    [enc({ ...a, cluster: "xyz" }), /bad cluster/],
    [enc({ ...a, address: "not an address" }), /bad address/],
    [enc({ ...a, pad: "x".repeat(600) }), /too long/],
  ];
  for (const [data, why] of cases) {
    const r = decodeAnnouncement(data);
    assert.equal(typeof r, "string");
    assert.match(r as string, why);
  }
  // Unknown fields are ignored (a newer sender), not copied.
  assert.deepEqual(decodeAnnouncement(enc({ ...a, extra: 1 })), a);
});

Deno.test("broadcast: two nodes on one port find each other on loopback, not themselves", async () => {
  const port = freeUdpPort();
  const config = { interval: 100, broadcastPort: port, broadcastTargets: ["127.255.255.255"] };
  const a = testContext({ self: { id: ID_A, port: 7001 }, config });
  const b = testContext({ self: { id: ID_B, port: 7002, address: "10.1.2.3" }, config });
  await plugin.start(a.ctx);
  await plugin.start(b.ctx);
  try {
    await waitFor("A to hear B", () => a.found.find((c) => c.nodeId === ID_B));
    await waitFor("B to hear A", () => b.found.find((c) => c.nodeId === ID_A));
    // A's announcement has no address: B uses the datagram's source.
    assert.deepEqual(b.found.find((c) => c.nodeId === ID_A), {
      address: "127.0.0.1",
      port: 7001,
      via: "broadcast",
      nodeId: ID_A,
      cluster: CLUSTER.slice(0, 16),
    });
    // B announced an address: A dials that one.
    assert.equal(a.found.find((c) => c.nodeId === ID_B)?.address, "10.1.2.3");
    assert.ok(a.found.every((c) => c.nodeId !== ID_A), "A ignores its own announcements");
    assert.ok(b.found.every((c) => c.nodeId !== ID_B), "B ignores its own announcements");

    // Malformed and foreign datagrams are dropped and logged once, never thrown.
    const before = a.logs.length;
    const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    try {
      for (const junk of ["junk", '{"herd":1}', '{"herd":9,"id":"x"}']) {
        await s.send(new TextEncoder().encode(junk), {
          transport: "udp",
          hostname: "127.255.255.255",
          port,
        });
      }
      // A third node (C), sent by hand: found by both.
      await s.send(
        encodeAnnouncement({ herd: 1, id: ID_C, port: 7003 }),
        { transport: "udp", hostname: "127.255.255.255", port },
      );
      await waitFor("A to hear C", () => a.found.find((c) => c.nodeId === ID_C));
      assert.equal(a.found.find((c) => c.nodeId === ID_C)?.cluster, undefined);
    } finally {
      s.close();
    }
    await waitFor(
      "the malformed datagram to be logged",
      () =>
        a.logs.slice(before).some((l) => /ignoring a datagram from 127\.0\.0\.1: not JSON/.test(l)),
    );
    assert.equal(a.logs.slice(before).filter((l) => /ignoring a datagram/.test(l)).length, 1);
  } finally {
    a.abort();
    await plugin.stop();
  }
});

Deno.test("broadcast: a port taken without reuse means announcing without listening", async () => {
  // A socket that does not allow sharing holds the port.
  const holder = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
  const port = (holder.addr as Deno.NetAddr).port;
  const receiver = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const receiverPort = (receiver.addr as Deno.NetAddr).port;
  const t = testContext({
    config: { interval: 100, broadcastPort: port, broadcastTargets: [`127.0.0.1:${receiverPort}`] },
  });
  try {
    await plugin.start(t.ctx);
    // It still announces: the receiver gets our announcement.
    const [data] = await Promise.race([
      receiver.receive(),
      delay(10_000).then(() => {
        throw new Error("no announcement within 10 s");
      }),
    ]);
    assert.deepEqual(decodeAnnouncement(data), {
      herd: 1,
      id: ID_A,
      port: 7946,
      cluster: CLUSTER.slice(0, 16),
    });
    assert.match(t.logs.join("\n"), /cannot listen on UDP port \d+ .*announcing without listening/);
  } finally {
    await plugin.stop();
    holder.close();
    receiver.close();
  }
});

Deno.test("broadcast: a flood from one source is cut to a few datagrams per interval", async () => {
  const port = freeUdpPort();
  const t = testContext({
    config: { interval: 60_000, broadcastPort: port, broadcastTargets: ["127.0.0.1:9"] },
  });
  await plugin.start(t.ctx);
  const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    // 40 different (valid) announcements from one source in one interval.
    for (let i = 0; i < 40; i++) {
      const id = `n${String(i).padStart(15, "0")}`;
      await s.send(encodeAnnouncement({ herd: 1, id, port: 7000 + i }), {
        transport: "udp",
        hostname: "127.0.0.1",
        port,
      });
    }
    await waitFor("the flood to be noticed", () => t.logs.some((l) => /too many/.test(l)));
    await delay(100);
    assert.equal(t.found.length, 16);
  } finally {
    s.close();
    await plugin.stop();
  }
});
