// What the discovery built-ins share: reading their settings from `ctx.config`,
// addresses, candidate checks, an abortable loop, rate-limited logging, and the
// session bookkeeping that lets one plugin object be started more than once.
// Imports nothing but the SDK's types: a built-in plugin depends on herd only there.

import type { Candidate, DiscoveryContext, DiscoveryPlugin } from "../sdk.ts";

/** The mesh port of `mesh.port`'s default: what a bare host in `discovery.peers` means. */
export const DEFAULT_MESH_PORT = 7946;
/** `discovery.interval`'s default, used when ctx.config lacks a valid one. */
export const DEFAULT_INTERVAL_MS = 10_000;
/** Shortest interval a plugin accepts: anything faster would be a busy loop. */
export const MIN_INTERVAL_MS = 10;
/** A node id (core/identity/names.ts): 16 characters of [0-9a-z]. */
export const NODE_ID_PATTERN = /^[0-9a-z]{16}$/;
/** Hex characters of the cluster fingerprint that announcements carry. */
export const CLUSTER_PREFIX_LENGTH = 16;
/** A cluster as announced: 16 to 64 hex characters of the CA fingerprint. */
export const CLUSTER_PATTERN = /^[0-9a-f]{16,64}$/;

// ----------------------------- settings -----------------------------

/** Reads an integer setting; a missing value gives the default, a wrong one is logged. */
export function readInt(
  ctx: DiscoveryContext,
  name: string,
  spec: { default: number; min: number; max: number },
): number {
  const value = ctx.config[name];
  if (value === undefined) return spec.default;
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < spec.min || value > spec.max
  ) {
    ctx.log(
      `'${name}' must be an integer from ${spec.min} to ${spec.max}: got ${
        JSON.stringify(value)
      }; using ${spec.default}`,
    );
    return spec.default;
  }
  return value;
}

/** `interval` (ms) from ctx.config. */
export function readInterval(ctx: DiscoveryContext): number {
  return readInt(ctx, "interval", {
    default: DEFAULT_INTERVAL_MS,
    min: MIN_INTERVAL_MS,
    max: 24 * 3_600_000,
  });
}

/** A list of strings from ctx.config; entries that are not strings are logged and dropped. */
export function readStrings(ctx: DiscoveryContext, name: string): string[] {
  const value = ctx.config[name];
  if (value === undefined) return [];
  if (typeof value === "string") return value.split(",").map((s) => s.trim()).filter(Boolean);
  if (!Array.isArray(value)) {
    ctx.log(`'${name}' must be a list of strings: got ${JSON.stringify(value)}; ignored`);
    return [];
  }
  const out: string[] = [];
  for (const v of value) {
    if (typeof v === "string") out.push(v.trim());
    else ctx.log(`'${name}': ${JSON.stringify(v)} is not a string; ignored`);
  }
  return out.filter(Boolean);
}

/** The 16-hex prefix of a cluster fingerprint, or "" when there is none (not joined yet). */
export function clusterPrefix(cluster: string): string {
  const c = cluster.toLowerCase();
  return CLUSTER_PATTERN.test(c) ? c.slice(0, CLUSTER_PREFIX_LENGTH) : "";
}

// ----------------------------- addresses -----------------------------

/** An IPv4 literal as a 32-bit unsigned number, or undefined. */
export function parseIPv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255 || (m[i].length > 1 && m[i][0] === "0")) return undefined;
    n = n * 256 + octet;
  }
  return n;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Whether text is an IPv6 literal (without brackets or zone). */
export function isIPv6(text: string): boolean {
  if (!text.includes(":") || !/^[0-9a-fA-F:.]+$/.test(text) || text.length > 45) return false;
  try {
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    return false;
  }
}

/** A DNS host name (letters, digits, dashes; dot-separated labels of 1-63). */
export function isHostname(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false;
  const labels = text.replace(/\.$/, "").split(".");
  return labels.every((l) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l)) &&
    !/^\d+$/.test(labels[labels.length - 1]);
}

/** An address a candidate may carry: an IPv4 or IPv6 literal, or a host name. */
export function isHost(text: string): boolean {
  return parseIPv4(text) !== undefined || isIPv6(text) || isHostname(text);
}

export const isPort = (n: unknown): n is number =>
  typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535;

