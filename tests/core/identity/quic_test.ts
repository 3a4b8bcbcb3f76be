// The identity pieces on a real Deno QUIC connection (loopback, --unstable-net): the server
// presents a node certificate issued by our CA for `<id>.herd`, the dialer verifies it with
// `serverName` and `caCerts`, and both then prove their node certificates on the first
// bidirectional stream, exactly as connection_auth.ts describes. The message framing here
// (length-prefixed JSON) is the test's own: the transport will bring its codec.

import assert from "node:assert/strict";
import { cryptoRandom } from "../../../core/clock.ts";
import {
  type AuthResult,
  newChallenge,
  type ProofContext,
  proveConnection,
  verifyConnectionProof,
} from "../../../core/identity/connection_auth.ts";
import { nodeDnsName } from "../../../core/identity/names.ts";
import { type ClusterCa, verifyNodeCert } from "../../../core/identity/verify.ts";
import { fixtures, type Node } from "./_fixtures.ts";

const ALPN = ["herd/1"];
const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/** Length-prefixed JSON frames over one bidirectional stream. */
function framed(stream: Deno.QuicBidirectionalStream) {
  const reader = stream.readable.getReader();
  const writer = stream.writable.getWriter();
  let buf = new Uint8Array(0);
  return {
    async send(msg: unknown): Promise<void> {
      const body = new TextEncoder().encode(JSON.stringify(msg));
      const out = new Uint8Array(4 + body.length);
      new DataView(out.buffer).setUint32(0, body.length);
      out.set(body, 4);
      await writer.write(out);
    },
    async read(): Promise<any> {
      for (;;) {
        if (buf.length >= 4) {
          const n = new DataView(buf.buffer, buf.byteOffset).getUint32(0);
          if (buf.length >= 4 + n) {
            const body = buf.slice(4, 4 + n);
            buf = buf.slice(4 + n);
            return JSON.parse(new TextDecoder().decode(body));
          }
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("stream ended");
        const next = new Uint8Array(buf.length + value.length);
        next.set(buf);
        next.set(value, buf.length);
        buf = next;
      }
    },
    async close(): Promise<void> {
      await writer.close().catch(() => {});
      reader.releaseLock();
    },
  };
}

interface Server {
  port: number;
  /** What the server concluded about each dialer that finished the exchange. */
  verdicts: AuthResult[];
  failedHandshakes: string[];
  stop(): Promise<void>;
}

/** A member accepting connections: one failed handshake must not stop it. */
function serve(self: Node, ca: ClusterCa): Server {
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const listener = endpoint.listen({
    cert: self.certPem,
    key: self.key.privateKeyPem,
    alpnProtocols: ALPN,
  });
  const verdicts: AuthResult[] = [];
  const failedHandshakes: string[] = [];
  const handlers = new Set<Promise<void>>();
  let stopping = false;

  async function authenticate(conn: Deno.QuicConn): Promise<void> {
    const streams = conn.incomingBidirectionalStreams.getReader();
    const { value: stream } = await streams.read();
    streams.releaseLock();
    if (!stream) return;
    const io = framed(stream);
    const hello = await io.read();
    const now = Date.now();
    // A cheap refusal first: a dialer whose certificate does not verify gets nothing else.
    const pre = verifyNodeCert(hello.certPem, ca, now);
    if (!pre.ok) {
      verdicts.push(pre);
      await io.send({ ok: false, reason: pre.reason });
    } else {
      const challenge = newChallenge(cryptoRandom);
      const mine: ProofContext = {
        role: "server",
        challenge: unb64(hello.challenge),
        serverNodeId: self.id,
        dialerNodeId: hello.nodeId,
      };
      await io.send({
        challenge: b64(challenge),
        certPem: self.certPem,
        signature: b64(await proveConnection(mine, self.key.privateKey)),
      });
      const { signature } = await io.read();
      const verdict = await verifyConnectionProof(
        { certPem: hello.certPem, signature: unb64(signature) },
        { role: "dialer", challenge, serverNodeId: self.id, dialerNodeId: hello.nodeId },
        { ca, now: Date.now() },
      );
      verdicts.push(verdict);
      await io.send(verdict.ok ? { ok: true } : { ok: false, reason: verdict.reason });
    }
    await io.close();
    await conn.closed; // the dialer closes once it has read the verdict
  }

  const loop = (async () => {
    for (;;) {
      let conn: Deno.QuicConn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (stopping) return;
        failedHandshakes.push((e as Error).message);
        continue;
      }
      const h = authenticate(conn).catch(() => {}).finally(() => {
        conn.close();
        handlers.delete(h);
      });
      handlers.add(h);
    }
  })();

  return {
    port: endpoint.addr.port,
    verdicts,
    failedHandshakes,
    async stop() {
      stopping = true;
      // stop() alone leaves a pending accept() waiting; closing the endpoint rejects it
      // (and closes the connections still open).
      listener.stop();
      endpoint.close();
      await loop;
      await Promise.all(handlers);
    },
  };
}

