// The `broadcast` discovery plugin: every interval, a small JSON datagram
//   {"herd":1,"id":"<node id>","port":<mesh port>,"cluster":"<16 hex>","address":"<ip>"}
// (cluster and address only when known) goes to the broadcast address of every IPv4
// interface on UDP `broadcastPort` (7947), from a socket bound to that port, which also
// listens: others' announcements become candidates, at the announced address or else
// the datagram's source. Several processes on one host share the port (SO_REUSEADDR).

import type { DiscoveryContext, DiscoveryPlugin } from "../sdk.ts";
import {
  checkCandidate,
  CLUSTER_PATTERN,
  clusterPrefix,
  every,
  formatIPv4,
  isHost,
  isPort,
  NODE_ID_PATTERN,
  OccasionalLog,
  parseIPv4,
  readInt,
  readInterval,
  readStrings,
  Recent,
  sessions,
  sleep,
} from "./_common.ts";

/** Version of the announcement; a datagram with another `herd` value is ignored. */
export const ANNOUNCEMENT_VERSION = 1;
/** Longest datagram read; an announcement is ~130 bytes. */
export const MAX_DATAGRAM_BYTES = 512;
/** Datagrams taken from one source address per interval; the rest are dropped. */
export const MAX_PER_SOURCE_PER_INTERVAL = 16;
/** Distinct sources tracked per interval; datagrams of further sources are dropped. */
export const MAX_SOURCES_PER_INTERVAL = 4096;
export const DEFAULT_BROADCAST_PORT = 7947;

export interface Announcement {
  herd: typeof ANNOUNCEMENT_VERSION;
  id: string;
  port: number;
  /** The first 16 hex characters of the cluster's CA fingerprint. */
  cluster?: string;
  /** The address to dial, when the node knows it; else the datagram's source. */
  address?: string;
}

export function encodeAnnouncement(a: Announcement): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(a));
}

/** Decodes and checks a datagram; a message says what is wrong with it. */
export function decodeAnnouncement(data: Uint8Array): Announcement | string {
  if (data.length > MAX_DATAGRAM_BYTES) return `too long (${data.length} bytes)`;
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
  } catch {
    return "not JSON";
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "not an object";
  const o = v as Record<string, unknown>;
  if (o.herd !== ANNOUNCEMENT_VERSION) return `version ${JSON.stringify(o.herd)}`;
  if (typeof o.id !== "string" || !NODE_ID_PATTERN.test(o.id)) return "bad id";
  if (!isPort(o.port)) return "bad port";
  if (
    o.cluster !== undefined && (typeof o.cluster !== "string" || !CLUSTER_PATTERN.test(o.cluster))
  ) {
    return "bad cluster";
  }
  if (o.address !== undefined && (typeof o.address !== "string" || !isHost(o.address))) {
    return "bad address";
  }
  const a: Announcement = { herd: ANNOUNCEMENT_VERSION, id: o.id, port: o.port };
  if (o.cluster !== undefined) a.cluster = o.cluster as string;
  if (o.address !== undefined) a.address = o.address as string;
  return a;
}

/** What `broadcastTargets` needs of an interface (a `Deno.NetworkInterfaceInfo`). */
export interface InterfaceAddress {
  family: "IPv4" | "IPv6";
  address: string;
  netmask: string;
}

/**
 * The broadcast addresses to announce to: address | ~netmask of every IPv4 interface,
 * without loopback unless loopback is all there is, and without /31 and /32 (they have
 * no broadcast address). Sorted, without duplicates.
 */
export function broadcastTargets(interfaces: readonly InterfaceAddress[]): string[] {
  const nets: { broadcast: number; loopback: boolean }[] = [];
  for (const i of interfaces) {
    if (i.family !== "IPv4") continue;
    const addr = parseIPv4(i.address);
    const mask = parseIPv4(i.netmask);
    if (addr === undefined || mask === undefined) continue;
    if (mask >>> 0 >= 0xfffffffe) continue;
    nets.push({ broadcast: (addr | ~mask) >>> 0, loopback: addr >>> 24 === 127 });
  }
  const outside = nets.filter((n) => !n.loopback);
  const chosen = outside.length > 0 ? outside : nets;
  return [...new Set(chosen.map((n) => n.broadcast))].sort((a, b) => a - b).map(formatIPv4);
}

/**
 * `broadcastTargets` (a plugin option, not a herd setting): "host" or "host:port"
 * entries used instead of the interfaces' broadcast addresses. Tests use it to stay on
 * loopback; a port-less entry means `broadcastPort`.
 */
function explicitTargets(ctx: DiscoveryContext, port: number, bad: (m: string) => void) {
  const out: { hostname: string; port: number }[] = [];
  for (const t of readStrings(ctx, "broadcastTargets")) {
    const [host, p] = t.split(":");
    const tp = p === undefined ? port : Number(p);
    if (parseIPv4(host) === undefined || !isPort(tp)) bad(`ignoring broadcast target '${t}'`);
    else out.push({ hostname: host, port: tp });
  }
  return out;
}