/** Checks a candidate before it is offered: a host and a port, an id and cluster if given. */
export function checkCandidate(c: Candidate): string | undefined {
  if (typeof c.address !== "string" || !isHost(c.address)) {
    return `bad address ${JSON.stringify(c.address)}`;
  }
  if (!isPort(c.port)) return `bad port ${JSON.stringify(c.port)}`;
  if (c.nodeId !== undefined && !NODE_ID_PATTERN.test(c.nodeId)) {
    return `bad node id ${JSON.stringify(c.nodeId)}`;
  }
  if (c.cluster !== undefined && !CLUSTER_PATTERN.test(c.cluster)) {
    return `bad cluster ${JSON.stringify(c.cluster)}`;
  }
  return undefined;
}

/** The IPv4 addresses of this machine's interfaces (empty when they cannot be read). */
export function ownIPv4Addresses(): string[] {
  try {
    return Deno.networkInterfaces().filter((i) => i.family === "IPv4").map((i) => i.address);
  } catch {
    return [];
  }
}

// ----------------------------- time -----------------------------

/** Waits ms, or less when the signal aborts; true when the full time passed. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (full: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(full);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener("abort", onAbort);
  });
}

/**
 * Runs `round` now and then every `intervalMs` (from the start of one round to the
 * start of the next) until the signal aborts. A round that throws is logged and the
 * loop goes on. Resolves when the loop has ended.
 */
export async function every(
  intervalMs: number,
  signal: AbortSignal,
  round: () => void | Promise<void>,
  log: (message: string) => void,
): Promise<void> {
  while (!signal.aborted) {
    const started = Date.now();
    try {
      await round();
    } catch (e) {
      log(`round failed: ${(e as Error).message}`);
    }
    await sleep(Math.max(0, intervalMs - (Date.now() - started)), signal);
  }
}

// ----------------------------- logging -----------------------------

/**
 * A log for things that may repeat at network speed (malformed packets, send errors):
 * the first of each kind is logged, then at most one line per period saying how many
 * more there were. Counts are kept, for tests and status.
 */
export class OccasionalLog {
  readonly counts = new Map<string, number>();
  readonly #last = new Map<string, { at: number; logged: number }>();

  constructor(
    private readonly log: (message: string) => void,
    private readonly periodMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records one event of `kind`; logs `message` when it is the first one in a period. */
  note(kind: string, message: string): void {
    const count = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, count);
    const last = this.#last.get(kind);
    const t = this.now();
    if (!last) {
      this.#last.set(kind, { at: t, logged: count });
      this.log(message);
    } else if (t - last.at >= this.periodMs) {
      const more = count - last.logged - 1;
      this.#last.set(kind, { at: t, logged: count });
      this.log(more > 0 ? `${message} (and ${more} more like it since the last report)` : message);
    }
  }
}

// ----------------------------- sessions -----------------------------

/**
 * A running plugin: `closed` resolves once its loops have ended and its sockets are
 * closed, after `signal` (the one `open` was given) aborts.
 */
export interface Running {
  closed: Promise<void>;
}

export type Open = (ctx: DiscoveryContext, signal: AbortSignal) => Promise<Running>;

/**
 * The `start`/`stop` pair of a discovery plugin. One plugin object may be started
 * with several contexts (two nodes in one process, as tests do): each start is its own
 * session, ended by its context's signal; `stop()` ends them all.
 */
export function sessions(open: Open): Pick<DiscoveryPlugin, "start" | "stop"> {
  const running = new Set<{ stop: AbortController; closed: Promise<void> }>();
  return {
    async start(ctx) {
      if (ctx.signal.aborted) return;
      const stop = new AbortController();
      const signal = AbortSignal.any([ctx.signal, stop.signal]);
      const { closed } = await open(ctx, signal);
      const session = { stop, closed };
      running.add(session);
      const forget = () => void running.delete(session);
      closed.then(forget, forget);
    },
    async stop() {
      const all = [...running];
      for (const s of all) s.stop.abort();
      await Promise.all(all.map((s) => s.closed));
    },
  };
}

/**
 * Remembers what was reported recently, so a candidate heard many times (every
 * datagram, every copy of a multicast answer) is offered once per window. Bounded:
 * past `max` keys the oldest are forgotten.
 */
export class Recent {
  readonly #at = new Map<string, number>();

  constructor(private readonly windowMs: number, private readonly max = 4096) {}

  /** True when `key` was not seen in the last window (and records it now). */
  fresh(key: string, now = Date.now()): boolean {
    const last = this.#at.get(key);
    if (last !== undefined && now - last < this.windowMs) return false;
    this.#at.delete(key);
    this.#at.set(key, now);
    while (this.#at.size > this.max) this.#at.delete(this.#at.keys().next().value!);
    return true;
  }
}
