// The `mdns` discovery plugin: advertises this node as the DNS-SD service
//   herd-<id>._herd._udp.local  SRV 0 0 <mesh port> herd-<id>.local
//                               TXT "v=1" "id=<id>" "cluster=<16 hex>"
//   herd-<id>.local             A   <address of the interface asked on, or ctx.self.address>
// answers queries for it (and for `_services._dns-sd._udp.local`), and browses by asking
// for `_herd._udp.local` PTR every interval. Answers become candidates: SRV port at the
// A record's address (or the packet's source). Multicast 224.0.0.251, UDP 5353, sent
// from port 5353 too, or avahi ignores the answers (docs/discovery.md). IPv4 only.
// Deno's own UDP sockets and DNS messages of _dns.ts: no npm package, no Node layer.

import type { Candidate, DiscoveryContext, DiscoveryPlugin } from "../sdk.ts";
import { decodePacket, encodePacket } from "./_dns.ts";
import {
  checkCandidate,
  clusterPrefix,
  every,
  NODE_ID_PATTERN,
  OccasionalLog,
  parseIPv4,
  readInterval,
  Recent,
  sessions,
} from "./_common.ts";

export const SERVICE = "_herd._udp.local";
/** DNS-SD service type enumeration (RFC 6763 §9): `avahi-browse -a` asks this. */
export const SERVICES_META = "_services._dns-sd._udp.local";
/** TTL of our records, seconds (RFC 6762 §10 recommends 120 for host records). */
export const RECORD_TTL_S = 120;
/** Version in the TXT record; answers with another `v` are ignored. */
export const TXT_VERSION = "1";
/** RFC 6762 §6: a record is multicast at most once a second per interface. */
export const MIN_ANSWER_GAP_MS = 1_000;
const MDNS_GROUP = "224.0.0.251";
const MDNS_PORT = 5353;
/** How long stop() waits for the goodbye packets to be sent. */
const GOODBYE_TIMEOUT_MS = 500;

// --------------------------- records (dns-packet's shapes) ---------------------------

export interface MdnsRecord {
  name: string;
  type: string;
  class?: string;
  ttl?: number;
  flush?: boolean;
  data?: unknown;
}

export interface MdnsQuestion {
  name: string;
  type: string;
}

export interface MdnsPacket {
  type?: string;
  questions?: MdnsQuestion[];
  answers?: MdnsRecord[];
  additionals?: MdnsRecord[];
}

export const instanceName = (id: string) => `herd-${id}.${SERVICE}`;
export const hostName = (id: string) => `herd-${id}.local`;

/** What this node advertises. */
export interface Advertised {
  id: string;
  port: number;
  /** Cluster fingerprint (64 hex) or its prefix; "" before the node has joined. */
  cluster: string;
}

/** Our records, with `addresses` as A records of our host name. `ttl` 0 says goodbye. */
export function serviceRecords(self: Advertised, addresses: readonly string[], ttl = RECORD_TTL_S) {
  const instance = instanceName(self.id);
  const host = hostName(self.id);
  const txt = [`v=${TXT_VERSION}`, `id=${self.id}`];
  const cluster = clusterPrefix(self.cluster);
  if (cluster) txt.push(`cluster=${cluster}`);
  return {
    ptr: { name: SERVICE, type: "PTR", class: "IN", ttl, data: instance } as MdnsRecord,
    srv: {
      name: instance,
      type: "SRV",
      class: "IN",
      ttl,
      flush: true,
      data: { priority: 0, weight: 0, port: self.port, target: host },
    } as MdnsRecord,
    txt: { name: instance, type: "TXT", class: "IN", ttl, flush: true, data: txt } as MdnsRecord,
    a: addresses.map((address): MdnsRecord => ({
      name: host,
      type: "A",
      class: "IN",
      ttl,
      flush: true,
      data: address,
    })),
    meta: { name: SERVICES_META, type: "PTR", class: "IN", ttl, data: SERVICE } as MdnsRecord,
  };
}

