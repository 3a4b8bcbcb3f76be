import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { createClusterCA, issueNodeCert } from "../../../core/identity/issue.ts";
import { IdentityError } from "../../../core/identity/errors.ts";
import {
  caFingerprint,
  CaRefusal,
  CertRefusal,
  loadClusterCa,
  normalizeSerial,
  verifyNodeCert,
} from "../../../core/identity/verify.ts";
import { generateNodeKey } from "../../../core/identity/keys.ts";
import { craftCert, DAY, fixtures } from "./_fixtures.ts";

Deno.test("a node certificate verifies against its cluster CA and names its node", async () => {
  const f = await fixtures();
  const r = verifyNodeCert(f.a.certPem, f.ca, f.t0);
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.nodeId, f.a.id);
  assert.ok(r.notAfter > f.t0 + 364 * DAY && r.notAfter <= f.t0 + 365 * DAY);
  assert.match(r.serial, /^[1-9a-f][0-9a-f]*$/);
  assert.deepEqual(r.publicKeySpki, f.a.key.publicKeySpki);
  // the CA as PEM works too (parsed on each call)
  assert.ok(verifyNodeCert(f.b.certPem, f.material.caCertPem, f.t0).ok);
});

Deno.test("issued certificates have the shape QUIC and the design ask for", async () => {
  const f = await fixtures();
  const ca = new X509Certificate(f.material.caCertPem);
  assert.equal(ca.ca, true);
  assert.ok(ca.keyUsage?.includes("KeyCertSign"));
  assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
  const caYears = (ca.validToDate.getTime() - f.t0) / (365 * DAY);
  assert.ok(caYears > 9.99 && caYears < 10.01, `${caYears}`);

  const leaf = new x509.X509Certificate(f.a.certPem);
  const eku = leaf.getExtension(x509.ExtendedKeyUsageExtension);
  assert.deepEqual([...eku?.usages ?? []], [
    x509.ExtendedKeyUsage.serverAuth,
    x509.ExtendedKeyUsage.clientAuth,
  ]);
  assert.equal(leaf.getExtension(x509.BasicConstraintsExtension)?.ca, false);
  assert.equal(
    leaf.getExtension(x509.KeyUsagesExtension)?.usages,
    x509.KeyUsageFlags.digitalSignature,
  );
  assert.equal(new X509Certificate(f.a.certPem).subjectAltName, `DNS:${f.a.id}.herd`);
  // serials are random: two certificates never share one
  assert.notEqual(leaf.serialNumber, new x509.X509Certificate(f.b.certPem).serialNumber);
});

Deno.test("a certificate from another cluster's CA is refused", async () => {
  const f = await fixtures();
  const r = verifyNodeCert(f.stranger.certPem, f.ca, f.t0);
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.reason, CertRefusal.NotSignedByCa);
  assert.match(!r.ok ? r.detail : "", /not signed by cluster CA sha256:[0-9a-f]{12}/);
});

