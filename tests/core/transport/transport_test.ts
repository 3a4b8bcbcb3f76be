// Real QUIC between real transports on 127.0.0.1: message exchange, authentication
// refusals, floods, spoofing, ACL and rate limits. Waits poll with generous deadlines, and
// nothing asserts on timing: a slow machine under --parallel must pass.

import assert from "node:assert/strict";
import { nodeDnsName } from "../../../core/identity/names.ts";
import { type Message, MessageType, PROTOCOL_VERSION } from "../../../core/membership/messages.ts";
import { ALPN } from "../../../core/transport/control.ts";
import {
  extraNode,
  fixtures,
  identityOf,
  ping,
  SETTINGS,
  sleep,
  start,
  waitFor,
} from "./_helpers.ts";

const v = PROTOCOL_VERSION;

Deno.test("two transports exchange datagrams and streams both ways over one connection", async () => {
  const f = await fixtures();
  const a = await start(await identityOf(f.a));
  const b = await start(await identityOf(f.b));
  try {
    const aRef = { id: f.a.id, address: a.address };
    const bRef = { id: f.b.id, address: b.address };
    // a → b: a datagram (ping), then a stream (the reliable ping)
    a.t.send(b.address, ping(1, aRef, f.b.id));
    a.t.send(b.address, { ...ping(2, aRef, f.b.id), reliable: true });
    await waitFor(() => b.got.length === 2, "b to get both pings");
    // b → a on the same connection: a datagram (ack) and a stream (push-pull)
    b.t.send(a.address, { type: MessageType.Ack, v, seq: 1, from: f.b.id });
    b.t.send(a.address, {
      type: MessageType.PushPullResponse,
      v,
      seq: 3,
      from: bRef,
      members: [{ id: f.b.id, address: b.address, incarnation: 1, state: "alive", meta: {} }],
    });
    await waitFor(() => a.got.length === 2, "a to get b's ack and push-pull");

    assert.deepEqual(b.got.map((g) => g.from.id), [f.a.id, f.a.id]);
    assert.deepEqual(a.got.map((g) => g.from.id), [f.b.id, f.b.id]);
    assert.deepEqual(new Set(b.got.map((g) => (g.msg as { seq: number }).seq)), new Set([1, 2]));
    assert.deepEqual(
      new Set(a.got.map((g) => g.msg.type)),
      new Set([MessageType.Ack, MessageType.PushPullResponse]),
    );
    // One connection: a dialed once, b never dialed, and b learned nothing by info.
    assert.equal(a.t.stats.dials, 1);
    assert.equal(b.t.stats.dials, 0);
    assert.equal(b.t.stats.accepted, 1);
    assert.equal(b.t.stats.infoFetches, 0);
    for (const s of [a.t.stats, b.t.stats]) {
      assert.equal(s.datagramsSent, 1);
      assert.equal(s.streamsSent, 1);
      assert.equal(s.connectionsOpen, 1);
      assert.equal(s.pooled, 1);
    }
    assert.deepEqual(a.t.connectedPeers(), [f.b.id]);
    assert.deepEqual(b.t.connectedPeers(), [f.a.id]);
    for (const r of [a, b]) {
      assert.equal(r.t.stats.unexpectedErrors, 0, r.logs.join("\n"));
      assert.deepEqual(r.logs, []);
    }
  } finally {
    await a.t.close();
    await b.t.close();
  }
});

Deno.test("a message bigger than a datagram goes by stream, even on the datagram channel", async () => {
  const f = await fixtures();
  const a = await start(await identityOf(f.a));
  const b = await start(await identityOf(f.b));
  try {
    // A gossip packet (datagram channel) of 40 alive rumors with metadata: ~10 KB.
    const gossip: Message = {
      type: MessageType.Gossip,
      v,
      from: f.a.id,
      gossip: Array.from({ length: 40 }, (_, i) => ({
        type: MessageType.Alive,
        v,
        id: f.a.id,
        address: a.address,
        incarnation: i,
        meta: { note: "x".repeat(200) },
      })),
    };
    a.t.send(b.address, gossip);
    await waitFor(() => b.got.length === 1, "b to get the big gossip");
    assert.deepEqual(b.got[0].msg, gossip);
    assert.equal(a.t.stats.datagramsSent, 0);
    assert.equal(a.t.stats.streamsSent, 1);
    assert.ok(a.t.stats.bytesSent > 8_000);
  } finally {
    await a.t.close();
    await b.t.close();
  }
});