/** The whole advertisement, as an unsolicited announcement (or a goodbye with ttl 0). */
export function announcement(self: Advertised, addresses: readonly string[], ttl = RECORD_TTL_S) {
  const r = serviceRecords(self, addresses, ttl);
  return { answers: [r.ptr, r.srv, r.txt, ...r.a], additionals: [] as MdnsRecord[] };
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const asks = (q: MdnsQuestion, name: string, type: string) =>
  same(q.name, name) && (q.type === type || q.type === "ANY");

/**
 * What to answer to a query, or undefined when it asks nothing of ours. A PTR the
 * asker already knows with more than half its TTL left is not repeated (known-answer
 * suppression, RFC 6762 §7.1).
 */
export function answerQuery(
  query: MdnsPacket,
  self: Advertised,
  addresses: readonly string[],
): { answers: MdnsRecord[]; additionals: MdnsRecord[] } | undefined {
  const r = serviceRecords(self, addresses);
  const answers: MdnsRecord[] = [];
  const additionals: MdnsRecord[] = [];
  const known = (query.answers ?? []).some((k) =>
    same(k.name, SERVICE) && k.type === "PTR" && typeof k.data === "string" &&
    same(k.data, r.ptr.data as string) && (k.ttl ?? 0) > RECORD_TTL_S / 2
  );
  for (const q of query.questions ?? []) {
    if (typeof q?.name !== "string") continue;
    if (asks(q, SERVICE, "PTR") && !known) {
      answers.push(r.ptr);
      additionals.push(r.srv, r.txt, ...r.a);
    }
    if (asks(q, SERVICES_META, "PTR")) answers.push(r.meta);
    if (asks(q, instanceName(self.id), "SRV")) {
      answers.push(r.srv);
      additionals.push(...r.a);
    }
    if (asks(q, instanceName(self.id), "TXT")) answers.push(r.txt);
    if (asks(q, hostName(self.id), "A")) answers.push(...r.a);
  }
  if (answers.length === 0) return undefined;
  const unique = (list: MdnsRecord[]) => [...new Set(list)];
  const inAnswers = new Set(answers);
  return {
    answers: unique(answers),
    additionals: unique(additionals).filter((x) => !inAnswers.has(x)),
  };
}

/** TXT strings (Uint8Array from the wire, or strings) as key=value pairs. */
function txtPairs(data: unknown): Map<string, string> {
  const out = new Map<string, string>();
  const list = Array.isArray(data) ? data : [data];
  for (const item of list) {
    const s = typeof item === "string"
      ? item
      : item instanceof Uint8Array
      ? new TextDecoder().decode(item)
      : undefined;
    if (s === undefined) continue;
    const eq = s.indexOf("=");
    if (eq > 0) out.set(s.slice(0, eq).toLowerCase(), s.slice(eq + 1));
  }
  return out;
}

/**
 * The herd nodes a response describes: each `*._herd._udp.local` SRV (whose TXT, if
 * present, says v=1) with the id from its TXT or instance name, its port, and the
 * address of an A record of its target (the source's if one matches), else `source`.
 * Records with TTL 0 (goodbyes) and our own id are left out; malformed ones are counted
 * in `rejected`.
 */
export function parseResponse(
  packet: MdnsPacket,
  source: string,
  selfId: string,
  rejected: (why: string) => void = () => {},
): Candidate[] {
  const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])].filter((r) =>
    r && typeof r.name === "string" && r.ttl !== 0
  );
  const suffix = `.${SERVICE}`;
  const out: Candidate[] = [];
  for (const srv of records) {
    if (srv.type !== "SRV" || !srv.name.toLowerCase().endsWith(suffix)) continue;
    const d = srv.data as { port?: unknown; target?: unknown } | undefined;
    if (typeof d?.target !== "string") {
      rejected("SRV without a target");
      continue;
    }
    const txtRecord = records.find((r) => r.type === "TXT" && same(r.name, srv.name));
    const txt = txtPairs(txtRecord?.data);
    if (txt.has("v") && txt.get("v") !== TXT_VERSION) continue;
    const label = srv.name.slice(0, -suffix.length);
    const id = txt.get("id") ?? (label.startsWith("herd-") ? label.slice(5) : "");
    if (!NODE_ID_PATTERN.test(id)) {
      rejected(`no valid node id in ${srv.name}`);
      continue;
    }
    if (id === selfId) continue;
    const target = d.target;
    const addresses = records
      .filter((r) => r.type === "A" && same(r.name, target) && typeof r.data === "string")
      .map((r) => r.data as string);
    const address = addresses.includes(source) ? source : addresses[0] ?? source;
    const cluster = txt.get("cluster");
    const c: Candidate = {
      address,
      port: d.port as number,
      via: "mdns",
      nodeId: id,
      ...(cluster ? { cluster } : {}),
    };
    const wrong = checkCandidate(c);
    if (wrong) rejected(`${srv.name}: ${wrong}`);
    else out.push(c);
  }
  return out;
}

