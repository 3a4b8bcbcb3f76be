// Public node info on TCP, on the same port number as the QUIC (UDP) endpoint, as Serf
// serves TCP and UDP on 7946. A client connects, sends the line `herd-info/1\n`, and the
// node answers one JSON line and closes:
//
//   {"id":"<node id>","cluster":"<CA sha256, 64 hex>","caPem":"...","version":"0.1.0","port":7946}
//
// Why a second channel: to dial a node over QUIC one must know its node id (the TLS server
// name is `<id>.herd`) and trust its CA, and Deno's QUIC client cannot skip certificate
// verification. Everything here is public: a joiner checks the CA against its token's hash,
// a member checks the cluster fingerprint against its own CA. ACL and the handshake rate
// limit apply before anything is read; sizes and time are bounded.

import * as v from "valibot";
import { NODE_ID_PATTERN } from "../identity/names.ts";
import { certDer, fingerprintDer } from "../identity/verify.ts";
import type { Cancel, Scheduler } from "../membership/scheduler.ts";
import { formatAddress } from "./address.ts";
import { TransportError } from "./errors.ts";

export const INFO_REQUEST = "herd-info/1\n";
/** The longest answer a client reads (a CA PEM is ~700 bytes). */
export const MAX_INFO_BYTES = 16 * 1024;
/** Info requests served at once; more are closed unanswered (and counted as `busy`). */
export const MAX_INFO_CONNECTIONS = 64;

export interface NodeInfo {
  id: string;
  /** SHA-256 of the cluster CA certificate's DER, lower-case hex. */
  cluster: string;
  caPem: string;
  version: string;
  /** The mesh port (QUIC on UDP, this on TCP). */
  port: number;
}

const NodeInfoSchema = v.strictObject({
  id: v.pipe(v.string(), v.regex(NODE_ID_PATTERN)),
  cluster: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
  caPem: v.pipe(v.string(), v.maxLength(8 * 1024)),
  version: v.pipe(v.string(), v.maxLength(64)),
  port: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)),
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** Closes a TCP connection that may already be closed (by a deadline or the peer). */
function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch (e) {
    if (!(e instanceof Deno.errors.BadResource)) throw e; // closed already: nothing to do
  }
}

/** Reads until `stop(bytes)` holds, the peer closes, or `max` bytes. */
async function readUpTo(
  conn: Deno.Conn,
  max: number,
  stop: (bytes: Uint8Array) => boolean,
): Promise<Uint8Array> {
  const buf = new Uint8Array(max);
  let n = 0;
  while (n < max) {
    const got = await conn.read(buf.subarray(n));
    if (got === null) break;
    n += got;
    if (stop(buf.subarray(0, n))) break;
  }
  return buf.subarray(0, n);
}

const hasNewline = (b: Uint8Array) => b.includes(10);

export interface InfoServerOptions {
  listener: Deno.TcpListener;
  info: NodeInfo;
  /** ACL and rate limit for a source host; counts and logs a refusal itself. */
  admit(host: string): boolean;
  /** A request was closed unanswered: MAX_INFO_CONNECTIONS were being served. */
  busy(host: string): void;
  /** Longest a client may take to send its request. */
  timeoutMs: number;
  scheduler: Scheduler;
  served(): void;
  log(line: string): void;
}

/** Answers info requests until `close()`. */
export class InfoServer {
  readonly #o: InfoServerOptions;
  readonly #answer: Uint8Array;
  readonly #active = new Set<Deno.Conn>();
  readonly #handlers = new Set<Promise<void>>();
  readonly #loop: Promise<void>;
  #closing = false;

  constructor(o: InfoServerOptions) {
    this.#o = o;
    this.#answer = encoder.encode(JSON.stringify(o.info) + "\n");
    this.#loop = this.#acceptLoop();
  }