Deno.test("a peer with a certificate of another CA is refused, and its messages never arrive", async () => {
  const f = await fixtures();
  const b = await start(await identityOf(f.b));
  // The stranger trusts our CA (so TLS to b passes) but holds a certificate of its own CA.
  const stranger = await start(await identityOf(f.stranger, f.ca));
  try {
    stranger.t.send(b.address, ping(1, { id: f.stranger.id, address: stranger.address }, f.b.id));
    await waitFor(
      () => b.t.stats.authRefused["cert-not-signed-by-ca"] === 1,
      "b to refuse the stranger",
    );
    await waitFor(() => stranger.t.stats.sendErrors === 1, "the stranger's send to fail");
    assert.equal(b.got.length, 0);
    assert.equal(b.t.stats.pooled, 0);
    assert.equal(stranger.t.stats.authRefused["peer-cert-not-signed-by-ca"], 1);
    assert.ok(
      b.logs.some((l) => /refused 127\.0\.0\.1:\d+ \(\w+\): cert-not-signed-by-ca/.test(l)),
    );
    await waitFor(() => b.t.stats.connectionsOpen === 0, "b to close the connection");
  } finally {
    await stranger.t.close();
    await b.t.close();
  }
});

Deno.test("a node of another cluster is not dialed: its info names another CA", async () => {
  const f = await fixtures();
  const a = await start(await identityOf(f.a));
  const other = await start(await identityOf(f.stranger, f.otherCa));
  try {
    a.t.send(other.address, ping(1, { id: f.a.id, address: a.address }, f.stranger.id));
    await waitFor(() => a.t.stats.sendErrors === 1, "the send to fail");
    assert.equal(a.t.stats.authRefused["other-cluster"], 1);
    assert.equal(a.t.stats.dials, 0);
    assert.equal(other.t.stats.accepted, 0);
    assert.ok(a.logs.some((l) => l.includes("another cluster")), a.logs.join("\n"));
  } finally {
    await a.t.close();
    await other.t.close();
  }
});

Deno.test("a revoked node is refused, both as dialer and as server", async () => {
  const f = await fixtures();
  const revoked = { nodeIds: new Set([f.a.id]) };
  const a = await start(await identityOf(f.a));
  const b = await start({ ...(await identityOf(f.b)), revoked: () => revoked });
  try {
    // a dials b: b refuses a's certificate
    a.t.send(b.address, ping(1, { id: f.a.id, address: a.address }, f.b.id));
    await waitFor(() => b.t.stats.authRefused["cert-revoked"] === 1, "b to refuse a");
    // b dials a: b refuses a's server proof
    b.t.send(a.address, ping(2, { id: f.b.id, address: b.address }, f.a.id));
    await waitFor(() => b.t.stats.authRefused["cert-revoked"] === 2, "b to refuse a as server");
    await waitFor(() => a.t.stats.authRefused["peer-cert-revoked"] === 2, "a to hear both");
    assert.equal(a.got.length + b.got.length, 0);
  } finally {
    await a.t.close();
    await b.t.close();
  }
});

Deno.test("an expired node certificate is refused", async () => {
  const f = await fixtures();
  // Valid for one day, issued three days ago: expired two days ago.
  const old = await extraNode({ now: Date.now() - 3 * 86_400_000, days: 1 });
  const b = await start(await identityOf(f.b));
  const o = await start(await identityOf(old));
  try {
    o.t.send(b.address, ping(1, { id: old.id, address: o.address }, f.b.id));
    await waitFor(() => b.t.stats.authRefused["cert-expired"] === 1, "b to refuse the old cert");
    assert.equal(b.got.length, 0);
  } finally {
    await o.t.close();
    await b.t.close();
  }
});

