import assert from "node:assert/strict";
import { cryptoRandom, seededRandom } from "../../../core/clock.ts";
import {
  AuthRefusal,
  newChallenge,
  type ProofContext,
  proveConnection,
  verifyConnectionProof,
} from "../../../core/identity/connection_auth.ts";
import { CertRefusal } from "../../../core/identity/verify.ts";
import { DAY, fixtures, reload } from "./_fixtures.ts";

// a dials b: a is the dialer, b the server.

async function setup() {
  const f = await fixtures();
  const ctx: ProofContext = {
    role: "dialer",
    challenge: newChallenge(cryptoRandom),
    serverNodeId: f.b.id,
    dialerNodeId: f.a.id,
  };
  const trust = { ca: f.ca, now: f.t0 };
  return { f, ctx, trust };
}

Deno.test("connection auth: the dialer's proof over the server's challenge is accepted", async () => {
  const { f, ctx, trust } = await setup();
  const signature = await proveConnection(ctx, f.a.key.privateKey);
  const r = await verifyConnectionProof({ certPem: f.a.certPem, signature }, ctx, trust);
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.nodeId, f.a.id);
  // a key reloaded from its stored PEM signs just the same
  const again = await proveConnection(ctx, (await reload(f.a)).privateKey);
  assert.ok(
    (await verifyConnectionProof({ certPem: f.a.certPem, signature: again }, ctx, trust)).ok,
  );
});

Deno.test("connection auth: the server's proof over the dialer's challenge is accepted", async () => {
  const { f, ctx, trust } = await setup();
  const server: ProofContext = { ...ctx, role: "server" };
  const signature = await proveConnection(server, f.b.key.privateKey);
  const r = await verifyConnectionProof({ certPem: f.b.certPem, signature }, server, trust);
  assert.ok(r.ok);
  assert.equal(r.nodeId, f.b.id);
});

Deno.test("connection auth: a proof for another challenge, server or role is refused", async () => {
  const { f, ctx, trust } = await setup();
  const signature = await proveConnection(ctx, f.a.key.privateKey);
  const proof = { certPem: f.a.certPem, signature };
  const expectBad = async (c: ProofContext, what: string) => {
    const r = await verifyConnectionProof(proof, c, trust);
    assert.equal(!r.ok && r.reason, AuthRefusal.BadSignature, what);
  };
  await expectBad(
    { ...ctx, challenge: newChallenge(cryptoRandom) },
    "another connection's challenge",
  );
  // a proof a made for b, relayed by b to a third node that uses its own id
  await expectBad({ ...ctx, serverNodeId: "0123456789abcdef" }, "another server");
  // the dialer's proof presented as if it were the server's (a dials a itself)
  const asServer = await verifyConnectionProof(
    proof,
    { ...ctx, role: "server", serverNodeId: f.a.id, dialerNodeId: f.a.id },
    trust,
  );
  assert.equal(!asServer.ok && asServer.reason, AuthRefusal.BadSignature);
});

Deno.test("connection auth: a signature by a key other than the certificate's is refused", async () => {
  const { f, ctx, trust } = await setup();
  // b signs, but presents a's certificate and claims to be a
  const signature = await proveConnection(ctx, f.b.key.privateKey);
  const r = await verifyConnectionProof({ certPem: f.a.certPem, signature }, ctx, trust);
  assert.equal(!r.ok && r.reason, AuthRefusal.BadSignature);
});

Deno.test("connection auth: a valid certificate for another node than claimed is refused", async () => {
  const { f, ctx, trust } = await setup();
  const signature = await proveConnection(ctx, f.b.key.privateKey);
  const r = await verifyConnectionProof({ certPem: f.b.certPem, signature }, ctx, trust);
  assert.equal(!r.ok && r.reason, AuthRefusal.WrongNode);
  assert.match(
    !r.ok ? r.detail : "",
    new RegExp(`claims to be ${f.a.id}; its certificate names ${f.b.id}`),
  );
});

