// Which cluster this node belongs to, and its certificate there. The first `herd up`
// creates a cluster (CA, token, own certificate); `herd up --join TOKEN` asks a member
// for a certificate; later starts read both from KV and need no token.

import type { Clock, RandomBytes } from "../clock.ts";
import { ConfigError, HerdError } from "../errors.ts";
import { generateNodeKey, loadNodeKey, type NodeKey } from "../identity/keys.ts";
import { parseToken, redactToken } from "../identity/token.ts";
import { type ClusterCa, loadClusterCa, verifyNodeCert } from "../identity/verify.ts";
import { formatAddress } from "../transport/address.ts";
import { TransportError } from "../transport/errors.ts";
import { type ClusterRecord, type IdentityRecord, keys, type MemberRecord } from "../store.ts";

export class ClusterError extends HerdError {}

/** No candidate granted a join, and none refused it either: they may answer later. */
export class JoinUnansweredError extends ClusterError {}

/** This node's standing in its cluster. */
export interface MeshIdentity {
  nodeId: string;
  ca: ClusterCa;
  certPem: string;
  key: NodeKey;
  /** The CA key: only on the node that created the cluster (it grants joins). */
  caKeyPem?: string;
  token?: string;
  /** When the node certificate stops being valid (ms since the epoch). */
  certNotAfter: number;
}

/** Asks a member for a certificate (the transport's client side of a join). */
export type RequestJoin = (o: {
  token: string;
  host: string;
  port: number;
  nodeId: string;
  key: NodeKey;
}) => Promise<{ certPem: string; caPem: string; serverId: string }>;

export interface IdentityDeps {
  kv: Deno.Kv;
  nodeId: string;
  clock: Clock;
  random: RandomBytes;
}

/** The stored identity, or undefined when this node has not joined a cluster yet. */
export async function loadIdentity(d: IdentityDeps): Promise<MeshIdentity | undefined> {
  const [cluster, ident] = await d.kv.getMany<[ClusterRecord, IdentityRecord]>([
    keys.cluster(),
    keys.identity(),
  ]);
  if (!cluster.value || !ident.value) return undefined;
  const ca = loadClusterCa(cluster.value.caPem);
  if (!ca.ok) {
    throw new ClusterError(`the stored cluster CA is unusable: ${ca.reason}: ${ca.detail}`, {
      hint: "the store is damaged: start this node with another --data-dir and join again",
    });
  }
  const key = await loadNodeKey(ident.value.keyPem);
  const cert = verifyNodeCert(ident.value.certPem, ca.ca, d.clock.now());
  if (!cert.ok || cert.nodeId !== d.nodeId) {
    throw new ClusterError(
      `this node's certificate is no longer valid: ${
        cert.ok ? `it names ${cert.nodeId}` : `${cert.reason}: ${cert.detail}`
      }`,
      { hint: "join again with a fresh data dir: herd up --data-dir NEW --join TOKEN" },
    );
  }
  return {
    nodeId: d.nodeId,
    ca: ca.ca,
    certPem: ident.value.certPem,
    key,
    caKeyPem: cluster.value.caKeyPem,
    token: cluster.value.token,
    certNotAfter: cert.notAfter,
  };
}

/** A new cluster with this node as its first member and CA holder. */
export async function createCluster(d: IdentityDeps): Promise<MeshIdentity> {
  // Issuing is loaded only here and when granting a join (issue.ts).
  const { createClusterCA, issueNodeCert } = await import("../identity/issue.ts");
  const { makeToken } = await import("../identity/token.ts");
  const now = d.clock.now();
  const material = await createClusterCA(now, { random: d.random });
  const key = await generateNodeKey();
  const certPem = await issueNodeCert(material, {
    nodeId: d.nodeId,
    publicKeySpkiPem: key.publicKeySpkiPem,
    now,
    random: d.random,
  });
  const ca = loadClusterCa(material.caCertPem);
  if (!ca.ok) throw new ClusterError(`the new cluster CA is unusable: ${ca.detail}`);
  const cluster: ClusterRecord = {
    caPem: material.caCertPem,
    fingerprint: ca.ca.fingerprint,
    caKeyPem: material.caKeyPkcs8Pem,
    token: makeToken(ca.ca.fingerprint, d.random),
    createdAt: now,
  };
  await store(d, cluster, { keyPem: key.privateKeyPem, certPem, issuedAt: now });
  const loaded = await loadIdentity(d);
  if (!loaded) throw new ClusterError("the new cluster identity was not stored");
  return loaded;
}