// --------------------------- interfaces ---------------------------

export interface MdnsInterface {
  name: string;
  address: string;
  family: "IPv4";
}

/** IPv4 interfaces to run mDNS on: all but loopback, or loopback when it is all there is. */
export function mdnsInterfaces(
  interfaces: readonly { name: string; family: string; address: string }[],
): MdnsInterface[] {
  const v4 = interfaces.filter((i) => i.family === "IPv4" && parseIPv4(i.address) !== undefined)
    .map((i): MdnsInterface => ({ name: i.name, address: i.address, family: "IPv4" }));
  const outside = v4.filter((i) => !i.address.startsWith("127."));
  return outside.length > 0 ? outside : v4;
}

// --------------------------- the sockets ---------------------------

interface RemoteInfo {
  address: string;
  port: number;
  /** The interface it came in on, when known. */
  interface?: string;
}

interface SocketEvents {
  query(p: MdnsPacket, r: RemoteInfo): void;
  response(p: MdnsPacket, r: RemoteInfo): void;
  /** A packet that is not DNS, or one that could not be sent. */
  warning(e: Error): void;
  /** A socket stopped receiving. */
  error(e: Error): void;
}

/** The sockets mDNS runs on (see `openSockets`). */
interface MdnsSockets {
  /** Sends to 224.0.0.251:5353 on the interface named, or on every one; never throws. */
  send(packet: MdnsPacket, iface?: string): Promise<void>;
  /** Closes the sockets and waits until their receive loops have ended. */
  close(): Promise<void>;
}

/** mDNS packets are at most 9000 bytes, headers included (RFC 6762 §17). */
const MAX_PACKET_BYTES = 9000;

/** Which of `interfaces` a source address is on (by subnet); the only one when there is one. */
function interfaceOf(
  nets: readonly { name: string; base: number; mask: number }[],
  address: string,
): string | undefined {
  const ip = parseIPv4(address);
  const on = ip === undefined ? undefined : nets.find((n) => ((ip & n.mask) >>> 0) === n.base);
  return on?.name ?? (nets.length === 1 ? nets[0].name : undefined);
}

/**
 * Opens, on Deno's own UDP (npm:mdns-server did this before, through the Node layer):
 * - per interface, a socket bound to its address and port 5353. What herd sends leaves
 *   from it: through that interface (Linux routes multicast from a bound address out of
 *   the interface that has it), from port 5353 (avahi ignores answers from other ports),
 *   with IP TTL 255 (RFC 6762 §11), looped back to this host's listeners. It also hears
 *   unicast to that address.
 * - one socket on *:5353 that joins 224.0.0.251 on every interface: it hears the group.
 *   A packet's interface is the one whose subnet holds its source.
 * Rejects with "No sockets created." when no interface could be served.
 */