Deno.test("connection auth: the certificate's own checks apply (CA, expiry, revocation)", async () => {
  const { f, ctx, trust } = await setup();
  // a node of another cluster, with its own key and certificate
  const strangerCtx = { ...ctx, dialerNodeId: f.stranger.id };
  const sig = await proveConnection(strangerCtx, f.stranger.key.privateKey);
  const foreign = await verifyConnectionProof(
    { certPem: f.stranger.certPem, signature: sig },
    strangerCtx,
    trust,
  );
  assert.equal(!foreign.ok && foreign.reason, CertRefusal.NotSignedByCa);

  const signature = await proveConnection(ctx, f.a.key.privateKey);
  const proof = { certPem: f.a.certPem, signature };
  const expired = await verifyConnectionProof(proof, ctx, { ...trust, now: f.t0 + 400 * DAY });
  assert.equal(!expired.ok && expired.reason, CertRefusal.Expired);
  const revoked = await verifyConnectionProof(proof, ctx, {
    ...trust,
    revoked: { nodeIds: new Set([f.a.id]) },
  });
  assert.equal(!revoked.ok && revoked.reason, CertRefusal.Revoked);
});

Deno.test("connection auth: malformed challenges and signatures are refused, not thrown", async () => {
  const { f, ctx, trust } = await setup();
  const signature = await proveConnection(ctx, f.a.key.privateKey);
  const cases: [ProofContext, Uint8Array][] = [
    [{ ...ctx, challenge: new Uint8Array(31) }, signature],
    [{ ...ctx, dialerNodeId: "x" }, signature],
    [ctx, signature.slice(1)],
    [ctx, new Uint8Array(0)],
  ];
  for (const [c, s] of cases) {
    const r = await verifyConnectionProof({ certPem: f.a.certPem, signature: s }, c, trust);
    assert.equal(!r.ok && r.reason, AuthRefusal.Malformed);
  }
  // a zero signature of the right size is simply wrong
  const zero = await verifyConnectionProof(
    { certPem: f.a.certPem, signature: new Uint8Array(64) },
    ctx,
    trust,
  );
  assert.equal(!zero.ok && zero.reason, AuthRefusal.BadSignature);
  await assert.rejects(() =>
    proveConnection({ ...ctx, challenge: new Uint8Array(3) }, f.a.key.privateKey)
  );
});

Deno.test("challenges come from the injected random source", () => {
  assert.deepEqual(newChallenge(seededRandom(9)), newChallenge(seededRandom(9)));
  assert.equal(newChallenge(cryptoRandom).length, 32);
});

Deno.test("a resumed proof verifies only with the same secret, challenge, ids and role", async () => {
  const { proveWithSecret, verifySecretProof } = await import(
    "../../../core/identity/connection_auth.ts"
  );
  const { hmacKey } = await import("../../../core/transport/tickets.ts");
  const key = await hmacKey(new Uint8Array(32).fill(7));
  const other = await hmacKey(new Uint8Array(32).fill(8));
  const ctx = {
    role: "dialer" as const,
    challenge: new Uint8Array(32).fill(1),
    serverNodeId: "aaaaaaaaaaaaaaaa",
    dialerNodeId: "bbbbbbbbbbbbbbbb",
  };
  const mac = await proveWithSecret(ctx, key);
  assert.equal(mac.length, 32);
  assert.ok(await verifySecretProof(mac, ctx, key));
  assert.ok(!(await verifySecretProof(mac, ctx, other)), "another secret");
  assert.ok(!(await verifySecretProof(mac, { ...ctx, role: "server" }, key)), "the other role");
  assert.ok(
    !(await verifySecretProof(mac, { ...ctx, challenge: new Uint8Array(32).fill(2) }, key)),
    "another connection's challenge",
  );
  assert.ok(
    !(await verifySecretProof(mac, { ...ctx, dialerNodeId: "cccccccccccccccc" }, key)),
    "relayed for a third node",
  );
  assert.ok(!(await verifySecretProof(mac.slice(0, 31), ctx, key)), "truncated");
});
