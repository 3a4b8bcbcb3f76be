import assert from "node:assert/strict";
import { type Clock, cryptoRandom, seededRandom } from "../../../core/clock.ts";
import { newNodeId } from "../../../core/ids.ts";
import {
  checkCaForToken,
  grantJoin,
  JoinNonces,
  JoinRefusal,
  type JoinRequest,
  makeJoinRequest,
  resolveJoinConfig,
  verifyJoinRequest,
} from "../../../core/identity/join.ts";
import { generateNodeKey, type NodeKey } from "../../../core/identity/keys.ts";
import { type JoinToken, makeToken, parseToken } from "../../../core/identity/token.ts";
import { verifyNodeCert } from "../../../core/identity/verify.ts";
import { fixtures } from "./_fixtures.ts";

/** A clock the test moves by hand. */
function manualClock(start: number): Clock & { advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function token(text: string): JoinToken {
  const r = parseToken(text);
  if (!r.ok) throw new Error(r.detail);
  return r.token;
}

interface Scene {
  clock: ReturnType<typeof manualClock>;
  serverToken: JoinToken;
  joinerToken: JoinToken;
  nonces: JoinNonces;
  serverId: string;
  joinerId: string;
  key: NodeKey;
}

async function scene(): Promise<Scene> {
  const f = await fixtures();
  const clock = manualClock(f.t0);
  const text = makeToken(f.ca.fingerprint, cryptoRandom);
  return {
    clock,
    serverToken: token(text),
    joinerToken: token(text),
    nonces: new JoinNonces(clock, cryptoRandom),
    serverId: f.a.id,
    joinerId: newNodeId(cryptoRandom),
    key: await generateNodeKey(),
  };
}

async function request(s: Scene, over: Partial<JoinToken> = {}): Promise<JoinRequest> {
  return await makeJoinRequest({
    token: { ...s.joinerToken, ...over },
    challenge: s.nonces.issue(),
    serverNodeId: s.serverId,
    nodeId: s.joinerId,
    key: s.key,
    clock: s.clock,
  });
}

const verify = (s: Scene, r: JoinRequest) =>
  verifyJoinRequest(r, {
    token: s.serverToken,
    selfNodeId: s.serverId,
    nonces: s.nonces,
    clock: s.clock,
  });

Deno.test("join: the joiner trusts the fetched CA only if its hash is the token's", async () => {
  const f = await fixtures();
  const t = token(makeToken(f.ca.fingerprint, cryptoRandom));
  const ok = checkCaForToken(t, f.material.caCertPem);
  assert.ok(ok.ok);
  assert.equal(ok.ca.fingerprint, t.caFingerprint);
  // another cluster's CA (say, a rogue member of the network answering first)
  const other = checkCaForToken(t, f.otherMaterial.caCertPem);
  assert.equal(!other.ok && other.reason, JoinRefusal.CaMismatch);
  assert.match(!other.ok ? other.detail : "", /the token names [0-9a-f]{64}/);
  // a token made for the other cluster does not accept ours either
  const t2 = token(makeToken(f.otherCa.fingerprint, cryptoRandom));
  assert.equal(
    (checkCaForToken(t2, f.material.caCertPem) as { reason: string }).reason,
    JoinRefusal.CaMismatch,
  );
  // not a certificate at all; a leaf whose hash was put in a token still cannot be a CA
  assert.equal((checkCaForToken(t, "junk") as { reason: string }).reason, JoinRefusal.CaUnusable);
  const { caFingerprint } = await import("../../../core/identity/verify.ts");
  const leafToken = token(makeToken(caFingerprint(f.a.certPem), cryptoRandom));
  const leaf = checkCaForToken(leafToken, f.a.certPem);
  assert.equal(!leaf.ok && leaf.reason, JoinRefusal.CaUnusable);
});

Deno.test("join: the right secret gets a node certificate for the joiner's key", async () => {
  const f = await fixtures();
  const s = await scene();
  const req = await request(s);
  assert.equal(s.nonces.size, 1);
  const granted = await grantJoin(req, {
    token: s.serverToken,
    selfNodeId: s.serverId,
    nonces: s.nonces,
    clock: s.clock,
    ca: f.material,
  });
  assert.ok(granted.ok, JSON.stringify(granted));
  assert.equal(granted.nodeId, s.joinerId);
  assert.equal(s.nonces.size, 0, "the nonce is used up");
  const cert = verifyNodeCert(granted.certPem, f.ca, s.clock.now());
  assert.ok(cert.ok);
  assert.equal(cert.nodeId, s.joinerId);
  assert.deepEqual(cert.publicKeySpki, s.key.publicKeySpki);
});

Deno.test("join: the secret itself is nowhere in the request", async () => {
  const s = await scene();
  const req = await request(s);
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const wire = Object.values(req).map((v) => v instanceof Uint8Array ? hex(v) : String(v)).join(
    "|",
  );
  assert.ok(!wire.includes(hex(s.joinerToken.secret)));
});

Deno.test("join: a wrong secret is refused", async () => {
  const s = await scene();
  const req = await request(s, { secret: cryptoRandom(32) });
  const r = await verify(s, req);
  assert.equal(!r.ok && r.reason, JoinRefusal.BadMac);
  assert.match(!r.ok ? r.detail : "", /wrong token secret/);
});

Deno.test("join: a MAC made for another cluster's CA hash is refused", async () => {
  // Same secret, other CA: the CA hash is part of the transcript.
  const f = await fixtures();
  const s = await scene();
  const req = await request(s, { caFingerprint: f.otherCa.fingerprint });
  assert.equal((await verify(s, req) as { reason: string }).reason, JoinRefusal.BadMac);
});

Deno.test("join: a recorded request cannot be replayed", async () => {
  const s = await scene();
  const req = await request(s);
  assert.ok((await verify(s, req)).ok);
  const again = await verify(s, req);
  assert.equal(!again.ok && again.reason, JoinRefusal.UnknownNonce);
  // a nonce this server never issued
  const forged = { ...req, nonce: cryptoRandom(32) };
  assert.equal((await verify(s, forged) as { reason: string }).reason, JoinRefusal.UnknownNonce);
});

Deno.test("join: a request for another server is refused", async () => {
  const f = await fixtures();
  const s = await scene();
  const req = await request(s);
  const r = await verifyJoinRequest(req, {
    token: s.serverToken,
    selfNodeId: f.b.id,
    nonces: s.nonces,
    clock: s.clock,
  });
  assert.equal(!r.ok && r.reason, JoinRefusal.WrongServer);
  // rewriting the server id (to pass at b) breaks the MAC
  const tampered = await verifyJoinRequest({ ...req, serverNodeId: f.b.id }, {
    token: s.serverToken,
    selfNodeId: f.b.id,
    nonces: s.nonces,
    clock: s.clock,
  });
  assert.equal(!tampered.ok && tampered.reason, JoinRefusal.BadMac);
});

Deno.test("join: stale nonces and timestamps are refused", async () => {
  const s = await scene();
  const config = resolveJoinConfig();
  // the nonce outlived its time to live
  const req = await request(s);
  s.clock.advance(config.nonceTtlMs + 1);
  assert.equal((await verify(s, req) as { reason: string }).reason, JoinRefusal.ExpiredNonce);
  // a fresh nonce, but the joiner's clock is 10 minutes behind
  const s2 = await scene();
  const challenge = s2.nonces.issue();
  const behind = { now: () => s2.clock.now() - 10 * 60_000 };
  const old = await makeJoinRequest({
    token: s2.joinerToken,
    challenge,
    serverNodeId: s2.serverId,
    nodeId: s2.joinerId,
    key: s2.key,
    clock: behind,
  });
  const r = await verify(s2, old);
  assert.equal(!r.ok && r.reason, JoinRefusal.StaleTimestamp);
  assert.match(!r.ok ? r.detail : "", /10m behind this node's clock \(at most 5m allowed\)/);
  // the timestamp cannot be rewritten: it is under the MAC
  const s3 = await scene();
  const req3 = await request(s3);
  const bumped = await verify(s3, { ...req3, timestampMs: req3.timestampMs + 1 });
  assert.equal(!bumped.ok && bumped.reason, JoinRefusal.BadMac);
});

Deno.test("join: a key the joiner does not hold is refused (proof of possession)", async () => {
  const s = await scene();
  const req = await request(s);
  // Someone who knows the secret swaps in another key; the MAC is recomputed, the signature cannot be.
  const other = await generateNodeKey();
  const s2 = { ...s, key: { ...s.key, publicKeySpki: other.publicKeySpki } };
  const swapped = await request(s2);
  assert.equal((await verify(s, swapped) as { reason: string }).reason, JoinRefusal.BadSignature);
  assert.ok((await verify(s, req)).ok);
});

Deno.test("join: malformed requests and taken node ids are refused", async () => {
  const s = await scene();
  const req = await request(s);
  for (
    const bad of [
      { ...req, nonce: new Uint8Array(8) },
      { ...req, mac: new Uint8Array(0) },
      { ...req, nodeId: "Not-An-Id" },
      { ...req, publicKeySpki: new Uint8Array(0) },
      { ...req, timestampMs: Number.NaN },
    ]
  ) {
    assert.equal((await verify(s, bad) as { reason: string }).reason, JoinRefusal.Malformed);
  }
  const r = await verifyJoinRequest(req, {
    token: s.serverToken,
    selfNodeId: s.serverId,
    nonces: s.nonces,
    clock: s.clock,
    nodeIdInUse: (id) => id === s.joinerId,
  });
  assert.equal(!r.ok && r.reason, JoinRefusal.NodeIdTaken);
});

Deno.test("join nonces are bounded: the oldest are forgotten first", () => {
  const clock = manualClock(0);
  const nonces = new JoinNonces(
    clock,
    seededRandom(3),
    resolveJoinConfig({ maxOutstandingNonces: 3, nonceTtlMs: 1000 }),
  );
  const [n1, n2, n3, n4] = [1, 2, 3, 4].map(() => nonces.issue().nonce);
  assert.equal(nonces.size, 3);
  assert.equal(nonces.consume(n1), "unknown");
  assert.equal(nonces.consume(n4), "ok");
  assert.equal(nonces.consume(n4), "unknown");
  clock.advance(1001);
  assert.equal(nonces.consume(n2), "expired");
  nonces.issue(); // purges what expired
  assert.equal(nonces.size, 1);
  assert.equal(nonces.consume(n3), "unknown");
  assert.throws(() => resolveJoinConfig({ nonceTtlMs: 0 }), /'nonceTtlMs' must be > 0: got 0/);
});
