// `herd registry`: a rendezvous point for nodes that cannot find each other on a LAN.
// Nodes announce themselves (the `registry` discovery plugin) and list their cluster's
// other nodes. It stores announcements in memory only, with a TTL, bounded per cluster
// and in total, and rate-limits each source address. Like every discovery source it
// is untrusted: a listed node is only a candidate, and joining still needs the token.
//
//   POST /v1/announce  {"id","port","cluster","address"?}  → {"address","ttlMs"}
//   GET  /v1/peers?cluster=<16–64 hex>                     → {"peers":[{id,address,port,cluster}]}
//   GET  /healthz                                          → {"ok":true,"entries":N}
//
// Errors are JSON `{ error: { code, message } }`, as the node API's.

import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import * as v from "valibot";
import { type Clock, systemClock } from "../clock.ts";
import { CLUSTER_FULL, RegistryStore } from "./store.ts";
import { RateLimiter } from "../transport/rate_limit.ts";

export interface RegistryOptions {
  /** How long an announcement lives, ms. @default 30_000 (3 × the default discovery.interval) */
  ttlMs: number;
  /** @default 1_000 */
  maxPerCluster: number;
  /** @default 10_000 */
  maxEntries: number;
  /** Requests per second per source address, after the burst. @default 20 */
  ratePerSecond: number;
  /** @default 60 */
  burst: number;
  /** Source addresses whose rate is tracked; the least recent are forgotten. @default 4_096 */
  maxSources: number;
  /** @default systemClock */
  clock: Clock;
}

export const DEFAULT_REGISTRY_OPTIONS: RegistryOptions = {
  ttlMs: 30_000,
  maxPerCluster: 1_000,
  maxEntries: 10_000,
  ratePerSecond: 20,
  burst: 60,
  maxSources: 4_096,
  clock: systemClock,
};

/** Largest announcement accepted, bytes. */
export const MAX_ANNOUNCE_BYTES = 4096;

const NODE_ID = /^[0-9a-z]{16}$/;
const CLUSTER = /^[0-9a-fA-F]{16,64}$/;
const CLUSTER_PREFIX = 16;

/** An IPv4/IPv6 literal or a DNS name. */
function isHost(s: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return s.split(".").every((o) => Number(o) <= 255);
  if (s.includes(":")) {
    try {
      return /^[0-9a-fA-F:.]+$/.test(s) && new URL(`http://[${s}]/`).hostname.length > 0;
    } catch {
      return false;
    }
  }
  return s.length <= 253 &&
    s.replace(/\.$/, "").split(".").every((l) =>
      /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l)
    );
}

const Announce = v.object({
  id: v.pipe(v.string(), v.regex(NODE_ID, "id must be a node id (16 of [0-9a-z])")),
  port: v.pipe(
    v.number("port must be a number"),
    v.integer("port must be an integer"),
    v.minValue(1, "port must be 1 to 65535"),
    v.maxValue(65535, "port must be 1 to 65535"),
  ),
  cluster: v.pipe(
    v.string(),
    v.regex(CLUSTER, "cluster must be 16 to 64 hex characters of the CA fingerprint"),
  ),
  address: v.optional(
    v.pipe(v.string(), v.check(isHost, "address must be an IP address or a host name")),
  ),
});

const fail = (status: number, code: string, message: string, headers?: HeadersInit) =>
  Response.json({ error: { code, message } }, { status, headers });

/** The address a request came from (Deno.serve's `info`, which hono passes as env). */
function sourceOf(env: unknown): string | undefined {
  const addr = (env as { remoteAddr?: Deno.Addr } | undefined)?.remoteAddr;
  return addr && "hostname" in addr ? addr.hostname.replace(/^::ffff:(?=\d+\.)/, "") : undefined;
}