  async close(): Promise<void> {
    this.#closing = true;
    try {
      this.#o.listener.close();
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
    for (const c of this.#active) closeQuietly(c);
    await this.#loop;
    await Promise.all(this.#handlers);
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#o.listener.accept();
      } catch (e) {
        if (this.#closing) return;
        // accept fails for a connection reset before it was taken, or for too many open
        // files: log it and go on; a closed listener ends the loop.
        this.#o.log(`herd: info listener: ${e instanceof Error ? e.message : e}`);
        if (e instanceof Deno.errors.BadResource) return;
        continue;
      }
      const host = (conn.remoteAddr as Deno.NetAddr).hostname;
      if (this.#active.size >= MAX_INFO_CONNECTIONS) {
        this.#o.busy(host);
        closeQuietly(conn);
        continue;
      }
      if (!this.#o.admit(host)) {
        closeQuietly(conn);
        continue;
      }
      this.#active.add(conn);
      const h: Promise<void> = this.#serve(conn).finally(() => {
        this.#active.delete(conn);
        closeQuietly(conn);
        this.#handlers.delete(h);
      });
      this.#handlers.add(h);
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const cancel: Cancel = this.#o.scheduler.after(this.#o.timeoutMs, () => closeQuietly(conn));
    try {
      const request = await readUpTo(conn, INFO_REQUEST.length, hasNewline);
      if (decoder.decode(request) !== INFO_REQUEST) return; // not ours: close, say nothing
      await writeAll(conn, this.#answer);
      this.#o.served();
    } catch (e) {
      // The client went away or the deadline closed the connection: nothing to answer.
      if (this.#closing || isConnectionGone(e)) return;
      this.#o.log(`herd: info request: ${e instanceof Error ? e.message : e}`);
    } finally {
      cancel();
    }
  }
}

const isConnectionGone = (e: unknown): boolean =>
  e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted ||
  e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BrokenPipe ||
  e instanceof Deno.errors.NotConnected;

export interface FetchInfoOptions {
  /** Aborts the request (the transport closing). */
  signal?: AbortSignal;
}

/**
 * Asks the node at host:port for its info. Throws TransportError if it cannot be reached
 * within `timeoutMs` or its answer is not valid node info (including a CA whose hash is
 * not the cluster fingerprint it claims).
 */
export async function fetchInfo(
  host: string,
  port: number,
  timeoutMs: number,
  opts: FetchInfoOptions = {},
): Promise<NodeInfo> {
  const where = formatAddress(host, port);
  const ac = new AbortController();
  const abort = () => ac.abort();
  const timer = setTimeout(abort, timeoutMs);
  opts.signal?.addEventListener("abort", abort);
  let conn: Deno.Conn | undefined;
  let text: string;
  try {
    conn = await Deno.connect({ hostname: host, port, signal: ac.signal });
    const c = conn;
    ac.signal.addEventListener("abort", () => closeQuietly(c));
    await writeAll(conn, encoder.encode(INFO_REQUEST));
    text = decoder.decode(await readUpTo(conn, MAX_INFO_BYTES, hasNewline));
  } catch (e) {
    const why = ac.signal.aborted
      ? (opts.signal?.aborted ? "cancelled" : `no answer within ${timeoutMs} ms`)
      : (e instanceof Error ? e.message : String(e));
    throw new TransportError(`cannot get node info from ${where}: ${why}`, {
      hint: "check that a herd node runs there and that its TCP port is reachable",
      cause: e,
    });
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", abort);
    if (conn) closeQuietly(conn);
  }
  return parseInfo(text, where);
}

/** Validates an info answer (one JSON line). Throws TransportError naming `where`. */
export function parseInfo(text: string, where: string): NodeInfo {
  const notHerd = (why: string, cause?: unknown) =>
    new TransportError(`${where} did not answer with herd node info: ${why}`, {
      hint: "is that the mesh port of a herd node?",
      cause,
    });
  const line = text.endsWith("\n") ? text.slice(0, -1) : text;
  if (line.includes("\n") || line.length === 0) throw notHerd("not one line");
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (e) {
    if (e instanceof SyntaxError) throw notHerd("not JSON", e);
    throw e;
  }
  const parsed = v.safeParse(NodeInfoSchema, json);
  if (!parsed.success) throw notHerd(parsed.issues[0]?.message ?? "invalid");
  const der = certDer(parsed.output.caPem);
  if (!der || fingerprintDer(der) !== parsed.output.cluster) {
    throw notHerd("its CA certificate does not have the cluster fingerprint it claims");
  }
  return parsed.output;
}
