// The node's state in Deno KV. One file per data dir (`herd.kv`); every key is
// built here, so the layout is readable in one place:
//
//   ["meta", "schema"]          number         store layout version
//   ["self"]                    SelfRecord     node id and name, kept across restarts
//   ["alloc"]                   (none)         once the reservations; deleted at start (admission.ts)
//   ["jobs", jobId]             JobRecord      spec and state of each job
//   ["logs", jobId, seq]        LogChunk       the newest output of each job
//   ["cluster"]                 ClusterRecord  the cluster this node belongs to (CA, token)
//   ["identity"]                IdentityRecord this node's key and certificate
//   ["members", nodeId]         MemberRecord   members last seen, to rejoin after a restart
//   ["owned", jobId]            JobRecord      jobs this node owns or holds a copy of (owners.ts)
//
// Opening refuses (and changes nothing in) a file that is not a herd store or
// was written by a newer herd.

import { StoreError } from "./errors.ts";

/** Layout version this herd reads and writes. */
export const SCHEMA_VERSION = 1;

export const keys = {
  schema: () => ["meta", "schema"] as const,
  self: () => ["self"] as const,
  /** No longer written: the ledger lives in memory (admission.ts). */
  alloc: () => ["alloc"] as const,
  job: (id: string) => ["jobs", id] as const,
  jobs: () => ["jobs"] as const,
  log: (id: string, seq: number) => ["logs", id, seq] as const,
  logs: (id: string) => ["logs", id] as const,
  cluster: () => ["cluster"] as const,
  /** The cluster's signed revocation list (core/identity/revocation.ts). */
  revocations: () => ["revocations"] as const,
  identity: () => ["identity"] as const,
  member: (id: string) => ["members", id] as const,
  members: () => ["members"] as const,
  owned: (id: string) => ["owned", id] as const,
  owneds: () => ["owned"] as const,
};

export interface ClusterRecord {
  /** The cluster CA certificate (public). */
  caPem: string;
  /** SHA-256 of its DER, 64 hex: what join tokens name. */
  fingerprint: string;
  /** PKCS#8 PEM of the CA key: only on the node that created the cluster. */
  caKeyPem?: string;
  /** The join token: on the creator, and on nodes that joined with it (`herd token`). */
  token?: string;
  createdAt: number;
}

export interface IdentityRecord {
  /** PKCS#8 PEM of this node's key. */
  keyPem: string;
  certPem: string;
  issuedAt: number;
}

export interface MemberRecord {
  id: string;
  address: string;
  state: string;
  seenAt: number;
}

export interface SelfRecord {
  id: string;
  createdAt: number;
}

export async function openStore(path: string): Promise<Deno.Kv> {
  let kv: Deno.Kv;
  try {
    kv = await Deno.openKv(path);
  } catch (e) {
    throw new StoreError(`cannot open the store ${path}: ${(e as Error).message}`, {
      cause: e,
      hint: "the file is corrupt or not a herd store; nothing was changed. " +
        "Move it aside (or use another --data-dir) to start a fresh node.",
    });
  }
  try {
    await checkSchema(kv, path);
  } catch (e) {
    kv.close();
    throw e;
  }
  return kv;
}

async function checkSchema(kv: Deno.Kv, path: string): Promise<void> {
  let found: Deno.KvEntryMaybe<unknown>;
  try {
    found = await kv.get(keys.schema());
  } catch (e) {
    throw new StoreError(`cannot read the store ${path}: ${(e as Error).message}`, {
      cause: e,
      hint: "the file is corrupt; nothing was changed. Move it aside to start a fresh node.",
    });
  }
  if (found.value === null) {
    // A new store is empty; anything else without a schema key is not ours.
    for await (const _ of kv.list({ prefix: [] }, { limit: 1 })) {
      throw new StoreError(`${path} holds data but no herd schema version`, {
        hint: "it is not a herd store; nothing was changed. Use another --data-dir.",
      });
    }
    const res = await kv.atomic().check(found).set(keys.schema(), SCHEMA_VERSION).commit();
    if (!res.ok) return checkSchema(kv, path);
    return;
  }
  if (typeof found.value !== "number") {
    throw new StoreError(
      `${path} has an unreadable schema version ${JSON.stringify(found.value)}`,
      {
        hint: "nothing was changed. Move it aside to start a fresh node.",
      },
    );
  }
  if (found.value > SCHEMA_VERSION) {
    throw new StoreError(
      `${path} was written by a newer herd (store schema ${found.value}; this herd reads ${SCHEMA_VERSION})`,
      { hint: "upgrade herd to use this data dir; nothing was changed." },
    );
  }
}
