// The cluster's revocation list: node ids whose certificates members must refuse, signed
// by the cluster CA's key so that any member can check it came from the CA holder, and
// versioned so that a newer list always replaces an older one (never the other way).
//
// Signed bytes: frame("herd/1 revocations", [version as u64, canonical JSON of entries]).
// The entries are sorted by node id and written field by field, so the same list always
// signs the same bytes. Like certificates, a bad list is a refusal value, never a throw:
// lists arrive from peers.

import { frame, fromBase64url, own, toBase64url, u64, utf8 } from "./_bytes.ts";
import { IdentityError } from "./errors.ts";
import { ECDSA_SHA256, importPublicKey } from "./keys.ts";
import { isNodeId } from "./names.ts";
import type { ClusterCa, Revocations } from "./verify.ts";

const LABEL = "herd/1 revocations";
/** Entries a list holds at most (a node id each: ~100 bytes on the wire). */
export const MAX_REVOKED = 4_096;
const MAX_REASON = 200;

export interface RevokedNode {
  nodeId: string;
  /** When it was revoked, ms since the epoch (the CA holder's clock). */
  at: number;
  reason?: string;
}

/** A list as it is stored and sent: the signature is base64url (ECDSA P-256, 64 bytes). */
export interface SignedRevocations {
  version: number;
  entries: RevokedNode[];
  signature: string;
}

export const RevocationRefusal = {
  Malformed: "revocations-malformed",
  BadSignature: "revocations-bad-signature",
} as const;
export type RevocationRefusal = typeof RevocationRefusal[keyof typeof RevocationRefusal];

export type RevocationCheck =
  | { ok: true; list: SignedRevocations }
  | { ok: false; reason: RevocationRefusal; detail: string };

function signedBytes(version: number, entries: readonly RevokedNode[]): Uint8Array<ArrayBuffer> {
  const canonical = [...entries]
    .sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0))
    .map((e) => [e.nodeId, e.at, e.reason ?? ""]);
  return frame(LABEL, [u64(version), utf8(JSON.stringify(canonical))]);
}

/** The next list: `prev` (or an empty one) with `node` added, signed with the CA key. */
export async function revokeNode(
  prev: SignedRevocations | undefined,
  node: RevokedNode,
  caKey: CryptoKey,
): Promise<SignedRevocations> {
  if (!isNodeId(node.nodeId)) throw new IdentityError(`"${node.nodeId}" is not a node id`);
  const entries = (prev?.entries ?? []).filter((e) => e.nodeId !== node.nodeId);
  if (entries.length >= MAX_REVOKED) {
    throw new IdentityError(`the revocation list holds ${MAX_REVOKED} nodes at most`);
  }
  const entry: RevokedNode = { nodeId: node.nodeId, at: node.at };
  if (node.reason) entry.reason = node.reason.slice(0, MAX_REASON);
  entries.push(entry);
  const version = (prev?.version ?? 0) + 1;
  const sig = await crypto.subtle.sign(ECDSA_SHA256, caKey, signedBytes(version, entries));
  return { version, entries, signature: toBase64url(new Uint8Array(sig)) };
}

/** Checks a list's form and its signature by the cluster CA. */
export async function checkRevocations(x: unknown, ca: ClusterCa): Promise<RevocationCheck> {
  const bad = (detail: string): RevocationCheck => ({
    ok: false,
    reason: RevocationRefusal.Malformed,
    detail,
  });
  if (typeof x !== "object" || x === null || Array.isArray(x)) return bad("not an object");
  const l = x as Record<string, unknown>;
  if (Object.keys(l).some((k) => !["version", "entries", "signature"].includes(k))) {
    return bad("unknown fields");
  }
  if (!Number.isSafeInteger(l.version) || (l.version as number) < 1) return bad("bad version");
  if (!Array.isArray(l.entries) || l.entries.length > MAX_REVOKED) return bad("bad entries");
  const entries: RevokedNode[] = [];
  for (const e of l.entries as unknown[]) {
    const r = e as Record<string, unknown>;
    if (
      typeof e !== "object" || e === null || typeof r.nodeId !== "string" || !isNodeId(r.nodeId) ||
      !Number.isSafeInteger(r.at) ||
      (r.reason !== undefined && (typeof r.reason !== "string" || r.reason.length > MAX_REASON)) ||
      Object.keys(r).some((k) => !["nodeId", "at", "reason"].includes(k))
    ) {
      return bad("bad entry");
    }
    entries.push(r as unknown as RevokedNode);
  }
  const sig = typeof l.signature === "string" ? fromBase64url(l.signature) : undefined;
  if (!sig || sig.length !== 64) return bad("bad signature encoding");
  const key = await importPublicKey(own(ca.cert.publicKey.export({ type: "spki", format: "der" })));
  const good = key !== undefined &&
    await crypto.subtle.verify(ECDSA_SHA256, key, sig, signedBytes(l.version as number, entries));
  if (!good) {
    return {
      ok: false,
      reason: RevocationRefusal.BadSignature,
      detail: `version ${l.version} is not signed by cluster CA sha256:${
        ca.fingerprint.slice(0, 12)
      }`,
    };
  }
  return {
    ok: true,
    list: { version: l.version as number, entries, signature: l.signature as string },
  };
}

/** What the certificate checks refuse: the listed node ids. */
export function revocationSet(list: SignedRevocations | undefined): Revocations {
  return { nodeIds: new Set((list?.entries ?? []).map((e) => e.nodeId)) };
}