type DialResult =
  | { tls: "failed"; error: string }
  | { tls: "ok"; serverAuth: AuthResult | undefined; verdict: any; handshakeMs: number };

/** Dials `server` as `me`, authenticating the server at app level too. */
async function dial(
  port: number,
  serverId: string,
  me: Node,
  ca: ClusterCa,
  serverName = nodeDnsName(serverId),
): Promise<DialResult> {
  const t = performance.now();
  let conn: Deno.QuicConn;
  try {
    conn = await Deno.connectQuic({
      hostname: "127.0.0.1",
      port,
      serverName,
      caCerts: [ca.pem],
      alpnProtocols: ALPN,
    });
  } catch (e) {
    return { tls: "failed", error: (e as Error).message };
  }
  const handshakeMs = performance.now() - t;
  try {
    const io = framed(await conn.createBidirectionalStream());
    const myChallenge = newChallenge(cryptoRandom);
    await io.send({ nodeId: me.id, certPem: me.certPem, challenge: b64(myChallenge) });
    const reply = await io.read();
    if (reply.ok === false) {
      return { tls: "ok", serverAuth: undefined, verdict: reply, handshakeMs };
    }
    const serverAuth = await verifyConnectionProof(
      { certPem: reply.certPem, signature: unb64(reply.signature) },
      { role: "server", challenge: myChallenge, serverNodeId: serverId, dialerNodeId: me.id },
      { ca, now: Date.now() },
    );
    if (!serverAuth.ok) return { tls: "ok", serverAuth, verdict: undefined, handshakeMs };
    const ctx: ProofContext = {
      role: "dialer",
      challenge: unb64(reply.challenge),
      serverNodeId: serverId,
      dialerNodeId: me.id,
    };
    await io.send({ signature: b64(await proveConnection(ctx, me.key.privateKey)) });
    const verdict = await io.read();
    await io.close();
    return { tls: "ok", serverAuth, verdict, handshakeMs };
  } finally {
    conn.close();
  }
}

Deno.test("QUIC: node certificates from our CA authenticate both ends of a real connection", async () => {
  const f = await fixtures();
  const server = serve(f.b, f.ca);
  try {
    // 1. the right name, the right CA: TLS passes, and both proofs verify on the first stream
    const good = await dial(server.port, f.b.id, f.a, f.ca);
    assert.equal(good.tls, "ok", JSON.stringify(good));
    if (good.tls === "ok") {
      assert.ok(good.serverAuth?.ok && good.serverAuth.nodeId === f.b.id);
      assert.deepEqual(good.verdict, { ok: true });
    }
    assert.equal(server.verdicts.length, 1);
    assert.ok(server.verdicts[0].ok && server.verdicts[0].nodeId === f.a.id);

    // 2. another server name: the handshake fails (the certificate names only b)
    const wrongName = await dial(server.port, f.a.id, f.a, f.ca);
    assert.equal(wrongName.tls, "failed");
    assert.match(wrongName.tls === "failed" ? wrongName.error : "", /not valid for name/);

    // 3. a client that does not trust our CA (it has the other cluster's) fails too
    const otherTrust = await dial(server.port, f.b.id, f.a, f.otherCa);
    assert.equal(otherTrust.tls, "failed");
    assert.match(otherTrust.tls === "failed" ? otherTrust.error : "", /UnknownIssuer/);

    // 4. the listener survived both failed handshakes: a good client still gets in
    const after = await dial(server.port, f.b.id, f.a, f.ca);
    assert.equal(after.tls === "ok" && after.verdict?.ok, true);
    assert.equal(server.failedHandshakes.length, 2, server.failedHandshakes.join("\n"));

    // 5. a node of another cluster passes TLS (it trusts whatever CA it was given: ours) but
    //    its certificate gets nothing but a refusal at the first message
    const stranger = await dial(server.port, f.b.id, f.stranger, f.ca);
    assert.equal(stranger.tls, "ok");
    assert.deepEqual(stranger.tls === "ok" && stranger.verdict, {
      ok: false,
      reason: "cert-not-signed-by-ca",
    });
  } finally {
    await server.stop();
  }
});

Deno.test("QUIC: a server whose certificate comes from another CA fails the handshake", async () => {
  const f = await fixtures();
  const server = serve(f.stranger, f.otherCa);
  try {
    const r = await dial(server.port, f.stranger.id, f.a, f.ca);
    assert.equal(r.tls, "failed");
    assert.match(r.tls === "failed" ? r.error : "", /UnknownIssuer/);
    // and its own cluster's members reach it fine
    const own = await dial(server.port, f.stranger.id, f.stranger, f.otherCa);
    assert.equal(own.tls === "ok" && own.verdict?.ok, true);
  } finally {
    await server.stop();
  }
});
