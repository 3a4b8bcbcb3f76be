// Issuing certificates: the cluster CA and node certificates, built as DER (_der.ts) and
// signed with WebCrypto. No X.509 library: @peculiar/x509, which issued them before,
// kept ~4 MB of heap for the life of the process once loaded (the first `herd up`
// creates a cluster, the CA holder issues on every join); what it produced is checked
// byte for byte by tests/core/identity/issue_test.ts. Still imported only where it is
// used (`herd up` creating a cluster, the CA holder answering a join).
//
// What Deno's QUIC (rustls/webpki) accepts, checked by tests/core/identity/quic_test.ts:
// a self-signed CA (CA:true, keyCertSign) and a non-CA leaf with a DNS SAN naming the
// server and the serverAuth extended key usage.

import type { RandomBytes } from "../clock.ts";
import { cryptoRandom } from "../clock.ts";
import { own, pemDecode, pemEncode, toHex } from "./_bytes.ts";
import {
  ascii,
  bitString,
  boolean,
  type Der,
  elements,
  explicit,
  implicit,
  objectIdentifier,
  octetString,
  printableString,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from "./_der.ts";
import { IdentityError } from "./errors.ts";
import { EC_KEY } from "./keys.ts";
import { isNodeId, nodeDnsName } from "./names.ts";

const SIGNING = { ...EC_KEY, hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;

/** A new CA is valid for ten years. */
export const CA_VALIDITY_DAYS = 3650;
/** A node certificate is valid for a year (rotation is not automated yet: docs/security.md). */
export const NODE_CERT_VALIDITY_DAYS = 365;
/**
 * Certificates start this long before they are issued, so a peer whose clock is a little
 * behind the issuer's does not see a fresh certificate as "not yet valid".
 */
export const NOT_BEFORE_BACKDATE_MS = 5 * 60_000;

/** The CA's secret half stays on the node that created the cluster (see docs/security.md). */
export interface ClusterCaMaterial {
  caCertPem: string;
  /** PKCS#8 PEM. Whoever holds it can admit nodes: store it with mode 0600. */
  caKeyPkcs8Pem: string;
}

export interface CreateCaOptions {
  /** Validity in days. @default {CA_VALIDITY_DAYS} */
  validityDays?: number;
  /** Serial numbers come from here. @default {cryptoRandom} */
  random?: RandomBytes;
}

export interface IssueNodeCertOptions {
  nodeId: string;
  /** The node's public key, SubjectPublicKeyInfo PEM ("PUBLIC KEY"); must be ECDSA P-256. */
  publicKeySpkiPem: string;
  /** Issue time, ms since the epoch. */
  now: number;
  /** @default {NODE_CERT_VALIDITY_DAYS} */
  validityDays?: number;
  /** @default {cryptoRandom} */
  random?: RandomBytes;
}

function positiveDays(field: string, days: number): number {
  if (!Number.isFinite(days) || days <= 0) {
    throw new IdentityError(`'${field}' must be > 0 days: got ${days}`);
  }
  return days;
}

/** 16 random bytes as a positive serial, first byte 0x01-0x7f (RFC 5280: <= 20 octets, > 0). */
function randomSerial(random: RandomBytes): Uint8Array {
  const b = random(16);
  b[0] = (b[0] & 0x7f) | 0x01;
  return b;
}

// Object identifiers (RFC 5280, RFC 5758).
const OID = {
  commonName: "2.5.4.3",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

/** AlgorithmIdentifier of ecdsa-with-SHA256: no parameters (RFC 5758 §3.2). */
const ECDSA_SHA256_ALGORITHM = sequence(objectIdentifier(OID.ecdsaWithSha256));

/** A Name of one common name; PrintableString when the text allows it, else UTF8String. */
function commonNameOf(text: string): Der {
  const value = /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(text) ? printableString(text) : utf8String(text);
  return sequence(set(sequence(objectIdentifier(OID.commonName), value)));
}

function extension(oid: string, critical: boolean, value: Der): Der {
  return critical
    ? sequence(objectIdentifier(oid), boolean(true), octetString(value))
    : sequence(objectIdentifier(oid), octetString(value));
}

// KeyUsage bits (RFC 5280 §4.2.1.3), as a DER BIT STRING: bit 0 is the top bit of the
// first byte, trailing zero bits are left out and counted as unused.
const DIGITAL_SIGNATURE = bitString(Uint8Array.of(0x80), 7);
const KEY_CERT_SIGN_CRL_SIGN = bitString(Uint8Array.of(0x06), 1);

/** The subjectPublicKey bits of a SubjectPublicKeyInfo (the EC point). */
function publicKeyBits(spki: Uint8Array): Uint8Array<ArrayBuffer> {
  const [info] = elements(spki);
  const bits = info?.tag === 0x30 ? elements(info.content)[1] : undefined;
  if (bits?.tag !== 0x03 || bits.content.length < 2) throw new RangeError("not an SPKI");
  return bits.content.slice(1);
}

/** A key identifier (RFC 5280 §4.2.1.2, method 1): SHA-1 of the subjectPublicKey bits. */
async function keyIdentifier(spki: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest("SHA-1", publicKeyBits(spki)));
}

/** ECDSA's r||s (WebCrypto's form) as the ECDSA-Sig-Value SEQUENCE certificates carry. */
function ecdsaSigValue(raw: Uint8Array): Der {
  const half = raw.length / 2;
  return sequence(unsignedInteger(raw.subarray(0, half)), unsignedInteger(raw.subarray(half)));
}

/** Signs a TBSCertificate with the CA key and returns the certificate PEM. */
async function signCertificate(tbs: Der, signingKey: CryptoKey): Promise<string> {
  const raw = new Uint8Array(await crypto.subtle.sign(SIGNING, signingKey, tbs));
  const cert = sequence(tbs, ECDSA_SHA256_ALGORITHM, bitString(ecdsaSigValue(raw)));
  return pemEncode("CERTIFICATE", cert);
}

function tbsCertificate(o: {
  serial: Uint8Array;
  issuer: Der;
  subject: Der;
  notBefore: number;
  notAfter: number;
  spki: Uint8Array;
  extensions: Der[];
}): Der {
  return sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(o.serial),
    ECDSA_SHA256_ALGORITHM,
    o.issuer,
    sequence(time(o.notBefore), time(o.notAfter)),
    o.subject,
    o.spki,
    explicit(3, sequence(...o.extensions)),
  );
}

/** A new cluster CA: ECDSA P-256, self-signed, CA:true with keyCertSign, ten years. */
export async function createClusterCA(
  now: number,
  opts: CreateCaOptions = {},
): Promise<ClusterCaMaterial> {
  const days = positiveDays("validityDays", opts.validityDays ?? CA_VALIDITY_DAYS);
  const serial = randomSerial(opts.random ?? cryptoRandom);
  const keys = await crypto.subtle.generateKey(SIGNING, true, ["sign", "verify"]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  // The serial in the name keeps two clusters' CAs apart by name too, not only by key.
  const name = commonNameOf(`herd cluster CA ${toHex(serial).slice(0, 12)}`);
  const tbs = tbsCertificate({
    serial,
    issuer: name,
    subject: name,
    notBefore: now - NOT_BEFORE_BACKDATE_MS,
    notAfter: now + days * DAY_MS,
    spki,
    extensions: [
      // pathLen 0: the CA signs node certificates, never another CA.
      extension(OID.basicConstraints, true, sequence(boolean(true), smallInteger(0))),
      extension(OID.keyUsage, true, KEY_CERT_SIGN_CRL_SIGN),
      extension(OID.subjectKeyIdentifier, false, octetString(await keyIdentifier(spki))),
    ],
  });
  const caCertPem = await signCertificate(tbs, keys.privateKey);
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return { caCertPem, caKeyPkcs8Pem: pemEncode("PRIVATE KEY", pkcs8) };
}

/** The subject Name and SubjectPublicKeyInfo of a certificate, as their DER. */
function subjectAndKey(certPem: string): { subject: Der; spki: Der } | undefined {
  const der = pemDecode(certPem, "CERTIFICATE");
  if (!der) return undefined;
  try {
    const [cert] = elements(der);
    const [tbs] = cert?.tag === 0x30 ? elements(cert.content) : [];
    if (tbs?.tag !== 0x30) return undefined;
    const fields = elements(tbs.content);
    // version [0] (optional), serial, signature, issuer, validity, subject, spki
    const at = fields[0]?.tag === 0xa0 ? 1 : 0;
    const subject = fields[at + 4];
    const spki = fields[at + 5];
    if (subject?.tag !== 0x30 || spki?.tag !== 0x30) return undefined;
    return { subject: subject.whole, spki: spki.whole };
  } catch {
    return undefined;
  }
}

/**
 * A node certificate for `nodeId`'s public key: CA:false, digitalSignature, serverAuth and
 * clientAuth, the single DNS name `<nodeId>.herd`, a random serial. Returns its PEM.
 * Throws IdentityError for an invalid node id, key or CA (the caller checked the request).
 */
export async function issueNodeCert(
  ca: ClusterCaMaterial,
  opts: IssueNodeCertOptions,
): Promise<string> {
  if (!isNodeId(opts.nodeId)) {
    throw new IdentityError(`'nodeId' must be 16 characters of [0-9a-z]: got "${opts.nodeId}"`);
  }
  const days = positiveDays("validityDays", opts.validityDays ?? NODE_CERT_VALIDITY_DAYS);
  const caCert = subjectAndKey(ca.caCertPem);
  if (!caCert) throw new IdentityError("the CA certificate is not a PEM X.509 certificate");
  const caKey = await importKey("pkcs8", ca.caKeyPkcs8Pem, "PRIVATE KEY", "the CA key");
  const publicKey = await importKey("spki", opts.publicKeySpkiPem, "PUBLIC KEY", "the node key");
  // Exported again: the key as WebCrypto encodes it, whatever form the PEM had.
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
  const name = nodeDnsName(opts.nodeId);
  const tbs = tbsCertificate({
    serial: randomSerial(opts.random ?? cryptoRandom),
    issuer: caCert.subject,
    subject: commonNameOf(name),
    notBefore: opts.now - NOT_BEFORE_BACKDATE_MS,
    notAfter: opts.now + days * DAY_MS,
    spki,
    extensions: [
      extension(OID.basicConstraints, true, sequence()), // CA:false, the default
      extension(OID.keyUsage, true, DIGITAL_SIGNATURE),
      extension(
        OID.extKeyUsage,
        false,
        sequence(objectIdentifier(OID.serverAuth), objectIdentifier(OID.clientAuth)),
      ),
      extension(OID.subjectAltName, false, sequence(implicit(2, ascii(name)))),
      extension(OID.subjectKeyIdentifier, false, octetString(await keyIdentifier(spki))),
      extension(
        OID.authorityKeyIdentifier,
        false,
        sequence(implicit(0, await keyIdentifier(caCert.spki))),
      ),
    ],
  });
  return await signCertificate(tbs, caKey);
}

async function importKey(
  format: "pkcs8" | "spki",
  pem: string,
  label: string,
  what: string,
): Promise<CryptoKey> {
  const der = pemDecode(pem, label);
  if (!der) throw new IdentityError(`${what} is not a ${label} PEM`);
  try {
    const usages: KeyUsage[] = format === "pkcs8" ? ["sign"] : ["verify"];
    return await crypto.subtle.importKey(format, own(der), EC_KEY, true, usages);
  } catch (e) {
    throw new IdentityError(`${what} is not an ECDSA P-256 key`, { cause: e });
  }
}