Deno.test("an unauthenticated flood is dropped and counted; the node keeps working", async () => {
  const f = await fixtures();
  const b = await start(await identityOf(f.b), {
    settings: { ...SETTINGS, dialTimeoutMs: 1_500, authTimeoutMs: 1_500 },
  });
  const a = await start(await identityOf(f.a));
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const junk = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    // Raw UDP junk at the QUIC port: QUIC discards it before anything of ours runs.
    for (let i = 0; i < 200; i++) {
      await junk.send(crypto.getRandomValues(new Uint8Array(1 + (i % 1200))), {
        transport: "udp",
        hostname: "127.0.0.1",
        port: b.t.port,
      });
    }
    // A TLS handshake that fails (the wrong name): counted, and the listener goes on.
    await assert.rejects(() =>
      Deno.connectQuic<false>({
        endpoint,
        hostname: "127.0.0.1",
        port: b.t.port,
        serverName: nodeDnsName(f.a.id),
        caCerts: [f.ca.pem],
        alpnProtocols: ALPN,
      })
    );
    await waitFor(() => b.t.stats.handshakeFailures === 1, "b to count the failed handshake");
    // A QUIC client with the right CA and name that never authenticates.
    const conn = await Deno.connectQuic({
      endpoint,
      hostname: "127.0.0.1",
      port: b.t.port,
      serverName: nodeDnsName(f.b.id),
      caCerts: [f.ca.pem],
      alpnProtocols: ALPN,
    });
    const datagram = new Uint8Array(100);
    for (let i = 0; i < 50; i++) await conn.sendDatagram(datagram);
    for (let i = 0; i < 3; i++) {
      const s = await conn.createUnidirectionalStream();
      const w = s.getWriter();
      await w.write(new Uint8Array([0, 0, 0, 1, 0x90]));
      await w.close().catch(() => {}); // b may already have cancelled it
    }
    await waitFor(() => b.t.stats.unauthenticatedDropped >= 10, "b to drop the flood");
    // Not authenticated within authTimeout: closed.
    const closed = await conn.closed;
    assert.equal(closed.reason, "auth-timeout");
    assert.equal(b.t.stats.authRefused["auth-timeout"], 1);
    assert.equal(b.got.length, 0);
    assert.equal(b.t.stats.decodeErrors, 0);
    // And the node still serves members.
    a.t.send(b.address, ping(1, { id: f.a.id, address: a.address }, f.b.id));
    await waitFor(() => b.got.length === 1, "b to get a's ping after the flood");
    assert.equal(b.t.stats.unexpectedErrors, 0, b.logs.join("\n"));
  } finally {
    junk.close();
    endpoint.close();
    await a.t.close();
    await b.t.close();
  }
});

Deno.test("a message whose sender is not the authenticated peer is dropped as spoofed", async () => {
  const f = await fixtures();
  const c = await extraNode();
  const names = new Map<string, string>();
  const a = await start(await identityOf(f.a));
  const b = await start(await identityOf(f.b), { names });
  try {
    const cAddress = "127.0.0.1:1"; // membership (b's) knows c there
    names.set(cAddress, c.id);
    const send = (m: Message) => a.t.send(b.address, m);
    // 1. `from` names another node
    send(ping(1, { id: c.id, address: cAddress }, f.b.id));
    // 2. `from` is a, but at c's address: b's answer would go to c
    send(ping(2, { id: f.a.id, address: cAddress }, f.b.id));
    // 3. an ack, a nack and a gossip claiming c
    send({ type: MessageType.Ack, v, seq: 3, from: c.id });
    send({ type: MessageType.Nack, v, seq: 4, from: c.id });
    send({ type: MessageType.Gossip, v, from: c.id, gossip: [] });
    // allowed: a relayed ack (a relay forwards the target's), rumors (no sender), a's own
    send({ type: MessageType.Ack, v, seq: 5, from: c.id, relayed: true });
    send({ type: MessageType.Suspect, v, id: c.id, incarnation: 1, from: c.id });
    send(ping(6, { id: f.a.id, address: a.address }, f.b.id));
    await waitFor(() => b.got.length === 3 && b.t.stats.spoofed === 5, "b to sort them");
    assert.deepEqual(
      b.got.map((g) => g.msg.type).sort(),
      [
        MessageType.Ping,
        MessageType.Ack,
        MessageType.Suspect,
      ].sort(),
    );
  } finally {
    await a.t.close();
    await b.t.close();
  }
});

Deno.test("an invalid message from a member is dropped and counted by reason", async () => {
  const f = await fixtures();
  const a = await start(await identityOf(f.a));
  const b = await start(await identityOf(f.b));
  try {
    const bad = { ...ping(1, { id: f.a.id, address: a.address }, "not a node id") };
    a.t.send(b.address, bad as Message);
    a.t.send(b.address, ping(2, { id: f.a.id, address: a.address }, f.b.id));
    await waitFor(() => b.got.length === 1 && b.t.stats.decodeErrors === 1, "b to sort them");
    assert.deepEqual(b.t.stats.decodeErrorsByReason, { invalid: 1 });
  } finally {
    await a.t.close();
    await b.t.close();
  }
});

