// Mutual authentication of a connection between two members, on its first stream.
//
// TLS already tells the dialer that the server holds a certificate for `<server-id>.herd`
// from a root it trusts - but `caCerts` adds the cluster CA to the public roots, and Deno's
// QUIC client cannot present a certificate of its own. So both sides prove their node
// certificate here, each by signing the other's fresh per-connection challenge:
//
//   dialer D                                             server S
//   Hello { D's id, D's cert, challenge_D }          -->  verify D's cert (cheap refusal first)
//                                                    <--  { challenge_S, S's cert,
//                                                           sign_S(server, challenge_D, S, D) }
//   verify S's cert against the cluster CA and S's
//   signature (names S: the id it dialed)
//   { sign_D(dialer, challenge_S, S, D) }            -->  verify D's signature
//                                                    <--  ok, or a refusal reason; then close
//
// sign_X(role, challenge, S, D) is ECDSA P-256 SHA-256 over
//   frame("herd/1 connection-auth <role>", [challenge, S, D]).
// The challenge is 32 random bytes chosen by the verifier for this connection only, so a
// proof is worthless on any other connection; the two ids stop a member relaying a proof
// made for it to a third node (the proof names the member as the server, the third node
// checks its own id); the role label stops a proof made as dialer passing as a server's.

import type { RandomBytes } from "../clock.ts";
import { frame, own, quote, utf8 } from "./_bytes.ts";
import { IdentityError } from "./errors.ts";
import { ECDSA_SHA256, importPublicKey } from "./keys.ts";
import { isNodeId } from "./names.ts";
import { type CertRefusal, type ClusterCa, type Revocations, verifyNodeCert } from "./verify.ts";

export const CHALLENGE_BYTES = 32;
const ECDSA_P256_SIGNATURE_BYTES = 64;

/** Who signs: the node that dialed, or the node that accepted. */
export type ConnectionRole = "dialer" | "server";

export const connectionAuthLabel = (role: ConnectionRole): string =>
  `herd/1 connection-auth ${role}`;

/** Why a connection proof was refused (a certificate refusal keeps its own reason). Append only. */
export const AuthRefusal = {
  /** A challenge, id or signature of the wrong size or form. */
  Malformed: "auth-malformed",
  /** The certificate is valid but names another node than the one expected. */
  WrongNode: "auth-wrong-node",
  /** The signature does not verify: another challenge, other ids, or not the cert's key. */
  BadSignature: "auth-bad-signature",
} as const;
export type AuthRefusal = typeof AuthRefusal[keyof typeof AuthRefusal];

export type AuthResult =
  | { ok: true; nodeId: string; notAfter: number; serial: string }
  | { ok: false; reason: AuthRefusal | CertRefusal; detail: string };

/** A fresh challenge for one connection. Never reuse it. */
export function newChallenge(random: RandomBytes): Uint8Array {
  const c = random(CHALLENGE_BYTES);
  if (c.length !== CHALLENGE_BYTES) throw new IdentityError("the random source gave too few bytes");
  return c;
}

export interface ProofContext {
  /** Who signs. */
  role: ConnectionRole;
  /** The challenge the other side sent on this connection. */
  challenge: Uint8Array;
  serverNodeId: string;
  dialerNodeId: string;
}

/** The bytes a connection proof signs. */
export function connectionTranscript(c: ProofContext): Uint8Array<ArrayBuffer> {
  return frame(connectionAuthLabel(c.role), [
    c.challenge,
    utf8(c.serverNodeId),
    utf8(c.dialerNodeId),
  ]);
}

/**
 * A resumed connection's proof (transport/tickets.ts): HMAC-SHA256, with the secret the
 * two members share from an earlier connection, over the same fields as a signature
 * but under its own label, so that neither proof can pass for the other.
 */
export async function proveWithSecret(c: ProofContext, key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, resumeTranscript(c)));
}

/** Checks a resumed connection's proof (constant time: WebCrypto's HMAC verify). */
export async function verifySecretProof(
  mac: Uint8Array,
  c: ProofContext,
  key: CryptoKey,
): Promise<boolean> {
  if (mac.length !== 32 || c.challenge.length !== CHALLENGE_BYTES) return false;
  return await crypto.subtle.verify("HMAC", key, own(mac), resumeTranscript(c));
}

const resumeTranscript = (c: ProofContext): Uint8Array<ArrayBuffer> =>
  frame(`herd/1 connection-resume ${c.role}`, [
    c.challenge,
    utf8(c.serverNodeId),
    utf8(c.dialerNodeId),
  ]);

/**
 * Imported keys by their SPKI bytes: verifyNodeCert hands back the same bytes for a
 * certificate it has examined before, so a member that reconnects costs no import.
 */
const keys = new WeakMap<Uint8Array, Promise<CryptoKey | undefined>>();

function keyOf(spki: Uint8Array<ArrayBuffer>): Promise<CryptoKey | undefined> {
  let k = keys.get(spki);
  if (!k) keys.set(spki, k = importPublicKey(spki));
  return k;
}

/** Signs the other side's challenge with this node's private key: the proof to send. */
export async function proveConnection(
  c: ProofContext,
  privateKey: CryptoKey,
): Promise<Uint8Array> {
  if (c.challenge.length !== CHALLENGE_BYTES) {
    throw new IdentityError(`a challenge has ${CHALLENGE_BYTES} bytes: got ${c.challenge.length}`);
  }
  const sig = await crypto.subtle.sign(ECDSA_SHA256, privateKey, connectionTranscript(c));
  return new Uint8Array(sig);
}

export interface ProofTrust {
  ca: ClusterCa;
  /** ms since the epoch. */
  now: number;
  revoked?: Revocations;
}

/**
 * Verifies the other side's proof: its certificate verifies against the cluster CA and
 * names the node it must be (the dialer's claimed id, or the server id that was dialed),
 * and `signature` is that certificate's key signing our challenge for this context.
 */
export async function verifyConnectionProof(
  proof: { certPem: string; signature: Uint8Array },
  c: ProofContext,
  trust: ProofTrust,
): Promise<AuthResult> {
  const signer = c.role === "dialer" ? c.dialerNodeId : c.serverNodeId;
  if (
    c.challenge?.length !== CHALLENGE_BYTES || !isNodeId(c.serverNodeId) ||
    !isNodeId(c.dialerNodeId) || proof.signature?.length !== ECDSA_P256_SIGNATURE_BYTES
  ) {
    return {
      ok: false,
      reason: AuthRefusal.Malformed,
      detail: `${c.role} proof from ${quote(signer)}: malformed ids, challenge or signature`,
    };
  }
  const cert = verifyNodeCert(proof.certPem, trust.ca, trust.now, { revoked: trust.revoked });
  if (!cert.ok) return cert;
  if (cert.nodeId !== signer) {
    return {
      ok: false,
      reason: AuthRefusal.WrongNode,
      detail: `the ${c.role} claims to be ${signer}; its certificate names ${cert.nodeId}`,
    };
  }
  const key = await keyOf(cert.publicKeySpki);
  const good = key !== undefined &&
    await crypto.subtle.verify(ECDSA_SHA256, key, own(proof.signature), connectionTranscript(c));
  if (!good) {
    return {
      ok: false,
      reason: AuthRefusal.BadSignature,
      detail: `${c.role} ${signer}: signature does not verify for this challenge and these ids`,
    };
  }
  return { ok: true, nodeId: cert.nodeId, notAfter: cert.notAfter, serial: cert.serial };
}
