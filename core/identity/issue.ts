// Issuing certificates: the cluster CA and node certificates, with @peculiar/x509 over
// WebCrypto. That library costs ~20 MB of RSS, which the resident agent cannot carry:
// only the code paths that issue — `herd up` creating a cluster, and the CA-holding
// node answering a join — load this module, with a dynamic `await import("./issue.ts")`.
//
// What Deno's QUIC (rustls/webpki) accepts, checked by tests/core/identity/quic_test.ts:
// a self-signed CA (CA:true, keyCertSign) and a non-CA leaf with a DNS SAN naming the
// server and the serverAuth extended key usage.

import * as x509 from "@peculiar/x509";
import type { RandomBytes } from "../clock.ts";
import { cryptoRandom } from "../clock.ts";
import { own, pemDecode, pemEncode, toHex } from "./_bytes.ts";
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

/** 16 random bytes as a positive serial, first byte 0x01–0x7f (RFC 5280: ≤ 20 octets, > 0). */
function randomSerial(random: RandomBytes): string {
  const b = random(16);
  b[0] = (b[0] & 0x7f) | 0x01;
  return toHex(b);
}

/** A new cluster CA: ECDSA P-256, self-signed, CA:true with keyCertSign, ten years. */
export async function createClusterCA(
  now: number,
  opts: CreateCaOptions = {},
): Promise<ClusterCaMaterial> {
  const days = positiveDays("validityDays", opts.validityDays ?? CA_VALIDITY_DAYS);
  const serial = randomSerial(opts.random ?? cryptoRandom);
  const keys = await crypto.subtle.generateKey(SIGNING, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial,
    // The serial in the name keeps two clusters' CAs apart by name too, not only by key.
    name: `CN=herd cluster CA ${serial.slice(0, 12)}`,
    notBefore: new Date(now - NOT_BEFORE_BACKDATE_MS),
    notAfter: new Date(now + days * DAY_MS),
    signingAlgorithm: SIGNING,
    keys,
    extensions: [
      // pathLen 0: the CA signs node certificates, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return {
    caCertPem: cert.toString("pem").trimEnd() + "\n",
    caKeyPkcs8Pem: pemEncode("PRIVATE KEY", pkcs8),
  };
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
  const caCert = new x509.X509Certificate(ca.caCertPem);
  const caKey = await importKey("pkcs8", ca.caKeyPkcs8Pem, "PRIVATE KEY", "the CA key");
  const publicKey = await importKey("spki", opts.publicKeySpkiPem, "PUBLIC KEY", "the node key");
  const name = nodeDnsName(opts.nodeId);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(opts.random ?? cryptoRandom),
    subject: `CN=${name}`,
    issuer: caCert.subject,
    notBefore: new Date(opts.now - NOT_BEFORE_BACKDATE_MS),
    notAfter: new Date(opts.now + days * DAY_MS),
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
