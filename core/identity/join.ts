// Joining a cluster: how a node that knows only a join token gets a node certificate,
// without the token's secret ever leaving it. Pure functions over bytes, no network:
// the transport carries the messages (docs/security.md has the whole exchange).
//
//   joiner                                              member holding the CA (server)
//   0. fetch the CA certificate (any channel, it is public), checkCaForToken
//   1. dial `<server-id>.herd` with caCerts: [CA]  -->
//                                                  <--  JoinChallenge { nonce }   (JoinNonces.issue)
//   2. makeJoinRequest                             -->  JoinRequest
//                                                       3. verifyJoinRequest / grantJoin
//                                                  <--  node certificate, or a refusal reason
//
// The request carries HMAC-SHA256(secret, transcript) and an ECDSA signature over the same
// transcript with the joiner's new key (proof that it holds the key it asks a certificate
// for). The transcript binds the CA, the server's nonce, the server's node id, the joiner's
// id and key, and a timestamp: a recorded request is refused by another server (id), by the
// same server (nonce used once, then forgotten after its expiry), and later (timestamp).

import type { Clock, RandomBytes } from "../clock.ts";
import {
  frame,
  fromHex,
  own,
  pemEncode,
  quote,
  roughDuration,
  toHex,
  u64,
  utf8,
} from "./_bytes.ts";
import { IdentityError } from "./errors.ts";
import type { ClusterCaMaterial } from "./issue.ts";
import { ECDSA_SHA256, importPublicKey, type NodeKey } from "./keys.ts";
import { isNodeId } from "./names.ts";
import { type JoinToken, tokenNamesCa } from "./token.ts";
import { certDer, type ClusterCa, fingerprintDer, loadClusterCa } from "./verify.ts";

/** Context label of the join transcript: a MAC or signature for anything else never matches. */
export const JOIN_LABEL = "herd/1 join";
export const JOIN_NONCE_BYTES = 32;
const HMAC_BYTES = 32;
const ECDSA_P256_SIGNATURE_BYTES = 64;
/** A P-256 SubjectPublicKeyInfo is 91 bytes; anything much larger is not one. */
const MAX_SPKI_BYTES = 256;

export interface JoinConfig {
  /** How long an issued nonce can be used, ms. @default {60_000} */
  nonceTtlMs: number;
  /** How far the joiner's timestamp may be from the server's clock, either way, ms. @default {300_000} */
  maxClockSkewMs: number;
  /** Outstanding nonces kept; past this the oldest is forgotten. @default {1024} */
  maxOutstandingNonces: number;
}

export const DEFAULT_JOIN_CONFIG: Readonly<JoinConfig> = {
  nonceTtlMs: 60_000,
  maxClockSkewMs: 5 * 60_000,
  maxOutstandingNonces: 1024,
};

/** Defaults filled in and every field checked; throws IdentityError naming a bad field. */
export function resolveJoinConfig(partial: Partial<JoinConfig> = {}): JoinConfig {
  const c = { ...DEFAULT_JOIN_CONFIG, ...partial };
  for (const [k, v] of Object.entries(c)) {
    if (!Number.isFinite(v) || v <= 0) throw new IdentityError(`'${k}' must be > 0: got ${v}`);
  }
  return c;
}

/** Why a join was refused. Append only: these strings reach logs and metrics. */
export const JoinRefusal = {
  /** The fetched CA certificate is not the one the token names. */
  CaMismatch: "join-ca-mismatch",
  /** The fetched certificate has the right hash but cannot anchor a cluster. */
  CaUnusable: "join-ca-unusable",
  /** A field has the wrong size or form. */
  Malformed: "join-malformed",
  /** The request was made for another server. */
  WrongServer: "join-wrong-server",
  /** The nonce was never issued here, was used already, or was forgotten: a replay. */
  UnknownNonce: "join-unknown-nonce",
  ExpiredNonce: "join-expired-nonce",
  /** The joiner's clock is outside the skew window (or the request is old). */
  StaleTimestamp: "join-stale-timestamp",
  /** The MAC does not match: the joiner does not know this cluster's secret. */
  BadMac: "join-bad-mac",
  /** The public key is not ECDSA P-256. */
  BadKey: "join-bad-key",
  /** The joiner does not hold the private key of the public key it sent. */
  BadSignature: "join-bad-signature",
  /** Another member already has this node id. */
  NodeIdTaken: "join-node-id-taken",
} as const;
export type JoinRefusal = typeof JoinRefusal[keyof typeof JoinRefusal];

