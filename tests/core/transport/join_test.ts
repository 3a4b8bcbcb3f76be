// Joins over real QUIC: the server's grant is the agent's recipe (grantJoin from
// core/identity with the transport's nonces); the joiner is requestJoin.

import assert from "node:assert/strict";
import { cryptoRandom } from "../../../core/clock.ts";
import { newNodeId } from "../../../core/ids.ts";
import {
  grantJoin,
  JoinNonces,
  type JoinRequest,
  makeJoinRequest,
  resolveJoinConfig,
} from "../../../core/identity/join.ts";
import { generateNodeKey } from "../../../core/identity/keys.ts";
import { nodeDnsName } from "../../../core/identity/names.ts";
import { makeToken, parseToken } from "../../../core/identity/token.ts";
import { verifyNodeCert } from "../../../core/identity/verify.ts";
import { ControlChannel } from "../../../core/transport/channel.ts";
import { ALPN, ControlType } from "../../../core/transport/control.ts";
import { JoinError } from "../../../core/transport/errors.ts";
import { type JoinHandler, requestJoin } from "../../../core/transport/join.ts";
import { fixtures, identityOf, ping, type Running, start, waitFor } from "./_helpers.ts";

async function joinServer(): Promise<{ b: Running; token: string }> {
  const f = await fixtures();
  const token = makeToken(f.ca.fingerprint, cryptoRandom);
  const parsed = parseToken(token);
  if (!parsed.ok) throw new Error(parsed.detail);
  const config = resolveJoinConfig({ nonceTtlMs: 60_000, maxClockSkewMs: 300_000 });
  const nonces = new JoinNonces({ now: () => Date.now() }, cryptoRandom, config);
  const join: JoinHandler = {
    nonces,
    async grant(request) {
      const r = await grantJoin(request, {
        token: parsed.token,
        selfNodeId: f.b.id,
        nonces,
        clock: { now: () => Date.now() },
        config,
        ca: f.material,
      });
      return r.ok ? { ok: true, certPem: r.certPem, caPem: f.material.caCertPem } : r;
    },
  };
  return { b: await start(await identityOf(f.b), { join }), token };
}

async function joiner() {
  return { nodeId: newNodeId(cryptoRandom), key: await generateNodeKey() };
}

const joinVia = (b: Running, token: string, j: Awaited<ReturnType<typeof joiner>>) =>
  requestJoin({
    token,
    host: "127.0.0.1",
    port: b.t.port,
    nodeId: j.nodeId,
    key: j.key,
    timeoutMs: 10_000,
    now: () => Date.now(),
  });

async function refusal(p: Promise<unknown>): Promise<JoinError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof JoinError) return e;
    throw e;
  }
  throw new Error("the join was not refused");
}

Deno.test("join: the right token gets a certificate that verifies; the node then is a member", async () => {
  const f = await fixtures();
  const { b, token } = await joinServer();
  const j = await joiner();
  let member: Running | undefined;
  try {
    const r = await joinVia(b, token, j);
    assert.equal(r.serverId, f.b.id);
    const cert = verifyNodeCert(r.certPem, f.ca, Date.now());
    assert.ok(cert.ok && cert.nodeId === j.nodeId);
    assert.equal(b.t.stats.joinsGranted, 1);
    // The join connection carried no membership traffic and is gone.
    assert.deepEqual(b.t.connectedPeers(), []);
    await waitFor(() => b.t.stats.connectionsOpen === 0, "the join connection to close");

    // With its certificate, the new node authenticates like any member.
    member = await start(await identityOf({ id: j.nodeId, certPem: r.certPem, key: j.key }));
    member.t.send(b.address, ping(1, { id: j.nodeId, address: member.address }, f.b.id));
    await waitFor(() => b.got.length === 1, "b to get the new member's ping");
    assert.equal(b.got[0].from.id, j.nodeId);
  } finally {
    await member?.t.close();
    await b.t.close();
  }
});

