// Checking certificates: the light half of identity, imported by the resident agent.
// Only `node:crypto`'s X509Certificate (built into Deno, ~4 MB of RSS) - issuing
// certificates needs a library and lives in issue.ts, loaded only when it is needed.
//
// A refusal is a value with a reason constant and a detail for the log, never a throw:
// certificates arrive from peers, and a bad one is an expected event.

import { createHash, X509Certificate } from "node:crypto";
import { own, pemDecode, quote, roughDuration } from "./_bytes.ts";
import { IdentityError } from "./errors.ts";
import { nodeIdFromDnsName } from "./names.ts";

/** Why a node certificate was refused. Append only: these strings reach logs and metrics. */
export const CertRefusal = {
  /** Not a PEM X.509 certificate. */
  Malformed: "cert-malformed",
  /** Not issued by, or not signed by, this cluster's CA. */
  NotSignedByCa: "cert-not-signed-by-ca",
  NotYetValid: "cert-not-yet-valid",
  Expired: "cert-expired",
  /** The cluster CA itself is past its validity: nothing it signed is accepted. */
  CaExpired: "ca-expired",
  /** A CA certificate presented as a node's: nodes cannot sign for others. */
  IsCa: "cert-is-ca",
  /** Key usage does not allow signatures. */
  WrongUsage: "cert-wrong-usage",
  /** Not exactly one subject alternative name, `<node-id>.herd`. */
  BadSan: "cert-bad-san",
  /** Not an ECDSA P-256 key. */
  WrongKey: "cert-wrong-key",
  /** Its serial or node id is on the revocation list. */
  Revoked: "cert-revoked",
} as const;
export type CertRefusal = typeof CertRefusal[keyof typeof CertRefusal];

/** Why a CA certificate cannot anchor a cluster. */
export const CaRefusal = {
  Malformed: "ca-malformed",
  /** basicConstraints CA:false, or no keyCertSign. */
  NotCa: "ca-not-a-ca",
  /** Not self-signed. */
  NotSelfSigned: "ca-not-self-signed",
  WrongKey: "ca-wrong-key",
} as const;
export type CaRefusal = typeof CaRefusal[keyof typeof CaRefusal];

/** Revoked certificates, by serial or by node id. */
export interface Revocations {
  /** Serials as `normalizeSerial` gives them (lower-case hex, no leading zeros). */
  serials?: ReadonlySet<string>;
  nodeIds?: ReadonlySet<string>;
}

/** A parsed, checked cluster CA: parse it once and verify many certificates with it. */
export interface ClusterCa {
  pem: string;
  der: Uint8Array<ArrayBuffer>;
  /** SHA-256 of the DER, lower-case hex (64 characters): what a join token carries. */
  fingerprint: string;
  cert: X509Certificate;
  notAfter: number;
}

export type CaResult =
  | { ok: true; ca: ClusterCa }
  | { ok: false; reason: CaRefusal; detail: string };

export interface VerifiedNodeCert {
  ok: true;
  nodeId: string;
  /** Validity, ms since the epoch. */
  notBefore: number;
  notAfter: number;
  /** Lower-case hex without leading zeros (see `normalizeSerial`). */
  serial: string;
  /** The node's public key, SubjectPublicKeyInfo DER. */
  publicKeySpki: Uint8Array<ArrayBuffer>;
}

export type CertResult =
  | VerifiedNodeCert
  | { ok: false; reason: CertRefusal; detail: string };

/** The DER of the first CERTIFICATE block, or undefined. */
export const certDer = (pem: string): Uint8Array<ArrayBuffer> | undefined =>
  pemDecode(pem, "CERTIFICATE");

/** The certificate in the first CERTIFICATE block of `pem`, or undefined. */
export function parseCertPem(pem: string): X509Certificate | undefined {
  const der = certDer(pem);
  if (!der) return undefined;
  try {
    return new X509Certificate(der);
  } catch {
    return undefined;
  }
}

/** SHA-256 of the DER bytes, lower-case hex. `sha256sum` of `openssl x509 -outform der` agrees. */
export function fingerprintDer(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex");
}