async function openSockets(
  interfaces: readonly MdnsInterface[],
  on: SocketEvents,
  notes: OccasionalLog,
): Promise<MdnsSockets> {
  const conns: Deno.DatagramConn[] = [];
  const loops: Promise<void>[] = [];
  let closed = false;
  const close = async () => {
    closed = true;
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed already */ }
    }
    await Promise.all(loops);
  };
  const listen = (conn: Deno.DatagramConn, iface: (address: string) => string | undefined) => {
    loops.push((async () => {
      const buf = new Uint8Array(MAX_PACKET_BYTES);
      for (;;) {
        let data: Uint8Array, from: Deno.NetAddr;
        try {
          const [d, addr] = await conn.receive(buf);
          [data, from] = [d, addr as Deno.NetAddr];
        } catch (e) {
          if (!closed) on.error(e as Error);
          return;
        }
        let packet: MdnsPacket;
        try {
          packet = decodePacket(data);
        } catch (e) {
          on.warning(e as Error);
          continue;
        }
        const r = { address: from.hostname, port: from.port, interface: iface(from.hostname) };
        if (packet.type === "response") on.response(packet, r);
        else on.query(packet, r);
      }
    })());
  };

  const senders: { iface: MdnsInterface; conn: Deno.DatagramConn }[] = [];
  for (const i of interfaces) {
    let conn: Deno.DatagramConn;
    try {
      conn = Deno.listenDatagram({
        transport: "udp",
        hostname: i.address,
        port: MDNS_PORT,
        reuseAddress: true,
        loopback: true,
      });
    } catch {
      continue; // as mdns-server: an interface without a socket is left out
    }
    conns.push(conn);
    senders.push({ iface: i, conn });
    try {
      // The TTL is a socket option Deno sets through a membership. A socket bound to a
      // unicast address receives no multicast: joining changes nothing else.
      const m = await conn.joinMulticastV4(MDNS_GROUP, i.address);
      await m.setTTL(255);
    } catch { /* the system's default TTL: receivers of RFC 6762 accept it */ }
  }

  let group: Deno.DatagramConn | undefined;
  let joined = 0;
  try {
    group = Deno.listenDatagram({
      transport: "udp",
      hostname: "0.0.0.0",
      port: MDNS_PORT,
      reuseAddress: true,
    });
    conns.push(group);
  } catch (e) {
    notes.note(
      "join",
      `mdns: cannot join ${MDNS_GROUP} on every interface: ${(e as Error).message}`,
    );
  }
  for (const i of group ? interfaces : []) {
    try {
      await group!.joinMulticastV4(MDNS_GROUP, i.address);
      joined++;
    } catch (e) {
      notes.note(
        `join ${i.name}`,
        `mdns: cannot join ${MDNS_GROUP} on ${i.name}: ${(e as Error).message}`,
      );
    }
  }
  if (senders.length === 0 || joined === 0) {
    await close();
    throw new Error("No sockets created.");
  }

  const nets: { name: string; base: number; mask: number }[] = [];
  try {
    for (const n of Deno.networkInterfaces()) {
      const ip = parseIPv4(n.address);
      const mask = parseIPv4(n.netmask);
      if (ip === undefined || mask === undefined) continue;
      if (!interfaces.some((i) => i.name === n.name && i.address === n.address)) continue;
      nets.push({ name: n.name, base: (ip & mask) >>> 0, mask });
    }
  } catch { /* no subnets: the interface is known only when there is one */ }
  if (nets.length === 0 && interfaces.length === 1) {
    nets.push({ name: interfaces[0].name, base: 0, mask: 0 });
  }
  for (const s of senders) listen(s.conn, () => s.iface.name);
  listen(group!, (address) => interfaceOf(nets, address));

  return {
    async send(packet, iface) {
      let data: Uint8Array;
      try {
        data = encodePacket(packet);
      } catch (e) {
        return on.warning(e as Error);
      }
      for (const s of senders) {
        if (closed) return;
        if (iface && s.iface.name !== iface) continue;
        try {
          await s.conn.send(data, { transport: "udp", hostname: MDNS_GROUP, port: MDNS_PORT });
        } catch { /* as mdns-server: a datagram that cannot be sent is dropped */ }
      }
    },
    close,
  };
}

/** Resolves when `p` does or after `ms`, whichever is first. */
function withDeadline(ms: number, p: Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<void>((r) => timer = setTimeout(r, ms))])
    .finally(() => clearTimeout(timer));
}