Deno.test("a CA with the same name but another key does not vouch for our nodes", async () => {
  const f = await fixtures();
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const impostor = await x509.X509CertificateGenerator.createSelfSigned({
    name: new X509Certificate(f.material.caCertPem).subject,
    notBefore: new Date(f.t0 - DAY),
    notAfter: new Date(f.t0 + DAY),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  const pem = await craftCert({
    caCertPem: impostor.toString("pem"),
    caKeyPkcs8Pem: x509.PemConverter.encode(pkcs8.buffer, "PRIVATE KEY"),
  }, { t0: f.t0, sans: [{ type: "dns", value: "0123456789abcdef.herd" }] });
  assert.equal(new X509Certificate(pem).issuer, new X509Certificate(f.material.caCertPem).subject);
  const r = verifyNodeCert(pem, f.ca, f.t0);
  assert.equal(!r.ok && r.reason, CertRefusal.NotSignedByCa);
});

Deno.test("outside its validity window a certificate is refused (injected clock)", async () => {
  const f = await fixtures();
  const late = verifyNodeCert(f.a.certPem, f.ca, f.t0 + 366 * DAY);
  assert.equal(!late.ok && late.reason, CertRefusal.Expired);
  assert.match(!late.ok ? late.detail : "", /expired \d+h ago/);
  const early = verifyNodeCert(f.a.certPem, f.ca, f.t0 - 1 * DAY);
  assert.equal(!early.ok && early.reason, CertRefusal.NotYetValid);
  // issued certificates are backdated a little: a peer 1 minute behind accepts a fresh one
  assert.ok(verifyNodeCert(f.a.certPem, f.ca, f.t0 - 60_000).ok);
});

Deno.test("an expired cluster CA vouches for nothing", async () => {
  const t0 = Date.now();
  const material = await createClusterCA(t0, { validityDays: 2 });
  const key = await generateNodeKey();
  const cert = await issueNodeCert(material, {
    nodeId: "0123456789abcdef",
    publicKeySpkiPem: key.publicKeySpkiPem,
    now: t0,
    validityDays: 30,
  });
  assert.ok(verifyNodeCert(cert, material.caCertPem, t0 + DAY).ok);
  const r = verifyNodeCert(cert, material.caCertPem, t0 + 3 * DAY);
  assert.equal(!r.ok && r.reason, CertRefusal.CaExpired);
});

Deno.test("the CA certificate presented as a node's is refused", async () => {
  const f = await fixtures();
  const r = verifyNodeCert(f.material.caCertPem, f.ca, f.t0);
  assert.equal(!r.ok && r.reason, CertRefusal.IsCa);
  // and a CA:true certificate the CA signed, with a perfect SAN, too
  const subCa = await craftCert(f.material, {
    t0: f.t0,
    isCa: true,
    keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign,
    sans: [{ type: "dns", value: "0123456789abcdef.herd" }],
  });
  const r2 = verifyNodeCert(subCa, f.ca, f.t0);
  assert.equal(!r2.ok && r2.reason, CertRefusal.IsCa);
});

Deno.test("a certificate must name exactly one <node-id>.herd", async () => {
  const f = await fixtures();
  const cases: [string, x509.JsonGeneralNames | undefined][] = [
    ["no SAN", undefined],
    ["another domain", [{ type: "dns", value: "0123456789abcdef.example" }]],
    ["short id", [{ type: "dns", value: "abc.herd" }]],
    ["upper case id", [{ type: "dns", value: "0123456789ABCDEF.herd" }]],
    ["two names", [
      { type: "dns", value: "0123456789abcdef.herd" },
      { type: "dns", value: "fedcba9876543210.herd" },
    ]],
    ["an IP", [{ type: "ip", value: "10.0.0.1" }]],
  ];
  for (const [what, sans] of cases) {
    const pem = await craftCert(f.material, { t0: f.t0, sans });
    const r = verifyNodeCert(pem, f.ca, f.t0);
    assert.equal(!r.ok && r.reason, CertRefusal.BadSan, what);
  }
  const good = await craftCert(f.material, {
    t0: f.t0,
    sans: [{ type: "dns", value: "0123456789abcdef.herd" }],
  });
  assert.ok(verifyNodeCert(good, f.ca, f.t0).ok);
});

Deno.test("a certificate whose key may not sign is refused", async () => {
  const f = await fixtures();
  const pem = await craftCert(f.material, {
    t0: f.t0,
    keyUsage: x509.KeyUsageFlags.keyEncipherment,
    sans: [{ type: "dns", value: "0123456789abcdef.herd" }],
  });
  const r = verifyNodeCert(pem, f.ca, f.t0);
  assert.equal(!r.ok && r.reason, CertRefusal.WrongUsage);
});

Deno.test("revoked certificates are refused, by serial or by node id", async () => {
  const f = await fixtures();
  const ok = verifyNodeCert(f.a.certPem, f.ca, f.t0);
  assert.ok(ok.ok);
  const bySerial = verifyNodeCert(f.a.certPem, f.ca, f.t0, {
    revoked: { serials: new Set([normalizeSerial("00" + ok.serial.toUpperCase())]) },
  });
  assert.equal(!bySerial.ok && bySerial.reason, CertRefusal.Revoked);
  const byId = verifyNodeCert(f.a.certPem, f.ca, f.t0, { revoked: { nodeIds: new Set([f.a.id]) } });
  assert.equal(!byId.ok && byId.reason, CertRefusal.Revoked);
  // others stay valid
  assert.ok(
    verifyNodeCert(f.b.certPem, f.ca, f.t0, { revoked: { nodeIds: new Set([f.a.id]) } }).ok,
  );
});

Deno.test("garbage is refused as malformed; a garbage CA is our own bug and throws", async () => {
  const f = await fixtures();
  for (const pem of ["", "hello", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"]) {
    const r = verifyNodeCert(pem, f.ca, f.t0);
    assert.equal(!r.ok && r.reason, CertRefusal.Malformed);
  }
  assert.throws(() => verifyNodeCert(f.a.certPem, "nope", f.t0), IdentityError);
  assert.throws(() => caFingerprint("nope"), IdentityError);
});

Deno.test("a CA certificate is checked before it anchors anything", async () => {
  const f = await fixtures();
  assert.equal((loadClusterCa("x") as { reason: string }).reason, CaRefusal.Malformed);
  const leaf = loadClusterCa(f.a.certPem);
  assert.equal(!leaf.ok && leaf.reason, CaRefusal.NotCa);
  const r = loadClusterCa(f.material.caCertPem);
  assert.ok(r.ok);
  assert.equal(r.ca.fingerprint, caFingerprint(f.material.caCertPem));
  assert.match(r.ca.fingerprint, /^[0-9a-f]{64}$/);
  // the fingerprint is SHA-256 of the DER, which is what the X509Certificate reports too
  const expected = new X509Certificate(f.material.caCertPem).fingerprint256.replace(/:/g, "")
    .toLowerCase();
  assert.equal(r.ca.fingerprint, expected);
});

Deno.test("issuing refuses a bad node id, key or validity", async () => {
  const f = await fixtures();
  const key = await generateNodeKey();
  const base = { nodeId: "0123456789abcdef", publicKeySpkiPem: key.publicKeySpkiPem, now: f.t0 };
  await assert.rejects(() => issueNodeCert(f.material, { ...base, nodeId: "Bad" }), /'nodeId'/);
  await assert.rejects(
    () => issueNodeCert(f.material, { ...base, publicKeySpkiPem: "x" }),
    IdentityError,
  );
  await assert.rejects(
    () => issueNodeCert(f.material, { ...base, validityDays: 0 }),
    /'validityDays' must be > 0 days: got 0/,
  );
});

Deno.test("a certificate examined once is still checked against the time and revocations of each use", async () => {
  const f = await fixtures();
  const first = verifyNodeCert(f.a.certPem, f.ca, f.t0);
  assert.ok(first.ok);
  // the same PEM again, now past its validity, then revoked: the cache keeps neither answer
  assert.equal(
    (verifyNodeCert(f.a.certPem, f.ca, f.t0 + 400 * DAY) as { reason: string }).reason,
    CertRefusal.Expired,
  );
  const revoked = verifyNodeCert(f.a.certPem, f.ca, f.t0, {
    revoked: { nodeIds: new Set([f.a.id]) },
  });
  assert.equal((revoked as { reason: string }).reason, CertRefusal.Revoked);
  assert.ok(verifyNodeCert(f.a.certPem, f.ca, f.t0).ok);
  // and under another cluster's CA the same PEM is examined anew, and refused
  assert.equal(
    (verifyNodeCert(f.a.certPem, f.otherCa, f.t0) as { reason: string }).reason,
    CertRefusal.NotSignedByCa,
  );
});