/** The CA fingerprint a join token carries. Throws IdentityError if `pem` holds no certificate. */
export function caFingerprint(caCertPem: string): string {
  const der = certDer(caCertPem);
  if (!der) throw new IdentityError("not a PEM certificate: cannot fingerprint it");
  return fingerprintDer(der);
}

/** Serials compare as lower-case hex without leading zeros ("00A1" and "a1" are one serial). */
export const normalizeSerial = (hex: string): string => hex.toLowerCase().replace(/^0+(?=.)/, "");

// Deno's X509Certificate differs from Node's here: `keyUsage` lists the key usage bits by
// name ("DigitalSignature", "KeyCertSign"), where Node lists extended key usage OIDs. The
// extended key usage is not exposed at all (rustls checks serverAuth during the handshake).

const isP256 = (cert: X509Certificate): boolean =>
  cert.publicKey.asymmetricKeyType === "ec" &&
  cert.publicKey.asymmetricKeyDetails?.namedCurve === "prime256v1";

const dateMs = (d: Date | undefined, text: string): number => d?.getTime() ?? Date.parse(text);

/** Checks that `pem` can anchor a cluster: a self-signed ECDSA P-256 CA allowed to sign certs. */
export function loadClusterCa(pem: string): CaResult {
  const der = certDer(pem);
  const cert = der && parseCertPem(pem);
  if (!der || !cert) {
    return { ok: false, reason: CaRefusal.Malformed, detail: "not a PEM X.509 certificate" };
  }
  if (!cert.ca || !(cert.keyUsage ?? []).includes("KeyCertSign")) {
    return {
      ok: false,
      reason: CaRefusal.NotCa,
      detail: `${quote(cert.subject)} is not a CA (CA:${cert.ca}, key usage ${cert.keyUsage})`,
    };
  }
  if (!isP256(cert)) {
    return { ok: false, reason: CaRefusal.WrongKey, detail: "the CA key is not ECDSA P-256" };
  }
  if (!cert.checkIssued(cert) || !cert.verify(cert.publicKey)) {
    return { ok: false, reason: CaRefusal.NotSelfSigned, detail: quote(cert.subject) };
  }
  const notAfter = dateMs(cert.validToDate, cert.validTo);
  return { ok: true, ca: { pem, der, fingerprint: fingerprintDer(der), cert, notAfter } };
}

function resolveCa(ca: ClusterCa | string): ClusterCa {
  if (typeof ca !== "string") return ca;
  const r = loadClusterCa(ca);
  if (!r.ok) throw new IdentityError(`the cluster CA is unusable: ${r.reason}: ${r.detail}`);
  return r.ca;
}

const refuse = (reason: CertRefusal, detail: string): CertResult => ({ ok: false, reason, detail });

/**
 * Verifies a node certificate against the cluster CA at time `now` (ms): signed by the CA,
 * inside its validity window (and the CA inside its own), not a CA, a P-256 key allowed to
 * sign, exactly one name `<node-id>.herd`, and not revoked.
 *
 * `ca` is a checked `ClusterCa` (parse it once) or its PEM; an unusable CA is our own
 * configuration gone wrong and throws IdentityError.
 */
export function verifyNodeCert(
  certPem: string,
  ca: ClusterCa | string,
  now: number,
  opts: { revoked?: Revocations } = {},
): CertResult {
  const anchor = resolveCa(ca);
  const c = examined(certPem, anchor);
  if (!c.parsed) return refuse(CertRefusal.Malformed, "not a PEM X.509 certificate");
  const who = c.who;
  if (!c.signedByCa) {
    return refuse(CertRefusal.NotSignedByCa, `${who} is not signed by cluster CA ${short(anchor)}`);
  }
  if (now > anchor.notAfter) {
    return refuse(
      CertRefusal.CaExpired,
      `cluster CA ${short(anchor)} expired ${ago(now, anchor.notAfter)}`,
    );
  }
  if (now < c.notBefore) {
    return refuse(
      CertRefusal.NotYetValid,
      `${who} is valid only in ${roughDuration(c.notBefore - now)}`,
    );
  }
  if (now > c.notAfter) {
    return refuse(CertRefusal.Expired, `${who} expired ${ago(now, c.notAfter)}`);
  }
  if (c.refusal) return c.refusal;
  if (opts.revoked?.nodeIds?.has(c.nodeId!) || opts.revoked?.serials?.has(c.serial)) {
    return refuse(CertRefusal.Revoked, `${who} for node ${c.nodeId} is revoked`);
  }
  return {
    ok: true,
    nodeId: c.nodeId!,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    serial: c.serial,
    publicKeySpki: c.publicKeySpki!,
  };
}

