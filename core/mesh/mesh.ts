// A node's place in the mesh: the transport, the membership protocol over it, the
// discovery plugins feeding it candidates, and what observers see (events, member
// views, counters). The agent builds one with `startMesh` and stops it last but one.

import type { HerdConfig } from "../config.ts";
import type { Clock, RandomBytes } from "../clock.ts";
import type { EventHub } from "../events.ts";
import { JoinNonces, makeGrant, parseJoinConfig } from "./join_grant.ts";
import type { MembershipEvent } from "../membership/events.ts";
import { isDeadOrLeft, type MemberMeta, type MemberSnapshot } from "../membership/member.ts";
import { cryptoRng } from "../membership/rng.ts";
import { realScheduler } from "../membership/scheduler.ts";
import type { Revocations } from "../identity/verify.ts";
import { Swim } from "../membership/swim.ts";
import { membershipTimings } from "../membership/timings.ts";
import { keys, type MemberRecord } from "../store.ts";
import { Transport, transportSettings } from "../transport/transport.ts";
import type { Candidate } from "../../plugins/sdk.ts";
import type { PluginSet } from "../../plugins/loader.ts";
import { DiscoveryRunner } from "./discovery.ts";
import { formatAddress, parseAddress } from "../transport/address.ts";
import type { MeshIdentity } from "./identity.ts";
import { type MemberView, readMeta } from "./meta.ts";
import { type App, type Message, MessageType } from "../membership/messages.ts";

/** Changed member records are written this soon (one commit for a burst of changes). */
const PERSIST_AFTER_MS = 50;
/** A membership join nobody answered, while still alone: asked again after 0.5, 1, 2, … 8 s. */
const JOIN_RETRY_FIRST_MS = 500;
const JOIN_RETRY_MAX_MS = 8_000;

export interface MeshDeps {
  kv: Deno.Kv;
  identity: MeshIdentity;
  config: HerdConfig;
  plugins: PluginSet;
  events: EventHub;
  clock: Clock;
  random: RandomBytes;
  meta: MemberMeta;
  /** Seeds to join at start (`--peer`, static peers are also offered by discovery). */
  seeds: string[];
  /** Node ids whose certificates are refused (the cluster's revocation list), read per handshake. */
  revoked?: () => Revocations;
  log: (line: string) => void;
}

export interface NodeView extends MemberView {
  id: string;
  address: string;
  state: string;
  incarnation: number;
  self: boolean;
  /** Estimated round trip from this node, from network coordinates (ms). */
  rttMs?: number;
  changedAt: number;
}

export interface Mesh {
  readonly address: string;
  readonly port: number;
  nodes(): NodeView[];
  /** Estimated round trip in ms between two members (from network coordinates). */
  rttMs(a: string, b: string): number | undefined;
  /** Members by state, this node included. */
  counts(): Record<string, number>;
  setMeta(meta: MemberMeta): void;
  /** Ids of the members up (alive or suspect), this node included. */
  liveIds(): string[];
  /** Sends a service message to a live member; false when it is not one. */
  sendApp(nodeId: string, msg: App): boolean;
  /** The handler of service messages from authenticated members (one; a new one replaces it). */
  onApp(handler: (from: string, msg: App) => void): void;
  /** Called on every membership change, after the mesh's own bookkeeping. */
  onMembership(listener: (e: MembershipEvent) => void): void;
  /** For /metrics, by metric name (`name{label=value}`). */
  metrics(): { counters: Record<string, number>; gauges: Record<string, number> };
  /** Gossips our departure, then stops: others see `left`, not `failed`. */
  leave(): Promise<void>;
  /** Stops without saying goodbye (others will detect the failure). */
  stop(): Promise<void>;
  /** Closes every connection to a node (revoked): it is refused from now on. */
  disconnect(nodeId: string, reason: string): void;
}

/** The address to advertise: the setting, else the bound one, else a non-loopback IPv4. */
export function advertiseHost(c: HerdConfig): string {
  if (c["mesh.advertise"]) return c["mesh.advertise"];
  const bound = c["mesh.host"];
  if (bound !== "0.0.0.0" && bound !== "::") return bound;
  const nets = Deno.networkInterfaces().filter((n) =>
    n.family === "IPv4" && !n.address.startsWith("127.")
  );
  return nets[0]?.address ?? "127.0.0.1";
}

