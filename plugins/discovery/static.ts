// The `static` discovery plugin: the peers the operator named (`discovery.peers`,
// `--peer`), offered again every interval so a peer that was down is retried.
// Sends and listens to nothing itself: the agent dials the candidates.

import type { DiscoveryContext, DiscoveryPlugin } from "../sdk.ts";
import {
  DEFAULT_MESH_PORT,
  every,
  isHostname,
  isIPv6,
  parseIPv4,
  readInterval,
  readStrings,
  sessions,
} from "./_common.ts";

export interface Peer {
  host: string;
  port: number;
}

/**
 * Parses one `discovery.peers` entry: `host:port`, `[v6]:port`, or a bare host
 * (`host`, `[v6]`, `v6`) meaning `defaultPort`. Returns a message when it is wrong.
 */
export function parsePeer(text: string, defaultPort = DEFAULT_MESH_PORT): Peer | string {
  const t = text.trim();
  let host: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]*)\](?::(.*))?$/.exec(t);
  if (bracket) {
    host = bracket[1];
    portText = bracket[2];
    if (!isIPv6(host)) return `'${text}': ${host || "the brackets"} is not an IPv6 address`;
  } else if (t.split(":").length > 2) {
    // More than one colon and no brackets: a bare IPv6 address.
    host = t;
    if (!isIPv6(host)) return `'${text}': not an address (write IPv6 as [::1]:7946)`;
  } else {
    [host, portText] = t.split(":");
    if (parseIPv4(host) === undefined && !isHostname(host)) {
      return `'${text}': '${host}' is not a host name or IP address`;
    }
  }
  let port = defaultPort;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) return `'${text}': port must be 1 to 65535`;
  }
  return { host, port };
}

/** The valid peers of a list; each bad entry is reported through `bad`. */
export function parsePeers(texts: readonly string[], bad: (message: string) => void): Peer[] {
  const peers: Peer[] = [];
  const seen = new Set<string>();
  for (const t of texts) {
    const p = parsePeer(t);
    if (typeof p === "string") {
      bad(p);
      continue;
    }
    const key = `${p.host.toLowerCase()} ${p.port}`;
    if (!seen.has(key)) peers.push(p);
    seen.add(key);
  }
  return peers;
}

function open(ctx: DiscoveryContext, signal: AbortSignal) {
  const log = (m: string) => ctx.log(`static: ${m}`);
  // The list does not change while the plugin runs: bad entries are logged once, here.
  const peers = parsePeers(readStrings(ctx, "peers"), (m) => log(`ignoring peer ${m}`))
    .filter((p) => !(p.host === ctx.self.address && p.port === ctx.self.port));
  if (peers.length === 0) return Promise.resolve({ closed: Promise.resolve() });
  const offer = () => {
    for (const p of peers) ctx.found({ address: p.host, port: p.port, via: "static" });
  };
  return Promise.resolve({ closed: every(readInterval(ctx), signal, offer, log) });
}

export const plugin = {
  kind: "discovery",
  name: "static",
  sdk: 1,
  description: "Offers the configured peers (discovery.peers) every interval.",
  ...sessions(open),
} satisfies DiscoveryPlugin;