/** What a certificate is, whatever the time: parsed, its CA signature checked. */
interface Examined {
  parsed: boolean;
  who: string;
  signedByCa: boolean;
  notBefore: number;
  notAfter: number;
  serial: string;
  /** The first refusal that does not depend on time or revocation, if any. */
  refusal?: CertResult & { ok: false };
  nodeId?: string;
  publicKeySpki?: Uint8Array<ArrayBuffer>;
}

/**
 * Certificates examined, by CA and PEM. Parsing and checking the CA's signature is most
 * of what a connection's authentication costs (~2 ms in Deno's node:crypto), and the
 * same members reconnect all the time; validity and revocation are checked on each use.
 */
const EXAMINED_MAX = 1024;
const examinedCache = new Map<string, Examined>();

function examined(certPem: string, anchor: ClusterCa): Examined {
  const key = `${anchor.fingerprint}\n${certPem}`;
  let e = examinedCache.get(key);
  if (e) return e;
  e = examine(certPem, anchor);
  if (examinedCache.size >= EXAMINED_MAX) {
    examinedCache.delete(examinedCache.keys().next().value!);
  }
  examinedCache.set(key, e);
  return e;
}

function examine(certPem: string, anchor: ClusterCa): Examined {
  const cert = parseCertPem(certPem);
  if (!cert) {
    return { parsed: false, who: "", signedByCa: false, notBefore: 0, notAfter: 0, serial: "" };
  }
  const serial = normalizeSerial(cert.serialNumber);
  const who = `${quote(cert.subject)} (serial ${serial})`;
  const base = {
    parsed: true,
    who,
    serial,
    notBefore: dateMs(cert.validFromDate, cert.validFrom),
    notAfter: dateMs(cert.validToDate, cert.validTo),
  };
  if (!cert.checkIssued(anchor.cert) || !cert.verify(anchor.cert.publicKey)) {
    return { ...base, signedByCa: false };
  }
  const e: Examined = { ...base, signedByCa: true };
  if (cert.ca) {
    e.refusal = refuse(CertRefusal.IsCa, `${who} is a CA certificate`) as Examined["refusal"];
  } else if (!(cert.keyUsage ?? []).includes("DigitalSignature")) {
    e.refusal = refuse(
      CertRefusal.WrongUsage,
      `${who} has key usage ${cert.keyUsage ?? "none"}`,
    ) as Examined["refusal"];
  } else if (!isP256(cert)) {
    e.refusal = refuse(
      CertRefusal.WrongKey,
      `${who} does not have a P-256 key`,
    ) as Examined["refusal"];
  } else {
    const names = (cert.subjectAltName ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    const nodeId = names.length === 1 && names[0].startsWith("DNS:")
      ? nodeIdFromDnsName(names[0].slice(4))
      : undefined;
    if (!nodeId) {
      e.refusal = refuse(
        CertRefusal.BadSan,
        `${who} must name exactly one <node-id>.herd; it names ${names.join(", ") || "nothing"}`,
      ) as Examined["refusal"];
    } else {
      e.nodeId = nodeId;
      e.publicKeySpki = own(cert.publicKey.export({ type: "spki", format: "der" }));
    }
  }
  return e;
}

const short = (ca: ClusterCa) => `sha256:${ca.fingerprint.slice(0, 12)}`;
const ago = (now: number, t: number) => `${roughDuration(now - t)} ago`;