export type JoinRefused = { ok: false; reason: JoinRefusal; detail: string };
const refuse = (reason: JoinRefusal, detail: string): JoinRefused => ({
  ok: false,
  reason,
  detail,
});

// ---- step 0, joiner: trust the CA by its hash ----

/** Whether a CA certificate fetched from anywhere is the one the token names, and usable. */
export function checkCaForToken(
  token: JoinToken,
  caCertPem: string,
): { ok: true; ca: ClusterCa } | JoinRefused {
  const der = certDer(caCertPem);
  if (!der) {
    return refuse(JoinRefusal.CaUnusable, "what was offered as the CA is not a PEM certificate");
  }
  const fingerprint = fingerprintDer(der);
  if (!tokenNamesCa(token, fingerprint)) {
    return refuse(
      JoinRefusal.CaMismatch,
      `the CA offered has sha256 ${fingerprint}; the token names ${token.caFingerprint}`,
    );
  }
  const loaded = loadClusterCa(caCertPem);
  if (!loaded.ok) return refuse(JoinRefusal.CaUnusable, `${loaded.reason}: ${loaded.detail}`);
  return { ok: true, ca: loaded.ca };
}

// ---- step 1, server: a nonce per join attempt ----

export interface JoinChallenge {
  nonce: Uint8Array;
}

/**
 * Nonces this server issued and has not seen used. Each is accepted once, within its time
 * to live; the set is bounded (the oldest is forgotten first), so a flood of join attempts
 * costs memory only up to `maxOutstandingNonces`.
 */
export class JoinNonces {
  /** hex nonce -> expiry (ms). A Map keeps insertion order: oldest first. */
  readonly #issued = new Map<string, number>();
  readonly #clock: Clock;
  readonly #random: RandomBytes;
  readonly #config: JoinConfig;

  constructor(clock: Clock, random: RandomBytes, config: JoinConfig = resolveJoinConfig()) {
    this.#clock = clock;
    this.#random = random;
    this.#config = config;
  }

  /** Outstanding nonces. */
  get size(): number {
    return this.#issued.size;
  }

