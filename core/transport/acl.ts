// Source address allow/deny lists (`transport.allow`, `transport.deny`): CIDR blocks
// for IPv4 and IPv6, parsed once at start. The transport asks before any other work on
// a connection or an info request. Deny wins over allow; an empty allow list allows all.
// An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack socket reports for
// an IPv4 peer) is matched as the IPv4 address it carries, in both rules and sources.

import { ConfigError } from "../errors.ts";

export interface Ip {
  family: 4 | 6;
  /** 32 or 128 bits. */
  value: bigint;
}

export interface Cidr {
  family: 4 | 6;
  /** The network address (host bits zero). */
  base: bigint;
  prefix: number;
  /** As written, for messages. */
  text: string;
}

export type AclVerdict = "allowed" | "denied" | "not-allowed";

const bitsOf = (family: 4 | 6): number => (family === 4 ? 32 : 128);

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === "0")) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseIpv6(text: string): bigint | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p); // an embedded IPv4 address fills the last two groups
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  let v = 0n;
  for (const g of [...head, ...new Array(missing).fill(0), ...tail]) v = (v << 16n) | BigInt(g);
  return v;
}

/** An IPv4 or IPv6 address (brackets and a zone `%eth0` are ignored); mapped IPv4 as IPv4. */
export function parseIp(text: string): Ip | undefined {
  let t = text.trim();
  if (t.startsWith("[") && t.endsWith("]")) t = t.slice(1, -1);
  const zone = t.indexOf("%");
  if (zone >= 0) t = t.slice(0, zone);
  const v4 = parseIpv4(t);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = t.includes(":") ? parseIpv6(t) : undefined;
  if (v6 === undefined) return undefined;
  // ::ffff:0:0/96, an IPv4 address as a dual-stack socket reports it
  if (v6 >> 32n === 0xffffn) return { family: 4, value: v6 & 0xffffffffn };
  return { family: 6, value: v6 };
}

/** `10.0.0.0/8`, `fd00::/8`, or one address (a /32 or /128); a reason string if invalid. */
export function parseCidr(text: string): Cidr | string {
  const [addr, prefixText, ...rest] = text.trim().split("/");
  if (rest.length > 0) return "more than one '/'";
  const ip = parseIp(addr);
  if (!ip) return `'${addr}' is not an IPv4 or IPv6 address`;
  // A mapped rule (`::ffff:10.0.0.0/104`) is an IPv4 rule: subtract the 96 mapping bits.
  const mapped = ip.family === 4 && addr.includes(":");
  const max = mapped ? 128 : bitsOf(ip.family);
  let prefix = max;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
      return `the prefix length must be 0\u2013${max}`;
    }
    prefix = Number(prefixText);
  }
  if (mapped) {
    if (prefix < 96) return "an IPv4-mapped prefix must be at least /96";
    prefix -= 96;
  }
  const hostBits = BigInt(bitsOf(ip.family) - prefix);
  const base = (ip.value >> hostBits) << hostBits;
  if (base !== ip.value) return "host bits are set (the address is not the network's first)";
  return { family: ip.family, base, prefix, text: text.trim() };
}

export function cidrContains(c: Cidr, ip: Ip): boolean {
  if (c.family !== ip.family) return false;
  const hostBits = BigInt(bitsOf(c.family) - c.prefix);
  return (ip.value >> hostBits) << hostBits === c.base;
}

/** The parsed lists. `check` is cheap: a linear scan, lists are short. */
export class Acl {
  readonly allow: readonly Cidr[];
  readonly deny: readonly Cidr[];

  private constructor(allow: Cidr[], deny: Cidr[]) {
    this.allow = allow;
    this.deny = deny;
  }

  /** Throws ConfigError naming the setting and the value for a bad entry. */
  static parse(allow: readonly string[], deny: readonly string[]): Acl {
    const parseList = (setting: string, list: readonly string[]): Cidr[] =>
      list.map((text) => {
        const c = parseCidr(text);
        if (typeof c === "string") {
          throw new ConfigError(`'${setting}' has an invalid CIDR block "${text}": ${c}`, {
            hint: "write networks like 10.0.0.0/8, 192.168.1.7 or fd00::/8",
          });
        }
        return c;
      });
    return new Acl(parseList("transport.allow", allow), parseList("transport.deny", deny));
  }

  /** For a source address as a socket reports it (`10.0.0.1`, `::ffff:10.0.0.1`, `fd00::1`). */
  check(address: string): AclVerdict {
    const ip = parseIp(address);
    if (ip && this.deny.some((c) => cidrContains(c, ip))) return "denied";
    if (this.allow.length === 0) return "allowed";
    return ip && this.allow.some((c) => cidrContains(c, ip)) ? "allowed" : "not-allowed";
  }
}
