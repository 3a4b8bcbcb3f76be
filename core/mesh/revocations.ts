// This node's copy of the cluster's revocation list: loaded from KV at start, replaced
// by a newer signed list from a member (its version travels in member meta as `rv`, so
// a member that sees a higher one fetches the list from its holder), and extended by
// `revoke` on the node that holds the CA key. Every change is stored before it is
// applied; the transport reads `set` at each handshake.

import type { Clock } from "../clock.ts";
import { HerdError } from "../errors.ts";
import { loadNodeKey } from "../identity/keys.ts";
import {
  checkRevocations,
  revocationSet,
  revokeNode,
  type SignedRevocations,
} from "../identity/revocation.ts";
import type { ClusterCa, Revocations } from "../identity/verify.ts";
import { keys } from "../store.ts";

export class RevocationError extends HerdError {}

export interface RevocationBookDeps {
  kv: Deno.Kv;
  ca: ClusterCa;
  selfId: string;
  /** The CA key: only the node that created the cluster can revoke. */
  caKeyPem?: string;
  clock: Clock;
  log(line: string): void;
  /** A new list is stored: act on it (refuse and drop the listed nodes). */
  applied(list: SignedRevocations, added: string[]): void;
}

export class RevocationBook {
  readonly #d: RevocationBookDeps;
  #list: SignedRevocations | undefined;
  #set: Revocations = { nodeIds: new Set() };
  /** Changes one at a time: each builds on the list the one before left. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(d: RevocationBookDeps) {
    this.#d = d;
  }

  /** The stored list; a stored list that fails its check is reported and left as it is. */
  static async open(d: RevocationBookDeps): Promise<RevocationBook> {
    const book = new RevocationBook(d);
    const stored = await d.kv.get(keys.revocations());
    if (stored.value !== null) {
      const r = await checkRevocations(stored.value, d.ca);
      if (r.ok) book.#use(r.list);
      else {
        d.log(
          `herd: the stored revocation list is unusable (${r.reason}: ${r.detail}); ` +
            "a member's copy will replace it",
        );
      }
    }
    return book;
  }

  get version(): number {
    return this.#list?.version ?? 0;
  }

  get list(): SignedRevocations | undefined {
    return this.#list;
  }

  /** What the certificate checks refuse. */
  get set(): Revocations {
    return this.#set;
  }

  isRevoked(nodeId: string): boolean {
    return this.#set.nodeIds?.has(nodeId) ?? false;
  }

  /** Adds `nodeId` to the list (CA holder only), stores it, applies it. */
  revoke(nodeId: string, reason?: string): Promise<SignedRevocations> {
    return this.#serial(() => this.#revoke(nodeId, reason));
  }

  async #revoke(nodeId: string, reason?: string): Promise<SignedRevocations> {
    if (!this.#d.caKeyPem) {
      throw new RevocationError("only the node that holds the cluster CA key can revoke");
    }
    if (nodeId === this.#d.selfId) throw new RevocationError("a node cannot revoke itself");
    if (this.isRevoked(nodeId)) throw new RevocationError(`node ${nodeId} is already revoked`);
    const key = await loadNodeKey(this.#d.caKeyPem);
    const next = await revokeNode(
      this.#list,
      { nodeId, at: this.#d.clock.now(), reason },
      key.privateKey,
    );
    await this.#store(next);
    return next;
  }

  /**
   * A list from a member: taken when it checks out and is newer than ours. Returns what
   * happened, for the caller's log and counters.
   */
  offer(x: unknown, from: string): Promise<"taken" | "not-newer" | "refused"> {
    return this.#serial(() => this.#offer(x, from));
  }

  async #offer(x: unknown, from: string): Promise<"taken" | "not-newer" | "refused"> {
    const r = await checkRevocations(x, this.#d.ca);
    if (!r.ok) {
      this.#d.log(`herd: refused a revocation list from ${from}: ${r.reason}: ${r.detail}`);
      return "refused";
    }
    if (r.list.version <= this.version) return "not-newer";
    await this.#store(r.list);
    return "taken";
  }

  #serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(f, f);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #store(list: SignedRevocations): Promise<void> {
    const before = this.#set.nodeIds ?? new Set<string>();
    await this.#d.kv.set(keys.revocations(), list);
    this.#use(list);
    const added = list.entries.map((e) => e.nodeId).filter((id) => !before.has(id));
    this.#d.applied(list, added);
  }

  #use(list: SignedRevocations): void {
    this.#list = list;
    this.#set = revocationSet(list);
  }
}
