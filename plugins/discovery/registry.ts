// The `registry` discovery plugin: every interval, announces this node to a herd
// registry (`herd registry`, core/registry/server.ts) at `discovery.registry` with
//   POST <url>/v1/announce  {"id","port","cluster":"<16 hex>","address"?}
// (the registry records the request's source address when no address is given) and
// lists the cluster's other nodes with
//   GET  <url>/v1/peers?cluster=<16 hex>  ->  {"peers":[{"id","address","port","cluster"}]}
// Each request has a deadline; an unreachable registry is logged once per outage.
// A node that has no cluster yet (not joined) has nothing to announce or ask.

import type { Candidate, DiscoveryContext, DiscoveryPlugin } from "../sdk.ts";
import {
  checkCandidate,
  clusterPrefix,
  every,
  NODE_ID_PATTERN,
  OccasionalLog,
  readInterval,
  sessions,
} from "./_common.ts";

/** Longest a request may take (or the interval, when shorter). */
export const REQUEST_TIMEOUT_MS = 5_000;
/** Largest peer list read, bytes; a longer answer is refused. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/** The registry's base URL, or a message when it is not http(s). */
export function registryUrl(text: string): URL | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `'${text}' is not a URL (e.g. http://registry.lan:7949)`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `'${text}': only http and https registries are supported`;
  }
  if (url.search || url.hash) return `'${text}': a registry URL has no query or fragment`;
  return url;
}

/** The peers of a `/v1/peers` answer, as candidates; bad entries go to `rejected`. */
export function parsePeers(
  body: unknown,
  selfId: string,
  rejected: (why: string) => void = () => {},
): Candidate[] {
  const peers = (body as { peers?: unknown })?.peers;
  if (!Array.isArray(peers)) {
    rejected("the answer has no peers list");
    return [];
  }
  const out: Candidate[] = [];
  for (const p of peers) {
    const e = (p ?? {}) as Record<string, unknown>;
    if (typeof e.id !== "string" || !NODE_ID_PATTERN.test(e.id)) {
      rejected(`a peer without a valid id: ${JSON.stringify(p)?.slice(0, 100)}`);
      continue;
    }
    if (e.id === selfId) continue;
    const c = {
      address: e.address,
      port: e.port,
      via: "registry",
      nodeId: e.id,
      ...(e.cluster !== undefined ? { cluster: e.cluster } : {}),
    } as Candidate;
    const wrong = checkCandidate(c);
    if (wrong) rejected(`peer ${e.id}: ${wrong}`);
    else out.push(c);
  }
  return out;
}

/** fetch with a deadline that also ends when `signal` aborts; the body is read whole. */
async function request(
  url: URL,
  init: RequestInit,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ status: number; text: string }> {
  const ac = new AbortController();
  const abort = () => ac.abort();
  const timer = setTimeout(abort, timeoutMs);
  signal.addEventListener("abort", abort);
  try {
    const res = await fetch(url, { ...init, signal: ac.signal });
    const length = Number(res.headers.get("content-length") ?? 0);
    if (length > MAX_RESPONSE_BYTES) {
      await res.body?.cancel();
      throw new Error(`answer too large (${length} bytes)`);
    }
    const text = await res.text();
    if (text.length > MAX_RESPONSE_BYTES) {
      throw new Error(`answer too large (${text.length} bytes)`);
    }
    return { status: res.status, text };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", abort);
  }
}

/** The message of an error answer (`{error:{message}}`), or its status. */
function errorOf(r: { status: number; text: string }): string {
  try {
    const m = JSON.parse(r.text)?.error?.message;
    if (typeof m === "string") return `HTTP ${r.status}: ${m.slice(0, 200)}`;
  } catch { /* not JSON */ }
  return `HTTP ${r.status}`;
}

function open(ctx: DiscoveryContext, signal: AbortSignal) {
  const log = (m: string) => ctx.log(`registry: ${m}`);
  const notes = new OccasionalLog(ctx.log);
  const setting = ctx.config.registry;
  if (typeof setting !== "string" || setting.trim() === "") {
    log("no registry URL set (discovery.registry): nothing to do");
    return Promise.resolve({ closed: Promise.resolve() });
  }
  const base = registryUrl(setting.trim());
  if (typeof base === "string") {
    log(`${base}; not running`);
    return Promise.resolve({ closed: Promise.resolve() });
  }
  const interval = readInterval(ctx);
  const timeoutMs = Math.min(REQUEST_TIMEOUT_MS, interval);
  const prefix = base.pathname.replace(/\/+$/, "");
  const at = (path: string) => new URL(`${base.origin}${prefix}${path}`);
  let down = false;
  let waitingForCluster = false;

  const round = async () => {
    const cluster = clusterPrefix(ctx.self.cluster);
    if (!cluster) {
      if (!waitingForCluster) log("this node has no cluster yet: nothing to announce or ask");
      waitingForCluster = true;
      return;
    }
    waitingForCluster = false;
    const body: Record<string, unknown> = { id: ctx.self.id, port: ctx.self.port, cluster };
    if (ctx.self.address) body.address = ctx.self.address;
    let peers: { status: number; text: string };
    try {
      const announced = await request(
        at("/v1/announce"),
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        },
        timeoutMs,
        signal,
      );
      if (announced.status !== 200) {
        notes.note(
          "announce",
          `registry: ${base.href} refused the announcement: ${errorOf(announced)}`,
        );
      }
      const list = at("/v1/peers");
      list.searchParams.set("cluster", cluster);
      peers = await request(list, { method: "GET" }, timeoutMs, signal);
    } catch (e) {
      if (signal.aborted) return;
      if (!down) {
        log(`cannot reach ${base.href}: ${(e as Error).message} (retrying every interval)`);
      }
      down = true;
      return;
    }
    if (down) log(`${base.href} is reachable again`);
    down = false;
    if (peers.status !== 200) {
      notes.note("peers", `registry: ${base.href} refused the peer list: ${errorOf(peers)}`);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(peers.text);
    } catch {
      notes.note("malformed", `registry: ${base.href} answered the peer list with no JSON`);
      return;
    }
    const reject = (why: string) => notes.note("malformed", `registry: ignoring ${why}`);
    for (const c of parsePeers(parsed, ctx.self.id, reject)) ctx.found(c);
  };

  return Promise.resolve({ closed: every(interval, signal, round, log) });
}

export const plugin = {
  kind: "discovery",
  name: "registry",
  sdk: 1,
  description: "Announces to and lists peers from a herd registry (discovery.registry).",
  ...sessions(open),
} satisfies DiscoveryPlugin;