Deno.test("ACL deny: refused before authentication, on QUIC and on TCP info", async () => {
  const f = await fixtures();
  const names = new Map<string, string>();
  const b = await start(await identityOf(f.b), {
    settings: { ...SETTINGS, allow: ["10.0.0.0/8"], deny: ["127.0.0.0/8"] },
  });
  const a = await start(await identityOf(f.a), { names });
  const c = await start(await identityOf(f.a));
  try {
    // a knows b's id (no info request): QUIC, closed right after the TLS handshake
    names.set(b.address, f.b.id);
    a.t.send(b.address, ping(1, { id: f.a.id, address: a.address }, f.b.id));
    await waitFor(() => a.t.stats.dialFailures === 1, "a's dial to fail");
    // c does not: its info request is refused
    c.t.send(b.address, ping(1, { id: f.a.id, address: c.address }, f.b.id));
    await waitFor(() => c.t.stats.infoFetchFailures === 1, "c's info request to fail");
    assert.equal(b.t.stats.aclRefused, 2);
    assert.deepEqual(b.t.stats.authRefused, {}); // no authentication was attempted
    assert.equal(b.t.stats.infoServed, 0);
    assert.equal(b.got.length, 0);
  } finally {
    await a.t.close();
    await b.t.close();
    await c.t.close();
  }
});

Deno.test("handshake rate limit: a source past its burst is refused", async () => {
  const f = await fixtures();
  const names = new Map<string, string>();
  const b = await start(await identityOf(f.b), {
    settings: { ...SETTINGS, handshakeRate: 0.1, handshakeBurst: 1 },
  });
  const a = await start(await identityOf(f.a), { names });
  const c = await start(await identityOf(await extraNode()), { names });
  try {
    names.set(b.address, f.b.id);
    a.t.send(b.address, ping(1, { id: f.a.id, address: a.address }, f.b.id));
    await waitFor(() => b.got.length === 1, "b to get a's ping (the burst)");
    // Same source address (127.0.0.1), a second handshake at once: refused.
    c.t.send(b.address, ping(1, { id: f.a.id, address: c.address }, f.b.id));
    await waitFor(() => c.t.stats.dialFailures === 1, "c's dial to fail");
    assert.equal(b.t.stats.rateLimited, 1);
    assert.equal(b.got.length, 1);
  } finally {
    await a.t.close();
    await b.t.close();
    await c.t.close();
  }
});

Deno.test("maxConnections: the least recently used connection is closed", async () => {
  const f = await fixtures();
  const a = await start(await identityOf(f.a), { settings: { ...SETTINGS, maxConnections: 1 } });
  const b = await start(await identityOf(f.b));
  const c = await start(await identityOf(await extraNode()));
  try {
    const aRef = { id: f.a.id, address: a.address };
    a.t.send(b.address, ping(1, aRef, f.b.id));
    await waitFor(() => b.got.length === 1, "b's ping");
    a.t.send(c.address, ping(2, aRef, "0000000000000000"));
    await waitFor(() => c.got.length === 1, "c's ping");
    await waitFor(() => b.t.stats.connectionsOpen === 0, "b's connection to be closed");
    assert.equal(a.t.stats.evictions, 1);
    assert.equal(a.t.stats.pooled, 1);
  } finally {
    await a.t.close();
    await b.t.close();
    await c.t.close();
  }
});

Deno.test("close() with a dial under way ends promptly and leaks nothing", async () => {
  const f = await fixtures();
  // A UDP port where no one answers QUIC.
  const silent = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const port = (silent.addr as Deno.NetAddr).port;
  const names = new Map([[`127.0.0.1:${port}`, f.b.id]]);
  const a = await start(await identityOf(f.a), { names });
  try {
    a.t.send(`127.0.0.1:${port}`, ping(1, { id: f.a.id, address: a.address }, f.b.id));
    await sleep(50);
  } finally {
    await a.t.close();
    silent.close();
  }
  assert.equal(a.t.stats.dials, 1);
});

Deno.test("a node that closes and comes back is dialed again on a new connection", async () => {
  const f = await fixtures();
  const a = await start(await identityOf(f.a));
  let b = await start(await identityOf(f.b));
  try {
    const aRef = { id: f.a.id, address: a.address };
    a.t.send(b.address, ping(1, aRef, f.b.id));
    await waitFor(() => b.got.length === 1, "the first ping");
    await b.t.close();
    await waitFor(() => a.t.stats.pooled === 0, "a to see the connection closed");
    // Deno 2.9 frees a closed QuicEndpoint's UDP socket only when it is garbage-collected,
    // so the same port cannot be bound again at once in one process: the node comes back
    // on another port (a restarted process gets its port back).
    b = await start(await identityOf(f.b));
    a.t.send(b.address, ping(2, aRef, f.b.id));
    await waitFor(() => b.got.length === 1, "a ping to the node that came back");
    assert.equal(a.t.stats.dials, 2);
    assert.equal(a.t.stats.pooled, 1);
  } finally {
    await a.t.close();
    await b.t.close();
  }
});