Deno.test("join: a wrong secret is refused (join-bad-mac), with a hint, and no certificate", async () => {
  const f = await fixtures();
  const { b } = await joinServer();
  try {
    const wrong = makeToken(f.ca.fingerprint, cryptoRandom); // same CA, another secret
    const e = await refusal(joinVia(b, wrong, await joiner()));
    assert.equal(e.reason, "join-bad-mac");
    assert.match(e.hint ?? "", /herd token/);
    assert.equal(b.t.stats.joinsGranted, 0);
    assert.deepEqual(b.t.stats.joinRefusedByReason, { "join-bad-mac": 1 });
  } finally {
    await b.t.close();
  }
});

Deno.test("join: a token for another cluster is refused before anything secret-derived is sent", async () => {
  const f = await fixtures();
  const { b } = await joinServer();
  try {
    const other = makeToken(f.otherCa.fingerprint, cryptoRandom);
    const e = await refusal(joinVia(b, other, await joiner()));
    assert.equal(e.reason, "join-ca-mismatch");
    // Only the public info was asked for: no QUIC connection, no join request.
    assert.equal(b.t.stats.infoServed, 1);
    assert.equal(b.t.stats.accepted, 0);
    assert.equal(b.t.stats.joinsGranted + b.t.stats.joinsRefused, 0);
  } finally {
    await b.t.close();
  }
});

Deno.test("join: a malformed token is refused without any network", async () => {
  const e = await refusal(
    requestJoin({
      token: "herd1.nothex.secret",
      host: "127.0.0.1",
      port: 1,
      nodeId: newNodeId(cryptoRandom),
      key: await generateNodeKey(),
      timeoutMs: 1_000,
      now: () => Date.now(),
    }),
  );
  assert.equal(e.reason, "token-bad-hash");
});

Deno.test("join: a node without a join handler refuses joins (join-unavailable)", async () => {
  const f = await fixtures();
  const b = await start(await identityOf(f.b));
  try {
    const token = makeToken(f.ca.fingerprint, cryptoRandom);
    const e = await refusal(joinVia(b, token, await joiner()));
    assert.equal(e.reason, "join-unavailable");
    assert.equal(b.t.stats.joinsRefused, 1);
  } finally {
    await b.t.close();
  }
});

/** One raw join exchange: the request sent is `replay` if given, else a fresh one. */
async function rawJoin(
  b: Running,
  token: string,
  j: Awaited<ReturnType<typeof joiner>>,
  replay?: JoinRequest,
): Promise<{ request: JoinRequest; answer: ControlType; reason?: string }> {
  const f = await fixtures();
  const parsed = parseToken(token);
  if (!parsed.ok) throw new Error(parsed.detail);
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  try {
    const conn = await Deno.connectQuic({
      endpoint,
      hostname: "127.0.0.1",
      port: b.t.port,
      serverName: nodeDnsName(f.b.id),
      caCerts: [f.ca.pem],
      alpnProtocols: ALPN,
    });
    const channel = new ControlChannel(await conn.createBidirectionalStream());
    await channel.send({ type: ControlType.JoinHello });
    const challenge = await channel.expect(ControlType.JoinChallenge);
    if (challenge.type !== ControlType.JoinChallenge) throw new Error("no challenge");
    const request = replay ?? await makeJoinRequest({
      token: parsed.token,
      challenge: { nonce: challenge.nonce },
      serverNodeId: f.b.id,
      nodeId: j.nodeId,
      key: j.key,
      clock: { now: () => Date.now() },
    });
    await channel.send({ type: ControlType.JoinRequest, ...request });
    const answer = await channel.expect(ControlType.JoinGranted);
    conn.close();
    return {
      request,
      answer: answer.type,
      reason: answer.type === ControlType.Refused ? answer.reason : undefined,
    };
  } finally {
    endpoint.close();
  }
}

Deno.test("join: a replayed join request (same nonce) is refused", async () => {
  const { b, token } = await joinServer();
  try {
    const j = await joiner();
    const first = await rawJoin(b, token, j);
    assert.equal(first.answer, ControlType.JoinGranted);
    const again = await rawJoin(b, token, j, first.request);
    assert.equal(again.answer, ControlType.Refused);
    assert.equal(again.reason, "join-unknown-nonce");
    assert.equal(b.t.stats.joinsGranted, 1);
    assert.deepEqual(b.t.stats.joinRefusedByReason, { "join-unknown-nonce": 1 });
  } finally {
    await b.t.close();
  }
});