export async function startMesh(d: MeshDeps): Promise<Mesh> {
  const c = d.config;
  const id = d.identity;
  const nonces = new JoinNonces(d.clock, d.random, parseJoinConfig(c));
  // The transport is built first (its port is part of our address); it asks membership later.
  const ref: { swim?: Swim } = {};
  const seedIds = new Map<string, string>();
  // Address → id of members up (alive or suspect), kept from membership events: the
  // transport asks on every send. A failed or left member's address may be another node's.
  const liveIds = new Map<string, string>();
  const addressOf = new Map<string, string>();
  const track = (m: MemberSnapshot) => {
    const old = addressOf.get(m.id);
    if (old !== undefined && liveIds.get(old) === m.id) liveIds.delete(old);
    addressOf.delete(m.id);
    if (isDeadOrLeft(m)) return;
    addressOf.set(m.id, m.address);
    liveIds.set(m.address, m.id);
  };

  const transport = await Transport.listen({
    host: c["mesh.host"],
    port: c["mesh.port"],
    identity: {
      nodeId: id.nodeId,
      certPem: id.certPem,
      keyPem: id.key.privateKeyPem,
      privateKey: id.key.privateKey,
      ca: id.ca,
      revoked: d.revoked,
    },
    settings: transportSettings(c),
    now: () => d.clock.now(),
    random: d.random,
    log: d.log,
    resolve: (address) => liveIds.get(address) ?? seedIds.get(address),
    join: {
      nonces,
      grant: makeGrant({
        identity: id,
        clock: d.clock,
        random: d.random,
        nonces,
        config: c,
        isMember: (nodeId) => {
          const m = ref.swim?.member(nodeId);
          return m !== undefined && !isDeadOrLeft(m);
        },
        caHolder: () => {
          const holder = ref.swim?.members().find((m) => readMeta(m.meta).ca && !isDeadOrLeft(m));
          return holder && { id: holder.id, address: holder.address };
        },
      }),
    },
  });

  const host = advertiseHost(c);
  const address = formatAddress(host, transport.port);
  const meshCounters: Record<string, number> = {};
  const dirty = new Set<string>();

  const s = new Swim({
    self: { id: id.nodeId, address },
    timings: membershipTimings(c),
    scheduler: realScheduler,
    rng: cryptoRng(),
    meta: d.meta,
    send: (to, msg) => transport.send(to, msg),
    warm: (to) => transport.warm(to),
    observe: (e) => observe(e),
  });
  ref.swim = s;
  let appHandler: ((from: string, msg: App) => void) | undefined;
  const listeners: Array<(e: MembershipEvent) => void> = [];
  transport.onMessage((from, msg: Message) => {
    if (msg.type === MessageType.App) appHandler?.(from.id, msg);
    else s.receive(from.address, msg);
  });

  function observe(e: MembershipEvent): void {
    const k = `membership_events{type=${e.type}}`;
    meshCounters[k] = (meshCounters[k] ?? 0) + 1;
    if (e.member.id !== id.nodeId) track(e.member);
    const view = toView(e.member);
    d.events.publish(e.type, {
      node: view,
      ...("by" in e ? { by: e.by } : {}),
    });
    if (e.member.id !== id.nodeId && e.type !== "NodeUpdated") {
      dirty.add(e.member.id);
      persistSoon();
    }
    // One line per change an operator cares about, as Serf logs EventMemberJoin/Failed/Leave.
    if (e.type === "NodeJoined" || e.type === "NodeFailed" || e.type === "NodeLeft") {
      const what = e.type === "NodeJoined" ? "joined" : e.type === "NodeFailed" ? "failed" : "left";
      d.log(`herd: member ${what}: ${view.name || "?"} ${e.member.id} ${e.member.address}`);
    }
    for (const l of listeners) l(e);
  }

  function toView(m: MemberSnapshot): NodeView {
    return {
      ...readMeta(m.meta),
      id: m.id,
      address: m.address,
      state: m.state,
      incarnation: m.incarnation,
      self: m.id === id.nodeId,
      rttMs: m.id === id.nodeId ? 0 : s.estimateRttMs(m.id),
      changedAt: m.changedAt,
    };
  }

  // Members are remembered so a restarted node finds its cluster without the token.
  let persistTimer: ReturnType<typeof setTimeout> | undefined;
  const persistSoon = () => {
    persistTimer ??= setTimeout(() => {
      persistTimer = undefined;
      void persist();
    }, PERSIST_AFTER_MS);
  };
  let persisting = Promise.resolve();
  function persist(): Promise<void> {
    if (dirty.size === 0) return persisting;
    const ids = [...dirty];
    dirty.clear();
    persisting = persisting.then(async () => {
      const op = d.kv.atomic();
      for (const mid of ids) {
        const m = s.member(mid);
        if (!m) op.delete(keys.member(mid));
        else {
          const rec: MemberRecord = {
            id: m.id,
            address: m.address,
            state: m.state,
            seenAt: d.clock.now(),
          };
          op.set(keys.member(mid), rec);
        }
      }
      const res = await op.commit();
      if (!res.ok) d.log("herd: remembering members failed (KV conflict); retrying later");
    }).catch((e) => {
      for (const mid of ids) dirty.add(mid);
      d.log(`herd: remembering members failed: ${(e as Error).message}`);
    });
    return persisting;
  }

  const remembered: Candidate[] = [];
  for await (const e of d.kv.list<MemberRecord>({ prefix: keys.members() })) {
    const hp = parseAddress(e.value.address);
    if (hp && e.value.id !== id.nodeId) {
      remembered.push({ address: hp.host, port: hp.port, via: "remembered", nodeId: e.value.id });
      seedIds.set(e.value.address, e.value.id);
    }
  }

  s.start();

  let stopped = false;
  const joinRetries = new Map<string, ReturnType<typeof setTimeout>>();
  const tryJoin = (addr: string, retryIn = JOIN_RETRY_FIRST_MS) => {
    if (addr === address) return;
    if (liveIds.has(addr)) return;
    meshCounters["membership_join_attempts"] = (meshCounters["membership_join_attempts"] ?? 0) + 1;
    s.join([addr]).then((n) => {
      if (n > 0) return;
      meshCounters["membership_join_failures"] = (meshCounters["membership_join_failures"] ?? 0) +
        1;
      // Still alone: a seed busy with many joins at once is asked again soon, with
      // backoff, rather than at the next discovery round (discovery.interval).
      if (stopped || s.live > 1 || joinRetries.has(addr) || retryIn > JOIN_RETRY_MAX_MS) return;
      joinRetries.set(
        addr,
        setTimeout(() => {
          joinRetries.delete(addr);
          tryJoin(addr, 2 * retryIn);
        }, retryIn),
      );
    });
  };

  const discovery = new DiscoveryRunner({
    plugins: d.plugins,
    config: c,
    self: () => ({
      id: id.nodeId,
      address: host,
      port: transport.port,
      cluster: id.ca.fingerprint,
    }),
    knownPeers: () => {
      const live = s.members().filter((m) => m.id !== id.nodeId).flatMap((m) => {
        const hp = parseAddress(m.address);
        return hp ? [{ address: hp.host, port: hp.port, via: "peer-exchange", nodeId: m.id }] : [];
      });
      return live.length ? live : remembered;
    },
    onCandidate: (cand) => {
      if (cand.nodeId === id.nodeId) return;
      if (cand.cluster && !id.ca.fingerprint.startsWith(cand.cluster.toLowerCase())) return;
      if (cand.nodeId) seedIds.set(formatAddress(cand.address, cand.port), cand.nodeId);
      tryJoin(formatAddress(cand.address, cand.port));
    },
    now: () => d.clock.now(),
    log: d.log,
  });
  await discovery.start();
  for (const seed of d.seeds) tryJoin(seed);
  for (const r of remembered) tryJoin(formatAddress(r.address, r.port));

  const shutdown = async () => {
    if (stopped) return;
    stopped = true;
    clearTimeout(persistTimer);
    for (const t of joinRetries.values()) clearTimeout(t);
    await discovery.stop();
    s.stop();
    for (const m of s.members()) if (m.id !== id.nodeId) dirty.add(m.id);
    await persist();
    await transport.close();
  };

  return {
    address,
    port: transport.port,
    nodes: () => s.members().map(toView).sort((a, b) => a.name.localeCompare(b.name)),
    counts: () => {
      const out: Record<string, number> = {};
      for (const st of MEMBER_STATES) if (s.count(st) > 0) out[st] = s.count(st);
      return out;
    },
    rttMs: (a, b) => s.estimateRttBetweenMs(a, b),
    setMeta: (meta) => s.setMeta(meta),
    liveIds: () => s.members().filter((m) => !isDeadOrLeft(m)).map((m) => m.id),
    sendApp: (nodeId, msg) => {
      const address = addressOf.get(nodeId);
      if (address === undefined || stopped) return false;
      transport.send(address, msg);
      return true;
    },
    onApp: (handler) => appHandler = handler,
    disconnect: (nodeId, reason) => transport.disconnect(nodeId, reason),
    onMembership: (listener) => listeners.push(listener),
    metrics: () => {
      const counters: Record<string, number> = { ...meshCounters };
      const gauges: Record<string, number> = {};
      for (const [k, v] of Object.entries(s.stats)) counters[`membership_${snake(k)}`] = v;
      for (const [k, v] of Object.entries(transport.stats)) {
        const name = `transport_${snake(k)}`;
        const into = TRANSPORT_GAUGES.has(k) ? gauges : counters;
        if (typeof v === "number") into[name] = v;
        else if (v && typeof v === "object") {
          const label = TRANSPORT_LABELS[k] ?? "reason";
          for (const [r, n] of Object.entries(v as Record<string, number>)) {
            into[`${name}{${label}=${r}}`] = n;
          }
        }
      }
      counters["discovery_candidates_found"] = discovery.found;
      counters["discovery_candidates_offered"] = discovery.offered;
      gauges["membership_health_score"] = s.health;
      for (const st of MEMBER_STATES) {
        gauges[`membership_members{state=${st}}`] = s.count(st);
      }
      return { counters, gauges };
    },
    leave: async () => {
      if (stopped) return;
      await s.leave();
      await shutdown();
    },
    stop: shutdown,
  };
}

const MEMBER_STATES = ["alive", "suspect", "dead", "left"] as const;

/** Label names of the transport's records that are not counts by reason. */
const TRANSPORT_LABELS: Readonly<Record<string, string>> = {
  sentByType: "type",
  bytesSentByType: "type",
};

/** Transport stats that are levels, not counts. */
const TRANSPORT_GAUGES = new Set(["connectionsOpen", "pooled"]);

const snake = (k: string) => k.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