Deno.test("stream messages ride two long-lived lanes, in order", async () => {
  const f = await fixtures();
  const a = await start(await identityOf(f.a));
  const b = await start(await identityOf(f.b));
  try {
    const aRef = { id: f.a.id, address: a.address };
    const members = Array.from({ length: 2_000 }, (_, i) => ({
      id: f.a.id,
      address: `10.0.${i >> 8}.${i & 255}:7946`,
      incarnation: i,
      state: "alive" as const,
      meta: { zone: "lab" },
    }));
    // connected first (messages waiting for a dial are bounded: MAX_QUEUED_PER_DIAL)
    a.t.send(b.address, ping(0, aRef, f.b.id));
    await waitFor(() => b.got.length === 1, "the first ping");
    // a big push-pull on the bulk lane, then 100 reliable pings on the express lane
    a.t.send(b.address, {
      type: MessageType.PushPullRequest,
      v,
      seq: 0,
      from: aRef,
      join: false,
      members,
    });
    for (let seq = 1; seq <= 100; seq++) {
      a.t.send(b.address, { ...ping(seq, aRef, f.b.id), reliable: true });
    }
    await waitFor(() => b.got.length === 102, "b to get all 102");
    const pings = b.got.slice(1).filter((g) => g.msg.type === MessageType.Ping).map((g) =>
      (g.msg as { seq: number }).seq
    );
    assert.deepEqual(pings, Array.from({ length: 100 }, (_, i) => i + 1));
    assert.equal(a.t.stats.streamsSent, 101);
    assert.equal(a.t.stats.datagramsSent, 1);
    assert.equal(a.t.stats.sendQueueDropped + b.t.stats.unexpectedErrors, 0);
  } finally {
    await a.t.close();
    await b.t.close();
  }
});

Deno.test("warm connects ahead of the first message, once; what is sent meanwhile waits for it", async () => {
  const f = await fixtures();
  const a = await start(await identityOf(f.a));
  const b = await start(await identityOf(f.b));
  try {
    a.t.warm(b.address);
    a.t.warm(b.address); // a dial is under way: no second one
    a.t.send(b.address, ping(1, { id: f.a.id, address: a.address }, f.b.id));
    await waitFor(() => b.got.length === 1, "b to get the ping sent while warming");
    assert.equal(a.t.stats.dials, 1);
    assert.ok(a.t.connectedPeers().includes(f.b.id));
    a.t.warm(b.address); // connected already: nothing to do
    assert.equal(a.t.stats.dials, 1);
  } finally {
    await a.t.close();
    await b.t.close();
  }
});

Deno.test("a reconnecting member resumes with its ticket; a restarted peer or a revocation makes it sign or fail", async () => {
  const f = await fixtures();
  let revoked = new Set<string>();
  const a = await start(await identityOf(f.a));
  const bIdentity = { ...(await identityOf(f.b)), revoked: () => ({ nodeIds: revoked }) };
  let b = await start(bIdentity);
  const aRef = { id: f.a.id, address: a.address };
  const names = new Map<string, string>();
  try {
    let seq = 0;
    const reconnect = async (to: typeof b) => {
      a.t.disconnect(f.b.id, "test");
      const before = to.got.length;
      a.t.send(to.address, ping(++seq, aRef, f.b.id));
      await waitFor(() => to.got.length > before, `ping ${seq} to arrive`);
    };
    await reconnect(b); // first contact: signatures, and a ticket for a
    assert.equal(a.t.stats.authResumed, 0);
    await reconnect(b); // again: the ticket's HMACs, no signature
    assert.equal(a.t.stats.authResumed, 1);
    assert.equal(b.t.stats.authResumed, 1);
    await reconnect(b);
    assert.equal(a.t.stats.authResumed, 2);

    // b restarted (same identity, new port): it knows no ticket, a signs again
    await b.t.close();
    b = await start(bIdentity, { names });
    names.set(b.address, f.b.id);
    await reconnect(b);
    assert.equal(b.t.stats.authResumed, 0);
    await reconnect(b);
    assert.equal(b.t.stats.authResumed, 1, "a new ticket from the restarted b");

    // a revoked at b: a's ticket does not get it in
    revoked = new Set([f.a.id]);
    a.t.disconnect(f.b.id, "test");
    const before = b.got.length;
    a.t.send(b.address, ping(++seq, aRef, f.b.id));
    await waitFor(() => (b.t.stats.authRefused["cert-revoked"] ?? 0) > 0, "b to refuse a");
    assert.equal(b.got.length, before);
  } finally {
    await a.t.close();
    await b.t.close();
  }
});