/** Checks a token's form; a clear error for the user when it is wrong. */
export function checkToken(token: string): { caFingerprint: string } {
  const t = parseToken(token.trim());
  if (!t.ok) {
    throw new ConfigError(`--join: not a herd join token (${t.reason}: ${t.detail})`, {
      hint: "copy the whole line 'herd token' prints on a member: herd1.<64 hex>.<secret>",
    });
  }
  return { caFingerprint: t.token.caFingerprint };
}

/**
 * Joins through the first candidate that grants a certificate. Candidates are tried in
 * order; the errors of all of them are reported when none grants.
 */
export async function joinCluster(
  d: IdentityDeps,
  token: string,
  candidates: AsyncIterable<{ host: string; port: number }>,
  requestJoin: RequestJoin,
  log: (line: string) => void,
): Promise<MeshIdentity> {
  const { caFingerprint } = checkToken(token);
  const key = await generateNodeKey();
  const errors: string[] = [];
  let refused = false;
  for await (const c of candidates) {
    try {
      const got = await requestJoin({ token, host: c.host, port: c.port, nodeId: d.nodeId, key });
      const ca = loadClusterCa(got.caPem);
      if (!ca.ok || ca.ca.fingerprint !== caFingerprint) {
        refused = true;
        errors.push(`${c.host}:${c.port}: its CA does not match the token`);
        continue;
      }
      const now = d.clock.now();
      await store(d, { caPem: got.caPem, fingerprint: caFingerprint, token, createdAt: now }, {
        keyPem: key.privateKeyPem,
        certPem: got.certPem,
        issuedAt: now,
      }, { id: got.serverId, address: formatAddress(c.host, c.port), state: "alive", seenAt: now });
      log(`herd: joined cluster ${caFingerprint.slice(0, 16)} through ${got.serverId}`);
      const loaded = await loadIdentity(d);
      if (!loaded) throw new ClusterError("the joined cluster identity was not stored");
      return loaded;
    } catch (e) {
      if (!(e instanceof HerdError)) throw e;
      // Unreachable or too slow (a TransportError) may answer later; a refusal will not.
      if (!(e instanceof TransportError)) refused = true;
      errors.push(`${c.host}:${c.port}: ${e.message}`);
      log(`herd: join through ${c.host}:${c.port} failed: ${e.message}`);
    }
  }
  const Failure = errors.length > 0 && !refused ? JoinUnansweredError : ClusterError;
  throw new Failure(
    `could not join cluster ${caFingerprint.slice(0, 16)} with ${redactToken(token)}: ${
      errors.length ? errors.join("; ") : "no member found"
    }`,
    {
      hint: errors.length
        ? "check the token ('herd token' on a member) and that the member's mesh port is reachable"
        : "give a member's address with --peer HOST:PORT, or enable mdns/broadcast discovery",
    },
  );
}

async function store(
  d: IdentityDeps,
  cluster: ClusterRecord,
  ident: IdentityRecord,
  seed?: MemberRecord,
) {
  const op = d.kv.atomic()
    .check({ key: keys.cluster(), versionstamp: null })
    .set(keys.cluster(), cluster)
    .set(keys.identity(), ident);
  // The member we joined through: a restart finds the cluster again even if it never
  // got to remember anyone else.
  if (seed) op.set(keys.member(seed.id), seed);
  const res = await op.commit();
  if (!res.ok) {
    throw new ClusterError("this node already belongs to a cluster (found while joining)", {
      hint: "another herd process used this data dir at the same time",
    });
  }
}