/** The registry's HTTP app and its store. */
export function createRegistry(options: Partial<RegistryOptions> = {}) {
  const o: RegistryOptions = { ...DEFAULT_REGISTRY_OPTIONS, ...options };
  for (
    const k of [
      "ttlMs",
      "maxPerCluster",
      "maxEntries",
      "ratePerSecond",
      "burst",
      "maxSources",
    ] as const
  ) {
    if (!(o[k] > 0) || !Number.isFinite(o[k])) {
      throw new RangeError(`'${k}' must be > 0: got ${o[k]}`);
    }
  }
  const store = new RegistryStore(o, o.clock);
  const limiter = new RateLimiter({
    ratePerSecond: o.ratePerSecond,
    burst: o.burst,
    maxSources: o.maxSources,
    now: () => o.clock.now(),
  });
  const app = new Hono();

  app.onError((err) => fail(500, "internal", `internal error: ${err.message}`));
  app.notFound((c) => fail(404, "not_found", `no route ${c.req.method} ${c.req.path}`));

  app.get("/healthz", (c) => c.json({ ok: true, entries: store.size }));

  app.use("/v1/*", async (c, next) => {
    const source = sourceOf(c.env) ?? "unknown";
    if (!limiter.take(source)) {
      return fail(429, "rate_limited", `too many requests from ${source}`, {
        "retry-after": String(Math.ceil(1 / o.ratePerSecond)),
      });
    }
    await next();
  });

  app.post(
    "/v1/announce",
    bodyLimit({
      maxSize: MAX_ANNOUNCE_BYTES,
      onError: () =>
        fail(413, "too_large", `an announcement is at most ${MAX_ANNOUNCE_BYTES} bytes`),
    }),
    async (c) => {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        return fail(400, "invalid", "the request body is not JSON");
      }
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        return fail(400, "invalid", "the announcement must be a JSON object");
      }
      const parsed = v.safeParse(Announce, body);
      if (!parsed.success) {
        const issue = parsed.issues[0];
        const path = issue.path?.map((p) => p.key).join(".");
        const missing = path && issue.input === undefined;
        return fail(400, "invalid", missing ? `${path} is missing` : issue.message);
      }
      const a = parsed.output;
      const address = a.address ?? sourceOf(c.env);
      if (!address) return fail(400, "invalid", "no address given and the source is unknown");
      const cluster = a.cluster.toLowerCase().slice(0, CLUSTER_PREFIX);
      const r = store.announce({ id: a.id, address, port: a.port, cluster });
      if (!r.ok) {
        return fail(
          503,
          r.reason,
          r.reason === CLUSTER_FULL
            ? `this cluster has ${o.maxPerCluster} nodes announced already`
            : `the registry holds ${o.maxEntries} nodes already`,
          { "retry-after": String(Math.ceil(o.ttlMs / 1000)) },
        );
      }
      return c.json({ address, ttlMs: o.ttlMs });
    },
  );

  app.get("/v1/peers", (c) => {
    const cluster = c.req.query("cluster") ?? "";
    if (!CLUSTER.test(cluster)) {
      return fail(400, "invalid", "cluster must be 16 to 64 hex characters of the CA fingerprint");
    }
    const peers = store.peers(cluster.toLowerCase().slice(0, CLUSTER_PREFIX))
      .map(({ id, address, port, cluster }) => ({ id, address, port, cluster }));
    return c.json({ peers }, 200, { "cache-control": "no-store" });
  });

  return { app, store, options: o };
}

export interface RunningRegistry {
  /** e.g. http://127.0.0.1:7949 (a wildcard host is shown as given). */
  url: string;
  port: number;
  store: RegistryStore;
  /** Stops accepting, finishes what is in flight, closes the listener. */
  stop(): Promise<void>;
  finished: Promise<void>;
}

/** Serves a registry on hostname:port (0 picks a free port). */
export function serveRegistry(
  listen: { hostname: string; port: number },
  options: Partial<RegistryOptions> = {},
): RunningRegistry {
  const { app, store } = createRegistry(options);
  const server = Deno.serve({
    hostname: listen.hostname,
    port: listen.port,
    onListen: () => {},
  }, app.fetch);
  const addr = server.addr as Deno.NetAddr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    store,
    stop: () => server.shutdown(),
    finished: server.finished,
  };
}
