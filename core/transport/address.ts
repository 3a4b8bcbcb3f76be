// Mesh addresses as membership writes them: `host:port`, an IPv6 host in brackets
// (`[fd00::1]:7946`). Parsed where the transport dials, formatted where it reports
// who sent something.

/** Longest `host:port` accepted from the network or a caller (a DNS name is <= 253). */
export const MAX_ADDRESS_LENGTH = 300;

export interface HostPort {
  /** Without brackets: `fd00::1`, `10.0.0.1`, `node.lan`. */
  host: string;
  port: number;
}

/** `host:port` -> its parts, or undefined if it is not one (port 1-65535). */
export function parseAddress(address: string): HostPort | undefined {
  if (typeof address !== "string" || address.length > MAX_ADDRESS_LENGTH) return undefined;
  const colon = address.lastIndexOf(":");
  if (colon <= 0) return undefined;
  const portText = address.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  let host = address.slice(0, colon);
  if (host.startsWith("[")) {
    if (!host.endsWith("]")) return undefined;
    host = host.slice(1, -1);
  } else if (host.includes(":")) {
    return undefined; // an IPv6 host must be bracketed, or the port is ambiguous
  }
  if (host.length === 0 || /[\s[\]/]/.test(host)) return undefined;
  return { host, port };
}

/**
 * What a user may type for a peer: `host:port`, or a bare host (`10.0.0.5`, `[fd00::1]`,
 * `fd00::1`) that gets `defaultPort`. Undefined when it is neither.
 */
export function parsePeerAddress(text: string, defaultPort: number): HostPort | undefined {
  const full = parseAddress(text);
  if (full) return full;
  const bare = text.replace(/^\[(.*)\]$/, "$1");
  // Only a host without a port: a name or IPv4 (no colon), or an IPv6 literal.
  if (!/^[^:\s]+$/.test(bare) && !/^[0-9a-fA-F:.]+$/.test(bare)) return undefined;
  return parseAddress(formatAddress(bare, defaultPort));
}

/** The inverse of parseAddress: brackets an IPv6 host. */
export const formatAddress = (host: string, port: number): string =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;

/** A Deno network address as `host:port`. */
export const addressOf = (addr: Deno.NetAddr): string => formatAddress(addr.hostname, addr.port);