async function open(ctx: DiscoveryContext, signal: AbortSignal) {
  const log = (m: string) => ctx.log(`mdns: ${m}`);
  const notes = new OccasionalLog(ctx.log);
  const interval = readInterval(ctx);
  const recent = new Recent(Math.max(interval / 2, 1));
  // Read at each use: the agent may learn its cluster (or address) while we run.
  const self = (): Advertised => ({
    id: ctx.self.id,
    port: ctx.self.port,
    cluster: ctx.self.cluster,
  });
  const fixedAddress = () =>
    parseIPv4(ctx.self.address) !== undefined ? ctx.self.address : undefined;
  const lastAnswer = new Map<string, number>();

  let sockets: MdnsSockets | undefined;
  let interfaces: MdnsInterface[] = [];
  let failing = false;

  const addressesFor = (iface: string | undefined) => {
    const fixed = fixedAddress();
    if (fixed) return [fixed];
    const on = interfaces.filter((i) => i.name === iface).map((i) => i.address);
    return on.length > 0 ? on : interfaces.map((i) => i.address);
  };

  const onQuery = (query: MdnsPacket, rinfo: RemoteInfo) => {
    const reply = answerQuery(query, self(), addressesFor(rinfo.interface));
    if (!reply || !sockets) return;
    const key = `${rinfo.interface}|${reply.answers.map((r) => `${r.name}/${r.type}`).join(",")}`;
    const now = Date.now();
    if (now - (lastAnswer.get(key) ?? -Infinity) < MIN_ANSWER_GAP_MS) return;
    lastAnswer.set(key, now);
    if (lastAnswer.size > 256) lastAnswer.clear();
    void sockets.send({ type: "response", ...reply }, rinfo.interface);
  };

  const onResponse = (packet: MdnsPacket, rinfo: RemoteInfo) => {
    const reject = (why: string) =>
      notes.note("malformed", `mdns: ignoring an answer from ${rinfo.address}: ${why}`);
    let found: Candidate[];
    try {
      found = parseResponse(packet, rinfo.address, ctx.self.id, reject);
    } catch (e) {
      return reject((e as Error).message);
    }
    for (const c of found) {
      if (recent.fresh(`${c.nodeId} ${c.address} ${c.port} ${c.cluster}`)) ctx.found(c);
    }
  };

  const announce = () => {
    for (const i of interfaces) {
      void sockets?.send(
        { type: "response", ...announcement(self(), addressesFor(i.name)) },
        i.name,
      );
    }
  };

  /** Opens the sockets, or reopens them when the interfaces changed. */
  const ensureSockets = async () => {
    let current: MdnsInterface[] = [];
    try {
      current = mdnsInterfaces(Deno.networkInterfaces());
    } catch (e) {
      notes.note("interfaces", `mdns: cannot list interfaces: ${(e as Error).message}`);
    }
    const key = (list: MdnsInterface[]) => list.map((i) => `${i.name}=${i.address}`).join();
    if (sockets && key(current) === key(interfaces)) return;
    if (sockets) {
      log(`interfaces changed: reopening on ${current.map((i) => i.name).join(", ") || "none"}`);
      const old = sockets;
      sockets = undefined;
      await old.close();
    }
    interfaces = current;
    if (current.length === 0) {
      notes.note("no-interfaces", "mdns: no IPv4 interface to run on");
      return;
    }
    try {
      const s = await openSockets(current, {
        query: onQuery,
        response: onResponse,
        warning: (e) => notes.note("warning", `mdns: ${e.message}`),
        error: (e) => notes.note("socket", `mdns: socket error: ${e.message}`),
      }, notes);
      if (signal.aborted) return await s.close();
      sockets = s;
      if (failing) log("mDNS sockets open again");
      failing = false;
      announce();
    } catch (e) {
      if (!failing) {
        const hint = /No sockets created/.test((e as Error).message)
          ? " (is UDP 5353 free to share, and is multicast on for the interface:" +
            " 'ip link set IFACE multicast on'?)"
          : "";
        log(
          `cannot open mDNS sockets (UDP 5353): ${
            (e as Error).message
          }${hint}; retrying every interval`,
        );
      }
      failing = true;
    }
  };

  const round = async () => {
    await ensureSockets();
    void sockets?.send({ type: "query", questions: [{ name: SERVICE, type: "PTR" }] });
  };

  // Advertising before start() returns: the first round then only has to ask.
  await ensureSockets();
  const loop = every(interval, signal, round, log);
  const closed = (async () => {
    await loop;
    const s = sockets;
    sockets = undefined;
    if (!s) return;
    // Goodbye (TTL 0), so browsers drop us now rather than when the TTL runs out.
    await Promise.all(
      interfaces.map((i) =>
        withDeadline(
          GOODBYE_TIMEOUT_MS,
          s.send({ type: "response", ...announcement(self(), addressesFor(i.name), 0) }, i.name),
        )
      ),
    );
    await s.close();
  })();
  return { closed };
}

export const plugin = {
  kind: "discovery",
  name: "mdns",
  sdk: 1,
  description: "Advertises and browses the DNS-SD service _herd._udp.local (mDNS, avahi/Bonjour).",
  ...sessions(open),
} satisfies DiscoveryPlugin;
