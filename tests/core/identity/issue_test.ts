// issue.ts builds certificates as DER itself; @peculiar/x509 built them before. Given the
// same keys, serial and time, both must give the same TBSCertificate byte for byte (the
// ECDSA signatures differ: they are randomized), and each signature must verify.

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { toHex } from "../../../core/identity/_bytes.ts";
import { elements } from "../../../core/identity/_der.ts";
import { createClusterCA, issueNodeCert } from "../../../core/identity/issue.ts";
import { generateNodeKey } from "../../../core/identity/keys.ts";
import { newNodeId } from "../../../core/ids.ts";
import { seededRandom } from "../../../core/clock.ts";

const SIGNING = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;
const BACKDATE_MS = 5 * 60_000;

/** A random source that gives `bytes` (then zeros), as issue.ts would draw its serial. */
const fixed = (bytes: Uint8Array) => (n: number) => {
  const out = new Uint8Array(n);
  out.set(bytes.subarray(0, n));
  return out;
};

/** The serial issue.ts makes from a random draw. */
const serialHex = (draw: Uint8Array) => {
  const b = new Uint8Array(draw.subarray(0, 16));
  b[0] = (b[0] & 0x7f) | 0x01;
  return toHex(b);
};

const der = (pem: string) => new Uint8Array(x509.PemConverter.decodeFirst(pem));

/** [tbs, signatureAlgorithm, signature] of a certificate. */
function parts(pem: string) {
  const [cert] = elements(der(pem));
  return elements(cert.content);
}

async function pair(caKeyPkcs8Pem: string, caCertPem: string) {
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    der(caKeyPkcs8Pem),
    SIGNING,
    true,
    ["sign"],
  );
  const spki = new Uint8Array(
    new X509Certificate(caCertPem).publicKey.export({ type: "spki", format: "der" }),
  );
  const publicKey = await crypto.subtle.importKey("spki", spki, SIGNING, true, ["verify"]);
  return { privateKey, publicKey };
}

/** What issue.ts did with @peculiar/x509, for a given key pair and serial. */
async function peculiarCa(now: number, days: number, serial: string, keys: CryptoKeyPair) {
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial,
    name: `CN=herd cluster CA ${serial.slice(0, 12)}`,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + days * DAY_MS),
    signingAlgorithm: SIGNING,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return cert.toString("pem").trimEnd() + "\n";
}

async function peculiarNode(
  caCertPem: string,
  caKey: CryptoKey,
  o: { nodeId: string; spkiPem: string; now: number; days: number; serial: string },
) {
  const caCert = new x509.X509Certificate(caCertPem);
  const publicKey = await crypto.subtle.importKey(
    "spki",
    new Uint8Array(x509.PemConverter.decodeFirst(o.spkiPem)),
    SIGNING,
    true,
    ["verify"],
  );
  const name = `${o.nodeId}.herd`;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: o.serial,
    subject: `CN=${name}`,
    issuer: caCert.subject,
    notBefore: new Date(o.now - BACKDATE_MS),
    notAfter: new Date(o.now + o.days * DAY_MS),
    signingAlgorithm: SIGNING,
    publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: name }]),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  return cert.toString("pem").trimEnd() + "\n";
}

// Times through the UTCTime/GeneralizedTime switch (2050) and with milliseconds; validities
// that end before and after it; serials with and without leading bits.
const CASES = [
  { now: Date.UTC(2026, 0, 2, 3, 4, 5, 678), caDays: 3650, nodeDays: 365, seed: 1 },
  { now: Date.UTC(2049, 11, 31, 23, 0, 0, 1), caDays: 3650, nodeDays: 365, seed: 2 },
  { now: Date.UTC(2031, 6, 1), caDays: 36_500, nodeDays: 0.5, seed: 3 },
  { now: Date.UTC(2051, 1, 28, 12, 30, 59, 999), caDays: 1, nodeDays: 7, seed: 4 },
];