  issue(): JoinChallenge {
    const now = this.#clock.now();
    for (const [k, expires] of this.#issued) {
      if (expires >= now && this.#issued.size < this.#config.maxOutstandingNonces) break;
      this.#issued.delete(k);
    }
    const nonce = this.#random(JOIN_NONCE_BYTES);
    this.#issued.set(toHex(nonce), now + this.#config.nonceTtlMs);
    return { nonce };
  }

  /** Uses a nonce up: "ok" once; later, "unknown". */
  consume(nonce: Uint8Array): "ok" | "unknown" | "expired" {
    const key = toHex(nonce);
    const expires = this.#issued.get(key);
    if (expires === undefined) return "unknown";
    this.#issued.delete(key);
    return this.#clock.now() > expires ? "expired" : "ok";
  }
}

// ---- step 2, joiner: the request ----

export interface JoinRequest {
  /** The nonce from the server's JoinChallenge. */
  nonce: Uint8Array;
  /** The node id the joiner dialed (the QUIC server name `<id>.herd` that verified). */
  serverNodeId: string;
  /** The joiner's own new node id. */
  nodeId: string;
  /** The joiner's public key, SubjectPublicKeyInfo DER. */
  publicKeySpki: Uint8Array;
  /** The joiner's clock, ms since the epoch. */
  timestampMs: number;
  /** HMAC-SHA256(token secret, transcript). */
  mac: Uint8Array;
  /** ECDSA P-256 SHA-256 (IEEE P1363, 64 bytes) over the transcript with the joiner's key. */
  signature: Uint8Array;
}

type Transcribed = Pick<
  JoinRequest,
  "nonce" | "serverNodeId" | "nodeId" | "publicKeySpki" | "timestampMs"
>;

/** The bytes the MAC and the signature cover. */
export function joinTranscript(caFingerprint: string, r: Transcribed): Uint8Array<ArrayBuffer> {
  const fp = fromHex(caFingerprint);
  if (!fp) throw new IdentityError(`'caFingerprint' is not hex: "${caFingerprint}"`);
  return frame(JOIN_LABEL, [
    fp,
    r.nonce,
    utf8(r.serverNodeId),
    utf8(r.nodeId),
    r.publicKeySpki,
    u64(r.timestampMs),
  ]);
}

async function hmacKey(secret: Uint8Array): Promise<CryptoKey> {
  return await crypto.subtle.importKey(
    "raw",
    own(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

export interface MakeJoinRequestOptions {
  token: JoinToken;
  challenge: JoinChallenge;
  /** The id in the server name the joiner dialed and the TLS handshake verified. */
  serverNodeId: string;
  nodeId: string;
  key: NodeKey;
  clock: Clock;
}

export async function makeJoinRequest(o: MakeJoinRequestOptions): Promise<JoinRequest> {
  for (const [field, id] of [["serverNodeId", o.serverNodeId], ["nodeId", o.nodeId]]) {
    if (!isNodeId(id)) throw new IdentityError(`'${field}' is not a node id: "${id}"`);
  }
  const body: Transcribed = {
    nonce: o.challenge.nonce,
    serverNodeId: o.serverNodeId,
    nodeId: o.nodeId,
    publicKeySpki: o.key.publicKeySpki,
    timestampMs: o.clock.now(),
  };
  const transcript = joinTranscript(o.token.caFingerprint, body);
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(o.token.secret), transcript);
  const signature = await crypto.subtle.sign(ECDSA_SHA256, o.key.privateKey, transcript);
  return { ...body, mac: new Uint8Array(mac), signature: new Uint8Array(signature) };
}

// ---- step 3, server: verify, then issue ----

export interface VerifyJoinOptions {
  /** This cluster's token: its secret keys the MAC, its CA hash is in the transcript. */
  token: JoinToken;
  /** This server's node id. */
  selfNodeId: string;
  nonces: JoinNonces;
  clock: Clock;
  config?: JoinConfig;
  /** Whether a member already has this id (a joiner must pick a fresh one). */
  nodeIdInUse?: (nodeId: string) => boolean;
}

export type JoinVerdict =
  | { ok: true; nodeId: string; publicKeySpkiPem: string }
  | JoinRefused;

function shape(r: JoinRequest): string | undefined {
  if (r.nonce?.length !== JOIN_NONCE_BYTES) return `nonce of ${r.nonce?.length} bytes`;
  if (r.mac?.length !== HMAC_BYTES) return `MAC of ${r.mac?.length} bytes`;
  if (r.signature?.length !== ECDSA_P256_SIGNATURE_BYTES) {
    return `signature of ${r.signature?.length} bytes`;
  }
  if (typeof r.nodeId !== "string" || !isNodeId(r.nodeId)) return `node id ${quote(r.nodeId)}`;
  if (typeof r.serverNodeId !== "string") return "no server node id";
  if (!(r.publicKeySpki?.length > 0 && r.publicKeySpki.length <= MAX_SPKI_BYTES)) {
    return `public key of ${r.publicKeySpki?.length} bytes`;
  }
  if (!Number.isSafeInteger(r.timestampMs)) return `timestamp ${r.timestampMs}`;
  return undefined;
}

/** Checks a join request. Consumes its nonce whatever the outcome: one attempt per nonce. */
export async function verifyJoinRequest(
  r: JoinRequest,
  o: VerifyJoinOptions,
): Promise<JoinVerdict> {
  const config = o.config ?? DEFAULT_JOIN_CONFIG;
  const bad = shape(r);
  if (bad) return refuse(JoinRefusal.Malformed, bad);
  if (r.serverNodeId !== o.selfNodeId) {
    return refuse(
      JoinRefusal.WrongServer,
      `request for server ${quote(r.serverNodeId)}, this is ${o.selfNodeId}`,
    );
  }
  const nonce = o.nonces.consume(r.nonce);
  if (nonce === "unknown") {
    return refuse(
      JoinRefusal.UnknownNonce,
      `node ${r.nodeId}: nonce not issued here or already used (replay?)`,
    );
  }
  if (nonce === "expired") {
    return refuse(
      JoinRefusal.ExpiredNonce,
      `node ${r.nodeId}: nonce older than ${config.nonceTtlMs} ms`,
    );
  }
  const skew = r.timestampMs - o.clock.now();
  if (Math.abs(skew) > config.maxClockSkewMs) {
    return refuse(
      JoinRefusal.StaleTimestamp,
      `node ${r.nodeId}: its timestamp is ${roughDuration(skew)} ${
        skew < 0 ? "behind" : "ahead of"
      } ` +
        `this node's clock (at most ${roughDuration(config.maxClockSkewMs)} allowed)`,
    );
  }
  const transcript = joinTranscript(o.token.caFingerprint, r);
  if (!await crypto.subtle.verify("HMAC", await hmacKey(o.token.secret), own(r.mac), transcript)) {
    return refuse(JoinRefusal.BadMac, `node ${r.nodeId}: MAC does not match (wrong token secret?)`);
  }
  const publicKey = await importPublicKey(r.publicKeySpki);
  if (!publicKey) return refuse(JoinRefusal.BadKey, `node ${r.nodeId}: not an ECDSA P-256 key`);
  if (!await crypto.subtle.verify(ECDSA_SHA256, publicKey, own(r.signature), transcript)) {
    return refuse(
      JoinRefusal.BadSignature,
      `node ${r.nodeId}: not signed by the key it asks a certificate for`,
    );
  }
  if (o.nodeIdInUse?.(r.nodeId)) {
    return refuse(JoinRefusal.NodeIdTaken, `node id ${r.nodeId} is already a member's`);
  }
  return { ok: true, nodeId: r.nodeId, publicKeySpkiPem: pemEncode("PUBLIC KEY", r.publicKeySpki) };
}

export interface GrantJoinOptions extends VerifyJoinOptions {
  ca: ClusterCaMaterial;
  /** Node certificate validity. @default {NODE_CERT_VALIDITY_DAYS} of issue.ts */
  validityDays?: number;
  random?: RandomBytes;
}

/**
 * verifyJoinRequest, then a node certificate for the joiner. Loads issue.ts on first use
 * only: a node that never answers a join never compiles it.
 */
export async function grantJoin(
  r: JoinRequest,
  o: GrantJoinOptions,
): Promise<{ ok: true; nodeId: string; certPem: string } | JoinRefused> {
  const verdict = await verifyJoinRequest(r, o);
  if (!verdict.ok) return verdict;
  const { issueNodeCert } = await import("./issue.ts");
  const certPem = await issueNodeCert(o.ca, {
    nodeId: verdict.nodeId,
    publicKeySpkiPem: verdict.publicKeySpkiPem,
    now: o.clock.now(),
    validityDays: o.validityDays,
    random: o.random,
  });
  return { ok: true, nodeId: verdict.nodeId, certPem };
}
