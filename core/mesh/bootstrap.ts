// At start: this node's cluster identity - stored, newly created, or obtained by
// joining with a token through `--peer` addresses or, without any, through the
// members discovery finds.

import type { HerdConfig } from "../config.ts";
import type { Clock, RandomBytes } from "../clock.ts";
import { ConfigError } from "../errors.ts";
import type { Candidate } from "../../plugins/sdk.ts";
import type { PluginSet } from "../../plugins/loader.ts";
import { DiscoveryRunner } from "./discovery.ts";
import { formatAddress, parsePeerAddress } from "../transport/address.ts";
import {
  checkToken,
  ClusterError,
  createCluster,
  joinCluster,
  JoinUnansweredError,
  loadIdentity,
  type MeshIdentity,
  type RequestJoin,
} from "./identity.ts";

/** How long a joiner without `--peer` waits for discovery to find a member. */
export const DISCOVERY_JOIN_WAIT_MS = 30_000;

const DEFAULT_MESH_PORT = 7946;
/**
 * How long `--peer` joins are retried while the peers do not answer (none refused): long
 * enough for a hundred machines started at once, all joining through one member.
 */
export const JOIN_RETRY_FOR_MS = 180_000;
/**
 * First and longest wait between two rounds of join attempts (doubling, each wait between
 * half and all of it at random, so that joiners started together do not retry together).
 */
const JOIN_RETRY_FIRST_MS = 500;
const JOIN_RETRY_MAX_MS = 8_000;

/** Peers as given (`host`, `host:port`, `[v6]:port`) -> `host:port`; a clear error for a bad one. */
export function normalizePeers(peers: readonly string[]): string[] {
  return peers.map((p) => {
    const hp = parsePeerAddress(p.trim(), DEFAULT_MESH_PORT);
    if (!hp) throw new ConfigError(`--peer: '${p}' is not HOST or HOST:PORT`);
    return formatAddress(hp.host, hp.port);
  });
}

export interface BootstrapOptions {
  kv: Deno.Kv;
  nodeId: string;
  clock: Clock;
  random: RandomBytes;
  config: HerdConfig;
  plugins: PluginSet;
  /** `--join TOKEN` */
  token?: string;
  /** `--peer HOST:PORT` (repeatable), as `normalizePeers` gives them. */
  peers: string[];
  requestJoin: RequestJoin;
  log: (line: string) => void;
}

export async function establishIdentity(
  o: BootstrapOptions,
): Promise<{ identity: MeshIdentity; how: "stored" | "created" | "joined" }> {
  const d = { kv: o.kv, nodeId: o.nodeId, clock: o.clock, random: o.random };
  const token = o.token?.trim();
  const wanted = token ? checkToken(token).caFingerprint : undefined;
  const stored = await loadIdentity(d);
  if (stored) {
    if (wanted && wanted !== stored.ca.fingerprint) {
      throw new ClusterError(
        `this node already belongs to cluster ${stored.ca.fingerprint.slice(0, 16)}, ` +
          `not to the token's cluster ${wanted.slice(0, 16)}`,
        { hint: "to join another cluster, start with a new --data-dir" },
      );
    }
    return { identity: stored, how: "stored" };
  }
  if (!token) return { identity: await createCluster(d), how: "created" };

  const peers = o.peers.flatMap((p) => parsePeerAddress(p, DEFAULT_MESH_PORT) ?? []);
  if (peers.length > 0) {
    // Peers that did not answer (a member busy with many joins at once, one still
    // starting) are asked again, with backoff, for JOIN_RETRY_FOR_MS; a refusal is final.
    const until = o.clock.now() + JOIN_RETRY_FOR_MS;
    for (let wait = JOIN_RETRY_FIRST_MS;; wait = Math.min(2 * wait, JOIN_RETRY_MAX_MS)) {
      try {
        return {
          identity: await joinCluster(d, token, list(peers), o.requestJoin, o.log),
          how: "joined",
        };
      } catch (e) {
        if (!(e instanceof JoinUnansweredError) || o.clock.now() + wait > until) throw e;
        const jittered = Math.round(wait * (0.5 + o.random(1)[0] / 512));
        o.log(`herd: no member answered the join; trying again in ${jittered} ms`);
        await new Promise((r) => setTimeout(r, jittered));
      }
    }
  }
  o.log(
    `herd: looking for a member of cluster ${wanted!.slice(0, 16)} with ${
      o.config["discovery.methods"].join(", ")
    }`,
  );
  const found = new CandidateQueue();
  const runner = new DiscoveryRunner({
    plugins: o.plugins,
    config: o.config,
    // Not listening yet: plugins browse but have nothing to announce.
    self: () => ({ id: o.nodeId, address: "", port: 0, cluster: "" }),
    knownPeers: () => [],
    onCandidate: (c) => {
      if (c.cluster && !wanted!.startsWith(c.cluster.toLowerCase())) return;
      found.push(c);
    },
    now: () => o.clock.now(),
    log: o.log,
  });
  await runner.start();
  const timer = setTimeout(() => found.end(), DISCOVERY_JOIN_WAIT_MS);
  try {
    return {
      identity: await joinCluster(d, token, found.drain(), o.requestJoin, o.log),
      how: "joined",
    };
  } finally {
    clearTimeout(timer);
    found.end();
    await runner.stop();
  }
}

async function* list<T>(items: T[]): AsyncIterable<T> {
  for (const i of items) yield i;
}

/** Candidates as they are found, until `end()`. */
class CandidateQueue {
  readonly #items: Candidate[] = [];
  #wake: (() => void) | undefined;
  #ended = false;

  push(c: Candidate): void {
    this.#items.push(c);
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  async *drain(): AsyncIterable<{ host: string; port: number }> {
    for (;;) {
      const c = this.#items.shift();
      if (c) {
        yield { host: c.address, port: c.port };
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((r) => this.#wake = r);
      this.#wake = undefined;
    }
  }
}
