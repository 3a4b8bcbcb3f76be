// The `mdns` discovery plugin: advertises this node as the DNS-SD service
//   herd-<id>._herd._udp.local  SRV 0 0 <mesh port> herd-<id>.local
//                               TXT "v=1" "id=<id>" "cluster=<16 hex>"
//   herd-<id>.local             A   <address of the interface asked on, or ctx.self.address>
// answers queries for it (and for `_services._dns-sd._udp.local`), and browses by asking
// for `_herd._udp.local` PTR every interval. Answers become candidates: SRV port at the
// A record's address (or the packet's source). Multicast 224.0.0.251, UDP 5353, sent
// from port 5353 too, or avahi ignores the answers (docs/discovery.md). IPv4 only.

import type { Candidate, DiscoveryContext, DiscoveryPlugin } from "../sdk.ts";
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
/** How long opening the sockets may take before it counts as failed. */
const OPEN_TIMEOUT_MS = 5_000;
/** How long stop() waits for the goodbye packets to be sent. */
const GOODBYE_TIMEOUT_MS = 500;

// ─────────────────────────── records (dns-packet's shapes) ───────────────────────────

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

// ─────────────────────────── interfaces ───────────────────────────

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

// ─────────────────────────── the server ───────────────────────────

interface RemoteInfo {
  address: string;
  port: number;
  family: string;
  interface?: string;
}

/** What herd uses of npm:mdns-server (it has no types of its own). */
interface MdnsServer {
  on(event: "ready" | "destroyed", f: () => void): void;
  on(event: "error" | "warning", f: (e: Error) => void): void;
  on(event: "query" | "response", f: (p: MdnsPacket, r: RemoteInfo) => void): void;
  initServer(): void;
  query(questions: MdnsQuestion[], cb?: () => void): void;
  respond(
    packet: { answers: MdnsRecord[]; additionals?: MdnsRecord[] },
    rinfo?: { interface: string; family: string } | (() => void),
    cb?: () => void,
  ): void;
  destroy(cb?: () => void): void;
}

type CreateServer = (options: {
  interfaces: MdnsInterface[];
  reuseAddr: boolean;
  loopback: boolean;
  srcPort: number;
  noInit: boolean;
}) => MdnsServer;

/**
 * npm:mdns-server, imported on first use: the Node compatibility layer it pulls in
 * costs several MB of RSS, which a node without mDNS should not pay.
 */
async function loadMdnsServer(): Promise<CreateServer> {
  return (await import("mdns-server")).default as CreateServer;
}

/** Opens the sockets on `interfaces`; rejects when none could be opened. */
async function openServer(interfaces: MdnsInterface[], onError: (e: Error) => void) {
  const createServer = await loadMdnsServer();
  return await new Promise<MdnsServer>((resolve, reject) => {
    const server = createServer({
      // Copies: mdns-server keeps its sockets and state on the objects it is given.
      interfaces: interfaces.map((i) => ({ ...i })),
      reuseAddr: true,
      loopback: true,
      // Answers must leave from port 5353: avahi ignores others (DESIGN.md).
      srcPort: 5353,
      noInit: true,
    });
    let settled = false;
    const timer = setTimeout(
      () => fail(new Error("timed out opening the sockets")),
      OPEN_TIMEOUT_MS,
    );
    const fail = (e: Error) => {
      if (settled) return onError(e);
      settled = true;
      clearTimeout(timer);
      server.destroy();
      reject(e);
    };
    server.on("error", fail);
    server.on("ready", () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(server);
    });
    server.initServer();
  });
}

/**
 * mdns-server joins 224.0.0.251 on whichever interface the route to it names (it
 * joins with INADDR_ANY), so on a host with several interfaces it hears queries and
 * answers on one of them only. This socket joins the group on every interface; Linux
 * then hands the group's datagrams to every socket bound to *:5353 (IP_MULTICAST_ALL),
 * mdns-server's among them. What this socket receives itself is dropped.
 */
