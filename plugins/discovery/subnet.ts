// The `subnet` discovery plugin (opt-in): scans the networks in `discovery.subnets`
// by opening a TCP connection to the mesh port of each address (a herd node answers
// node-info requests on TCP at the same port number as its QUIC endpoint) and closing
// it at once. An open port is a candidate; the agent checks what answers there.
// At most `scanRate` connection attempts start per second, at most
// MAX_CONCURRENT_PROBES are open at once, each given CONNECT_TIMEOUT_MS. A pass starts
// every interval (at once when the previous pass took longer). Networks larger than
// /16 are refused; this machine's own addresses are skipped.

import type { DiscoveryContext, DiscoveryPlugin } from "../sdk.ts";
import {
  every,
  formatIPv4,
  ownIPv4Addresses,
  parseIPv4,
  readInt,
  readInterval,
  readStrings,
  sessions,
  sleep,
} from "./_common.ts";

/** The largest network scanned: a /16 (65,534 addresses, ~22 minutes at 50/s). */
export const MAX_NETWORK_PREFIX = 16;
export const CONNECT_TIMEOUT_MS = 1_000;
export const MAX_CONCURRENT_PROBES = 64;
export const DEFAULT_SCAN_RATE = 50;

export interface Network {
  /** The network address as a 32-bit unsigned number. */
  network: number;
  prefix: number;
}

/** Parses an IPv4 CIDR ("10.1.0.0/24"; a bare address is a /32); a message when wrong. */
export function parseCidr(text: string): Network | string {
  const [addr, bits, extra] = text.trim().split("/");
  if (extra !== undefined) return `'${text}' is not a CIDR such as 192.168.1.0/24`;
  if (addr.includes(":")) return `'${text}': IPv6 networks are not scanned (too large)`;
  const ip = parseIPv4(addr);
  const prefix = bits === undefined ? 32 : /^\d{1,2}$/.test(bits) ? Number(bits) : NaN;
  if (ip === undefined || !(prefix >= 0 && prefix <= 32)) {
    return `'${text}' is not a CIDR such as 192.168.1.0/24`;
  }
  if (prefix < MAX_NETWORK_PREFIX) {
    return `refusing '${text}': larger than /${MAX_NETWORK_PREFIX} (${
      2 ** (32 - prefix)
    } addresses); list smaller networks`;
  }
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { network: (ip & mask) >>> 0, prefix };
}

/** The host addresses of a network: without network and broadcast address up to /30. */
export function* hostAddresses(net: Network): Generator<string> {
  const size = 2 ** (32 - net.prefix);
  const [first, last] = size <= 2 ? [0, size - 1] : [1, size - 2];
  for (let i = first; i <= last; i++) yield formatIPv4(net.network + i);
}

/** Whether a TCP connection to host:port opens within timeoutMs (closed at once). */
async function portOpen(
  hostname: string,
  port: number,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<boolean> {
  const ac = new AbortController();
  const abort = () => ac.abort();
  const timer = setTimeout(abort, timeoutMs);
  signal.addEventListener("abort", abort);
  try {
    const conn = await Deno.connect({ hostname, port, signal: ac.signal });
    conn.close();
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", abort);
  }
}

function open(ctx: DiscoveryContext, signal: AbortSignal) {
  const log = (m: string) => ctx.log(`subnet: ${m}`);
  const nets: { text: string; net: Network }[] = [];
  for (const text of readStrings(ctx, "subnets")) {
    const n = parseCidr(text);
    if (typeof n === "string") log(n);
    else nets.push({ text, net: n });
  }
  if (nets.length === 0) return Promise.resolve({ closed: Promise.resolve() });
  const rate = readInt(ctx, "scanRate", { default: DEFAULT_SCAN_RATE, min: 1, max: 10_000 });
  const port = ctx.self.port;
  const gapMs = 1000 / rate;
  let passes = 0;

  const pass = async () => {
    const own = new Set([...ownIPv4Addresses(), ctx.self.address]);
    const started = Date.now();
    let next = started;
    let tried = 0;
    let open = 0;
    const inflight = new Set<Promise<void>>();
    for (const { net } of nets) {
      for (const address of hostAddresses(net)) {
        if (signal.aborted) break;
        if (own.has(address)) continue;
        // Pace the starts: the n-th attempt of a pass starts n/rate seconds in.
        const wait = next - Date.now();
        if (wait > 0 && !(await sleep(wait, signal))) break;
        next = Math.max(next, Date.now()) + gapMs;
        while (inflight.size >= MAX_CONCURRENT_PROBES) await Promise.race(inflight);
        tried++;
        const probe = portOpen(address, port, CONNECT_TIMEOUT_MS, signal).then((ok) => {
          if (ok && !signal.aborted) {
            open++;
            ctx.found({ address, port, via: "subnet" });
          }
        });
        const tracked = probe.finally(() => inflight.delete(tracked));
        inflight.add(tracked);
      }
    }
    await Promise.all(inflight);
    if (passes++ === 0 && !signal.aborted) {
      log(
        `first pass over ${nets.map((n) => n.text).join(", ")}: ${tried} addresses in ${
          ((Date.now() - started) / 1000).toFixed(1)
        } s, port ${port} open on ${open}`,
      );
    }
  };

  return Promise.resolve({ closed: every(readInterval(ctx), signal, pass, log) });
}

export const plugin = {
  kind: "discovery",
  name: "subnet",
  sdk: 1,
  description: "Scans discovery.subnets for open mesh ports (opt-in, rate-limited).",
  ...sessions(open),
} satisfies DiscoveryPlugin;
