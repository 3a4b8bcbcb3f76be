import assert from "node:assert/strict";
import { loadNodeKey } from "../../../core/identity/keys.ts";
import {
  checkRevocations,
  RevocationRefusal,
  revocationSet,
  revokeNode,
} from "../../../core/identity/revocation.ts";
import { fixtures } from "./_fixtures.ts";

const caKey = async () => (await loadNodeKey((await fixtures()).material.caKeyPkcs8Pem)).privateKey;

Deno.test("a revocation list signed with the CA key checks out, and each revocation is a new version", async () => {
  const f = await fixtures();
  const one = await revokeNode(
    undefined,
    { nodeId: f.a.id, at: 1, reason: "stolen" },
    await caKey(),
  );
  assert.equal(one.version, 1);
  const two = await revokeNode(one, { nodeId: f.b.id, at: 2 }, await caKey());
  assert.equal(two.version, 2);
  assert.deepEqual(two.entries.map((e) => e.nodeId), [f.a.id, f.b.id]);
  const r = await checkRevocations(JSON.parse(JSON.stringify(two)), f.ca);
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual([...revocationSet(r.list).nodeIds!], [f.a.id, f.b.id]);
  assert.equal(revocationSet(undefined).nodeIds!.size, 0);
});

Deno.test("a list changed after signing, or checked against another cluster's CA, is refused", async () => {
  const f = await fixtures();
  const list = await revokeNode(undefined, { nodeId: f.a.id, at: 1 }, await caKey());
  const refused = async (x: unknown, ca = f.ca) => {
    const r = await checkRevocations(x, ca);
    assert.ok(!r.ok);
    return r.reason;
  };
  // another node in place of the one the CA revoked; a higher version; a dropped entry
  assert.equal(
    await refused({ ...list, entries: [{ nodeId: f.b.id, at: 1 }] }),
    RevocationRefusal.BadSignature,
  );
  assert.equal(await refused({ ...list, version: 9 }), RevocationRefusal.BadSignature);
  assert.equal(await refused({ ...list, entries: [] }), RevocationRefusal.BadSignature);
  assert.equal(await refused(list, f.otherCa), RevocationRefusal.BadSignature);
});

Deno.test("a malformed list is refused as malformed, never thrown", async () => {
  const f = await fixtures();
  const list = await revokeNode(undefined, { nodeId: f.a.id, at: 1 }, await caKey());
  for (
    const x of [
      null,
      "list",
      [],
      { ...list, extra: 1 },
      { ...list, version: 0 },
      { ...list, version: 1.5 },
      { ...list, entries: "x" },
      { ...list, entries: [{ nodeId: "NOT AN ID", at: 1 }] },
      { ...list, entries: [{ nodeId: f.a.id, at: "soon" }] },
      { ...list, entries: [{ nodeId: f.a.id, at: 1, reason: "x".repeat(201) }] },
      { ...list, signature: "!!" },
      { ...list, signature: 7 },
    ]
  ) {
    const r = await checkRevocations(x, f.ca);
    assert.ok(!r.ok && r.reason === RevocationRefusal.Malformed, JSON.stringify(x));
  }
});