async function joinEverywhere(interfaces: MdnsInterface[], notes: OccasionalLog) {
  let conn: Deno.DatagramConn;
  try {
    conn = Deno.listenDatagram({
      transport: "udp",
      hostname: "0.0.0.0",
      port: MDNS_PORT,
      reuseAddress: true,
    });
  } catch (e) {
    notes.note(
      "join",
      `mdns: cannot join ${MDNS_GROUP} on every interface: ${(e as Error).message}`,
    );
    return { close: () => Promise.resolve() };
  }
  for (const i of interfaces) {
    try {
      await conn.joinMulticastV4(MDNS_GROUP, i.address);
    } catch (e) {
      notes.note(
        `join ${i.name}`,
        `mdns: cannot join ${MDNS_GROUP} on ${i.name}: ${(e as Error).message}`,
      );
    }
  }
  const draining = (async () => {
    try {
      for (;;) await conn.receive();
    } catch { /* closed */ }
  })();
  return {
    close: async () => {
      conn.close();
      await draining;
    },
  };
}

/** Destroys a server and waits until its sockets are closed. */
function closeServer(server: MdnsServer): Promise<void> {
  return new Promise((resolve) => server.destroy(() => setTimeout(resolve, 0)));
}

/** Runs `send(cb)`, resolving when cb is called or after `ms`. */
function withDeadline(ms: number, send: (cb: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    send(() => {
      clearTimeout(timer);
      resolve();
    });
  });
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

  let server: MdnsServer | undefined;
  let joined: { close(): Promise<void> } | undefined;
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
    if (!reply || !server) return;
    const key = `${rinfo.interface}|${reply.answers.map((r) => `${r.name}/${r.type}`).join(",")}`;
    const now = Date.now();
    if (now - (lastAnswer.get(key) ?? -Infinity) < MIN_ANSWER_GAP_MS) return;
    lastAnswer.set(key, now);
    if (lastAnswer.size > 256) lastAnswer.clear();
    server.respond(reply, { interface: rinfo.interface ?? "", family: "IPv4" });
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
      server?.respond(announcement(self(), addressesFor(i.name)), {
        interface: i.name,
        family: "IPv4",
      });
    }
  };

  /** Opens the server, or reopens it when the interfaces changed. */
  const ensureServer = async () => {
    let current: MdnsInterface[] = [];
    try {
      current = mdnsInterfaces(Deno.networkInterfaces());
    } catch (e) {
      notes.note("interfaces", `mdns: cannot list interfaces: ${(e as Error).message}`);
    }
    const key = (list: MdnsInterface[]) => list.map((i) => `${i.name}=${i.address}`).join();
    if (server && key(current) === key(interfaces)) return;
    if (server) {
      log(`interfaces changed: reopening on ${current.map((i) => i.name).join(", ") || "none"}`);
      const old = server;
      server = undefined;
      await closeServer(old);
      await joined?.close();
      joined = undefined;
    }
    interfaces = current;
    if (current.length === 0) {
      notes.note("no-interfaces", "mdns: no IPv4 interface to run on");
      return;
    }
    try {
      const s = await openServer(
        current,
        (e) => notes.note("socket", `mdns: socket error: ${e.message}`),
      );
      if (signal.aborted) return await closeServer(s);
      s.on("warning", (e) => notes.note("warning", `mdns: ${e.message}`));
      s.on("query", (p, r) => onQuery(p, r));
      s.on("response", (p, r) => onResponse(p, r));
      server = s;
      joined = await joinEverywhere(current, notes);
      if (failing) log("mDNS sockets open again");
      failing = false;
      announce();
    } catch (e) {
      if (!failing) {
        // mdns-server joins the group through the route to it: without one, nothing opens.
        const hint = /No sockets created/.test((e as Error).message)
          ? " (is UDP 5353 free to share, and is there a route to 224.0.0.251: a default" +
            " route, or 'ip route add 224.0.0.0/4 dev IFACE'?)"
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
    await ensureServer();
    server?.query([{ name: SERVICE, type: "PTR" }]);
  };

  // Advertising before start() returns: the first round then only has to ask.
  await ensureServer();
  const loop = every(interval, signal, round, log);
  const closed = (async () => {
    await loop;
    const s = server;
    server = undefined;
    if (!s) return;
    // Goodbye (TTL 0), so browsers drop us now rather than when the TTL runs out.
    await Promise.all(
      interfaces.map((i) =>
        withDeadline(
          GOODBYE_TIMEOUT_MS,
          (cb) =>
            s.respond(announcement(self(), addressesFor(i.name), 0), {
              interface: i.name,
              family: "IPv4",
            }, cb),
        )
      ),
    );
    await closeServer(s);
    await joined?.close();
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