function interfaceTargets(port: number, notes: OccasionalLog) {
  let interfaces: InterfaceAddress[] = [];
  try {
    interfaces = Deno.networkInterfaces();
  } catch (e) {
    notes.note("interfaces", `broadcast: cannot list interfaces: ${(e as Error).message}`);
  }
  return broadcastTargets(interfaces).map((hostname) => ({ hostname, port }));
}

function open(ctx: DiscoveryContext, signal: AbortSignal) {
  const log = (m: string) => ctx.log(`broadcast: ${m}`);
  const notes = new OccasionalLog(ctx.log);
  const interval = readInterval(ctx);
  const port = readInt(ctx, "broadcastPort", {
    default: DEFAULT_BROADCAST_PORT,
    min: 1,
    max: 65535,
  });
  const fixed = ctx.config.broadcastTargets === undefined
    ? undefined
    : explicitTargets(ctx, port, log);

  let conn: Deno.DatagramConn;
  let listening = true;
  try {
    conn = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port, reuseAddress: true });
  } catch (e) {
    log(
      `cannot listen on UDP port ${port} (${(e as Error).message}): announcing without listening`,
    );
    conn = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
    listening = false;
  }

  // Datagrams per source in the current interval: a flood is dropped, not processed.
  let perSource = new Map<string, number>();
  // Each node announces once an interval (to every broadcast address): offer it once.
  const recent = new Recent(Math.max(interval / 2, 1));
  // Built each round: the agent may learn its cluster (or address) while we run.
  const ownAnnouncement = () => {
    const own: Announcement = { herd: ANNOUNCEMENT_VERSION, id: ctx.self.id, port: ctx.self.port };
    const cluster = clusterPrefix(ctx.self.cluster);
    if (cluster) own.cluster = cluster;
    if (ctx.self.address) own.address = ctx.self.address;
    return encodeAnnouncement(own);
  };

  const announce = async () => {
    perSource = new Map();
    const packet = ownAnnouncement();
    const targets = fixed ?? interfaceTargets(port, notes);
    if (targets.length === 0) {
      notes.note("no-targets", "broadcast: no IPv4 interface to announce on");
    }
    for (const t of targets) {
      try {
        await conn.send(packet, { transport: "udp", ...t });
      } catch (e) {
        notes.note(
          `send ${t.hostname}`,
          `broadcast: cannot send to ${t.hostname}:${t.port}: ${(e as Error).message}`,
        );
      }
    }
  };

  const receive = async () => {
    const buf = new Uint8Array(MAX_DATAGRAM_BYTES + 1);
    for (;;) {
      let data: Uint8Array;
      let from: Deno.Addr;
      try {
        [data, from] = await conn.receive(buf);
      } catch (e) {
        if (signal.aborted) return;
        notes.note("receive", `broadcast: receive failed: ${(e as Error).message}`);
        await sleep(100, signal);
        continue;
      }
      if (from.transport !== "udp") continue;
      const source = from.hostname;
      const seen = perSource.get(source) ?? 0;
      if (
        seen >= MAX_PER_SOURCE_PER_INTERVAL ||
        (seen === 0 && perSource.size >= MAX_SOURCES_PER_INTERVAL)
      ) {
        notes.note("flood", `broadcast: dropping datagrams from ${source}: too many this interval`);
        continue;
      }
      perSource.set(source, seen + 1);
      const a = decodeAnnouncement(data);
      if (typeof a === "string") {
        notes.note("malformed", `broadcast: ignoring a datagram from ${source}: ${a}`);
        continue;
      }
      if (a.id === ctx.self.id) continue;
      const candidate = {
        address: a.address ?? source,
        port: a.port,
        via: "broadcast",
        nodeId: a.id,
        ...(a.cluster ? { cluster: a.cluster } : {}),
      };
      const wrong = checkCandidate(candidate);
      if (wrong) notes.note("malformed", `broadcast: ignoring a datagram from ${source}: ${wrong}`);
      else if (recent.fresh(`${a.id} ${candidate.address} ${a.port} ${a.cluster}`)) {
        ctx.found(candidate);
      }
    }
  };

  const receiving = listening ? receive() : Promise.resolve();
  const announcing = every(interval, signal, announce, log);
  const closed = (async () => {
    await announcing;
    conn.close();
    await receiving;
  })();
  return Promise.resolve({ closed });
}

export const plugin = {
  kind: "discovery",
  name: "broadcast",
  sdk: 1,
  description: "Announces this node by UDP broadcast on the local networks and listens for others.",
  ...sessions(open),
} satisfies DiscoveryPlugin;