Deno.test("issued certificates are @peculiar/x509's, byte for byte before the signature", async () => {
  for (const c of CASES) {
    const rnd = seededRandom(c.seed);
    const caDraw = rnd(16);
    const material = await createClusterCA(c.now, {
      validityDays: c.caDays,
      random: fixed(caDraw),
    });
    const keys = await pair(material.caKeyPkcs8Pem, material.caCertPem);
    const expectedCa = await peculiarCa(c.now, c.caDays, serialHex(caDraw), keys);
    assert.deepEqual(parts(material.caCertPem)[0].whole, parts(expectedCa)[0].whole);
    assert.deepEqual(parts(material.caCertPem)[1].whole, parts(expectedCa)[1].whole);
    const ca = new X509Certificate(material.caCertPem);
    assert.ok(ca.verify(ca.publicKey), "the CA's own signature verifies");
    // The same PEM layout (64-character lines).
    assert.deepEqual(
      material.caCertPem.split("\n").map((l) => l.length),
      expectedCa.split("\n").map((l) => l.length),
    );

    for (let i = 0; i < 3; i++) {
      const node = await generateNodeKey();
      const nodeId = newNodeId(rnd);
      const nodeDraw = rnd(16);
      const pem = await issueNodeCert(material, {
        nodeId,
        publicKeySpkiPem: node.publicKeySpkiPem,
        now: c.now,
        validityDays: c.nodeDays,
        random: fixed(nodeDraw),
      });
      const expected = await peculiarNode(material.caCertPem, keys.privateKey, {
        nodeId,
        spkiPem: node.publicKeySpkiPem,
        now: c.now,
        days: c.nodeDays,
        serial: serialHex(nodeDraw),
      });
      assert.deepEqual(parts(pem)[0].whole, parts(expected)[0].whole, `${c.now} ${nodeId}`);
      assert.deepEqual(parts(pem)[1].whole, parts(expected)[1].whole);
      assert.ok(new X509Certificate(pem).verify(ca.publicKey), "signed by the CA");
    }
  }
});

Deno.test("a CA serial from any first random byte encodes as @peculiar's", async () => {
  const now = Date.UTC(2026, 4, 5);
  for (const first of [0x00, 0x7f, 0x80, 0xff]) {
    const draw = new Uint8Array(16).fill(0x5a);
    draw[0] = first;
    const material = await createClusterCA(now, { random: fixed(draw) });
    const keys = await pair(material.caKeyPkcs8Pem, material.caCertPem);
    const expected = await peculiarCa(now, 3650, serialHex(draw), keys);
    assert.deepEqual(parts(material.caCertPem)[0].whole, parts(expected)[0].whole);
  }
});

Deno.test("der: integers, lengths, times and object identifiers as X.690 has them", async () => {
  const { objectIdentifier, octetString, time, unsignedInteger, smallInteger } = await import(
    "../../../core/identity/_der.ts"
  );
  const h = (b: Uint8Array) => toHex(b);
  // Minimal and positive: leading zeros go, a 0 byte keeps a top bit from reading as a sign.
  assert.equal(h(unsignedInteger(Uint8Array.of(0, 0, 0x80))), "02020080");
  assert.equal(h(unsignedInteger(Uint8Array.of(0, 1))), "020101");
  assert.equal(h(unsignedInteger(Uint8Array.of(0xff))), "020200ff");
  assert.equal(h(unsignedInteger(Uint8Array.of(0, 0))), "020100");
  assert.equal(h(smallInteger(0)), "020100");
  assert.equal(h(smallInteger(2)), "020102");
  assert.equal(h(smallInteger(300)), "0202012c");
  // Short and long length forms.
  assert.equal(h(octetString(new Uint8Array(127))).slice(0, 4), "047f");
  assert.equal(h(octetString(new Uint8Array(128))).slice(0, 6), "048180");
  assert.equal(h(octetString(new Uint8Array(300))).slice(0, 8), "0482012c");
  assert.equal(h(objectIdentifier("1.2.840.10045.4.3.2")), "06082a8648ce3d040302");
  assert.equal(h(objectIdentifier("2.5.29.19")), "0603551d13");
  // UTCTime through 2049, GeneralizedTime from 2050; milliseconds dropped.
  const ascii = (b: Uint8Array) => new TextDecoder().decode(b.subarray(2));
  assert.equal(ascii(time(Date.UTC(2049, 11, 31, 23, 59, 59, 999))), "491231235959Z");
  assert.equal(time(Date.UTC(2049, 0, 1))[0], 0x17);
  assert.equal(ascii(time(Date.UTC(2050, 0, 1, 0, 0, 0))), "20500101000000Z");
  assert.equal(time(Date.UTC(2050, 0, 1))[0], 0x18);
});

Deno.test("signatures verify whatever the bytes of r and s (a 0 byte kept or dropped)", async () => {
  const now = Date.now();
  const material = await createClusterCA(now);
  const ca = new X509Certificate(material.caCertPem);
  const node = await generateNodeKey();
  let padded = 0;
  for (let i = 0; i < 200; i++) {
    const pem = await issueNodeCert(material, {
      nodeId: newNodeId(seededRandom(i)),
      publicKeySpkiPem: node.publicKeySpkiPem,
      now,
    });
    assert.ok(new X509Certificate(pem).verify(ca.publicKey), `certificate ${i}`);
    // ECDSA-Sig-Value: SEQUENCE { INTEGER r, INTEGER s } inside the BIT STRING.
    const [r, s] = elements(elements(parts(pem)[2].content.subarray(1))[0].content);
    if (r.content[0] === 0 || s.content[0] === 0) padded++;
  }
  assert.ok(padded > 0, "no r or s with its top bit set in 200 signatures");
});
