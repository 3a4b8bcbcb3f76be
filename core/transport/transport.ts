// The mesh transport: one QUIC endpoint on one UDP port, used both to listen and to dial
// (so a NAT mapping is shared by both directions), and the node info service on TCP on the
// same port number. It carries membership messages between authenticated members:
//
// - send(address, msg): fire and forget. The peer's node id comes from membership
//   (`resolve`), else from its info (fetchInfo, cached). A message rides one QUIC datagram
//   when `channelOf` says so and it fits; otherwise a unidirectional stream of its own.
// - onMessage(handler): only messages on authenticated connections, validated by the codec,
//   whose claimed sender is the authenticated peer, reach the handler.
// - Every connection starts with mutual authentication (auth.ts) on its first bidirectional
//   stream, or is a join (join.ts). Until then it gets nothing but a refusal.
// - Before any work on an incoming connection or info request: the ACL and the per-source
//   handshake rate limit. (For QUIC this is right after the TLS handshake: Deno 2.9's
//   QuicIncoming consumes the connection when its address is read, so the address cannot
//   be checked before accepting. docs/transport.md has the details.)
//
// Nothing a peer sends makes this throw: every failure is counted in `stats` and logged at
// most once per peer and kind per minute.

import { cryptoRandom, type RandomBytes } from "../clock.ts";
import { ConfigError } from "../errors.ts";
import { isNodeId, nodeDnsName } from "../identity/names.ts";
import {
  type Channel,
  channelOf,
  type Message,
  MessageType,
  type NodeRef,
} from "../membership/messages.ts";
import { realScheduler, type Scheduler, TimerGroup } from "../membership/scheduler.ts";
import { VERSION } from "../version.ts";
import type { HerdConfig } from "../config.ts";
import { Acl } from "./acl.ts";
import { addressOf, formatAddress, parseAddress } from "./address.ts";
import {
  type AuthContext,
  authenticateAsDialer,
  authenticateAsServer,
  type LocalIdentity,
} from "./auth.ts";
import { ControlChannel, ProtocolError, TransportRefusal } from "./channel.ts";
import { decodeMessage, encodeMessage } from "./codec.ts";
import { ALPN, ControlType } from "./control.ts";
import { TransportError } from "./errors.ts";
import { fetchInfo, InfoServer, type NodeInfo } from "./info.ts";
import { type JoinHandler, serveJoin } from "./join.ts";
import { CloseCode, type DropKind, type Lane, Link, type LinkHooks } from "./link.ts";
import { ConnectionPool, type DropReason } from "./pool.ts";
import { TicketStore } from "./tickets.ts";
import { RateLimiter, sourceKey } from "./rate_limit.ts";
import { countBy, newTransportStats, type TransportStats } from "./stats.ts";

export {
  type JoinGrant,
  type JoinHandler,
  type JoinResult,
  requestJoin,
  type RequestJoinOptions,
} from "./join.ts";

/** Messages waiting for one dial; past it, new ones are dropped. */
export const MAX_QUEUED_PER_DIAL = 64;
/** Dials under way at once (each to a distinct address). */
export const MAX_PENDING_DIALS = 256;
/** Address → node id entries learned from info answers and authenticated senders. */
export const MAX_KNOWN_ADDRESSES = 4_096;
/** Incoming connections in their TLS handshake or not yet authenticated, at once; more are refused. */
export const MAX_UNAUTHENTICATED = 256;
/** transport.joinTimeout's default, for settings made without it. */
const DEFAULT_JOIN_TIMEOUT_MS = 15_000;
/** How long a refused, joined or replaced connection stays open for its last bytes to land. */
export const LINGER_MS = 1_000;
/** Attempts to find a port free on both UDP and TCP when asked for port 0. */
export const BIND_ATTEMPTS = 8;
/** One log line per peer and kind of trouble per this period. */
export const LOG_INTERVAL_MS = 60_000;
/** Unidirectional streams a peer may hold open to us (two lanes, and room to replace one). */
export const MAX_INCOMING_STREAMS = 4;
/** `transport.authTimeout`'s default, for settings made without the config. */
export const AUTH_TIMEOUT_MS = 10_000;

/** The transport's settings, resolved (see core/config.ts for meanings and defaults). */
export interface TransportSettings {
  maxConnections: number;
  idleTimeoutMs: number;
  dialTimeoutMs: number;
  /**
   * How long the authentication may take once the QUIC handshake is done, on both ends
   * (default AUTH_TIMEOUT_MS). Longer than a dial: the peer answered, and a busy one
   * answers late; giving up throws away the signatures both ends already made.
   */
  authTimeoutMs?: number;
  /** How long a join connection may take to be answered (default 15 s). */
  joinTimeoutMs?: number;
  maxMessageBytes: number;
  handshakeRate: number;
  handshakeBurst: number;
  allow: readonly string[];
  deny: readonly string[];
}

/** The settings from a resolved configuration. */
export const transportSettings = (c: HerdConfig): TransportSettings => ({
  maxConnections: c["transport.maxConnections"],
  idleTimeoutMs: c["transport.idleTimeout"],
  dialTimeoutMs: c["transport.dialTimeout"],
  authTimeoutMs: c["transport.authTimeout"],
  joinTimeoutMs: c["transport.joinTimeout"],
  maxMessageBytes: c["transport.maxMessageBytes"],
  handshakeRate: c["transport.handshakeRate"],
  handshakeBurst: c["transport.handshakeBurst"],
  allow: c["transport.allow"],
  deny: c["transport.deny"],
});

export interface TransportOptions {
  /** Address to bind (`mesh.host`); the same for UDP and TCP. */
  host: string;
  /** `mesh.port`; 0 picks a port free on both UDP and TCP. */
  port: number;
  identity: LocalIdentity;
  settings: TransportSettings;
  /** Wall clock, ms since the epoch: certificate validity, join timestamps. */
  now(): number;
  /** @default {cryptoRandom} */
  random?: RandomBytes;
  /** One line per event worth a person's attention (already rate-limited). */
  log(line: string): void;
  /**
   * The live member membership knows at this host:port, if any. Skip failed and left
   * members: a new node may take a dead one's address, and a message from it claiming
   * that address would otherwise be refused as spoofed.
   */
  resolve(address: string): string | undefined;
  /** Answers joins; without it a join is refused (`join-unavailable`). */
  join?: JoinHandler;
  /** Timers (deadlines, idle, linger). @default {realScheduler} */
  scheduler?: Scheduler;
  /** Shown in node info. @default {VERSION} */
  version?: string;
}

export interface Sender {
  /** The authenticated peer. */
  id: string;
  /** Where its connection comes from (or what we dialed): host:port. */
  address: string;
}

export type MessageHandler = (from: Sender, msg: Message) => void;

interface Outgoing {
  bytes: Uint8Array;
  channel: Channel;
  lane: Lane;
}

/** Wire code → name, for the per-type counters. */
const TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(MessageType).map(([name, code]) => [code, name]),
);

/** Full-state exchanges take the bulk lane, so they never delay a reliable ping. */
const laneOf = (msg: Message): Lane =>
  msg.type === MessageType.PushPullRequest || msg.type === MessageType.PushPullResponse ||
    (msg.type === MessageType.App && msg.bulk)
    ? "bulk"
    : "express";

function checkSettings(s: TransportSettings): void {
  const positive: Array<[string, number]> = [
    ["transport.idleTimeout", s.idleTimeoutMs],
    ["transport.dialTimeout", s.dialTimeoutMs],
    ["transport.authTimeout", s.authTimeoutMs ?? AUTH_TIMEOUT_MS],
    ["transport.maxMessageBytes", s.maxMessageBytes],
    ["transport.handshakeRate", s.handshakeRate],
    ["transport.handshakeBurst", s.handshakeBurst],
  ];
  for (const [name, value] of positive) {
    if (!(value > 0) || !Number.isFinite(value)) {
      throw new ConfigError(`'${name}' must be > 0: got ${value}`);
    }
  }
}

export class Transport {
  readonly stats: TransportStats = newTransportStats();
  /** The mesh port (UDP and TCP). */
  readonly port: number;
  /** What the info service tells anyone who asks. */
  readonly info: NodeInfo;

  readonly #o: TransportOptions;
  readonly #s: TransportSettings;
  readonly #self: LocalIdentity;
  readonly #endpoint: Deno.QuicEndpoint;
  readonly #listener: Deno.QuicListener;
  readonly #infoServer: InfoServer;
  readonly #acl: Acl;
  readonly #handshakes: RateLimiter;
  readonly #logLimit: RateLimiter;
  readonly #timers: TimerGroup;
  readonly #pool: ConnectionPool<Link>;
  readonly #hooks: LinkHooks;
  readonly #auth: AuthContext;
  readonly #links = new Set<Link>();
  /** host:port → node id, learned from info answers and authenticated senders. */
  readonly #known = new Map<string, string>();
  readonly #pending = new Map<string, Outgoing[]>();
  readonly #dialsById = new Map<string, Promise<Link>>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  readonly #acceptLoop: Promise<void>;
  #handler: MessageHandler | undefined;
  #unauthenticated = 0;
  #closing = false;
  #closed: Promise<void> | undefined;

  /**
   * Binds the mesh port (UDP for QUIC, TCP for info) and starts accepting. Rejects with
   * ConfigError for bad settings, TransportError if the port cannot be bound.
   */
  // deno-lint-ignore require-await -- async so that every failure is a rejection
  static async listen(o: TransportOptions): Promise<Transport> {
    checkSettings(o.settings);
    const acl = Acl.parse(o.settings.allow, o.settings.deny);
    if (!isNodeId(o.identity.nodeId)) {
      throw new ConfigError(`the node id "${o.identity.nodeId}" is not a node id`);
    }
    const { endpoint, tcp } = bind(o.host, o.port);
    try {
      return new Transport(o, acl, endpoint, tcp);
    } catch (e) {
      // The listener refused our certificate or key: free the port before saying so.
      endpoint.close();
      tcp.close();
      throw new TransportError(`cannot listen with this node's certificate: ${errorText(e)}`, {
        hint: "the node certificate or key in the data dir is unusable: rejoin the cluster",
        cause: e,
      });
    }
  }

  private constructor(
    o: TransportOptions,
    acl: Acl,
    endpoint: Deno.QuicEndpoint,
    tcp: Deno.TcpListener,
  ) {
    this.#o = o;
    this.#s = o.settings;
    this.#self = o.identity;
    this.#acl = acl;
    this.#endpoint = endpoint;
    this.port = endpoint.addr.port;
    const scheduler = o.scheduler ?? realScheduler;
    this.#timers = new TimerGroup(scheduler);
    this.#handshakes = new RateLimiter({
      ratePerSecond: this.#s.handshakeRate,
      burst: this.#s.handshakeBurst,
      now: () => scheduler.now(),
    });
    this.#logLimit = new RateLimiter({
      ratePerSecond: 1000 / LOG_INTERVAL_MS,
      burst: 1,
      now: () => scheduler.now(),
    });
    this.#pool = new ConnectionPool<Link>({
      maxConnections: this.#s.maxConnections,
      idleTimeoutMs: this.#s.idleTimeoutMs,
      scheduler: this.#timers,
      onDrop: (id, link, why) => this.#released(id, link, why),
    });
    const random = o.random ?? cryptoRandom;
    this.#auth = {
      self: o.identity,
      now: o.now,
      random,
      tickets: new TicketStore(o.now, random),
    };
    this.#listener = endpoint.listen({
      cert: o.identity.certPem,
      key: o.identity.keyPem,
      alpnProtocols: ALPN,
      ...this.#quicOptions(),
    });
    this.info = {
      id: o.identity.nodeId,
      cluster: o.identity.ca.fingerprint,
      caPem: o.identity.ca.pem,
      version: o.version ?? VERSION,
      port: this.port,
    };
    this.#infoServer = new InfoServer({
      listener: tcp,
      info: this.info,
      admit: (host) => this.#admit(host, "info"),
      busy: (host) => {
        this.stats.rateLimited++;
        this.#log("busy", "info", `herd: refused ${host} (info): too many requests at once`);
      },
      timeoutMs: this.#s.dialTimeoutMs,
      scheduler: this.#timers,
      served: () => this.stats.infoServed++,
      log: (line) => this.#log("info", "local", line),
    });
    this.#hooks = this.#makeHooks();
    this.#acceptLoop = this.#accept();
  }

  /** The handler of every authenticated, valid message (one handler; a new one replaces it). */
  onMessage(handler: MessageHandler): void {
    this.#handler = handler;
  }

  /** Fire and forget: failures are counted (`sendErrors`, `dialFailures`) and logged. */
  send(address: string, msg: Message): void {
    if (this.#closing) return;
    let bytes: Uint8Array;
    try {
      bytes = encodeMessage(msg);
    } catch (e) {
      // Our own message could not be encoded (a cycle, a BigInt): a bug upstream.
      this.stats.sendErrors++;
      this.#log("encode", address, `herd: cannot encode a message of type ${msg.type}: ${e}`);
      return;
    }
    if (bytes.length > this.#s.maxMessageBytes) {
      this.stats.sendErrors++;
      this.#log(
        "too-large",
        address,
        `herd: not sending a message of ${bytes.length} bytes to ${address}: over transport.maxMessageBytes`,
      );
      return;
    }
    const type = TYPE_NAMES[msg.type] ?? String(msg.type);
    countBy(this.stats.sentByType, type);
    this.stats.bytesSentByType[type] = (this.stats.bytesSentByType[type] ?? 0) + bytes.length;
    const out: Outgoing = { bytes, channel: channelOf(msg), lane: laneOf(msg) };
    const id = this.#idOf(address);
    const link = id === undefined ? undefined : this.#pool.get(id);
    if (link && id !== undefined) {
      this.#pool.touch(id, link);
      link.send(out.bytes, out.channel, out.lane);
      return;
    }
    this.#sendAfterDial(address, out);
  }

  /**
   * Opens a connection to `address` ahead of use, if there is none and no dial under way.
   * Membership warms its next probe target: a handshake (a few ms, much more on a busy
   * machine) inside a probe's timeout would fail the probe and accuse a live member.
   */
  warm(address: string): void {
    if (this.#closing || this.#pending.has(address)) return;
    const id = this.#idOf(address);
    if (id !== undefined && this.#pool.get(id)) return;
    if (this.#pending.size >= MAX_PENDING_DIALS) return;
    const waiting: Outgoing[] = [];
    this.#pending.set(address, waiting);
    this.#track(this.#connectAndFlush(address, waiting));
  }

  /** Closes every connection to node `id` (a revoked member): its next dial is refused. */
  disconnect(id: string, reason: string): void {
    for (const link of this.#links) {
      if (link.peerId !== id) continue;
      this.#pool.remove(id, link);
      link.close(CloseCode.Refused, reason);
    }
    this.stats.pooled = this.#pool.size;
  }

  /** Closes every connection and both listeners; resolves when nothing is left running. */
  close(): Promise<void> {
    return this.#closed ??= this.#shutdown();
  }

  /** Node ids with a pooled (authenticated) connection. */
  connectedPeers(): string[] {
    return this.#pool.ids();
  }

  // ── sending ───────────────────────────────────────────────────────────────

  get #authTimeoutMs(): number {
    return this.#s.authTimeoutMs ?? AUTH_TIMEOUT_MS;
  }

  #idOf(address: string): string | undefined {
    return this.#o.resolve(address) ?? this.#known.get(address);
  }

  #remember(address: string, id: string): void {
    if (this.#known.get(address) === id) return;
    this.#known.delete(address);
    if (this.#known.size >= MAX_KNOWN_ADDRESSES) {
      this.#known.delete(this.#known.keys().next().value!);
    }
    this.#known.set(address, id);
  }

  #sendAfterDial(address: string, out: Outgoing): void {
    const queue = this.#pending.get(address);
    if (queue) {
      if (queue.length >= MAX_QUEUED_PER_DIAL) this.stats.sendQueueDropped++;
      else queue.push(out);
      return;
    }
    if (this.#pending.size >= MAX_PENDING_DIALS) {
      this.stats.sendQueueDropped++;
      this.#log("dials", "local", `herd: ${MAX_PENDING_DIALS} dials under way: dropping sends`);
      return;
    }
    const waiting = [out];
    this.#pending.set(address, waiting);
    this.#track(this.#connectAndFlush(address, waiting));
  }

  async #connectAndFlush(address: string, waiting: Outgoing[]): Promise<void> {
    try {
      const link = await this.#connect(address);
      if (link.peerId !== undefined) this.#pool.touch(link.peerId, link);
      for (const out of waiting) link.send(out.bytes, out.channel, out.lane);
    } catch (e) {
      this.stats.sendErrors += waiting.length;
      if (this.#closing) return;
      if (!(e instanceof TransportError)) throw e;
      this.#log("dial", address, `herd: cannot reach ${address}: ${e.message}`);
    } finally {
      this.#pending.delete(address);
    }
  }

  /** The authenticated link to the node at `address`, dialing it if needed. */
  async #connect(address: string): Promise<Link> {
    const hp = parseAddress(address);
    if (!hp) throw new TransportError(`"${address}" is not host:port`);
    let id = this.#idOf(address);
    if (id === undefined) {
      this.stats.infoFetches++;
      let info: NodeInfo;
      try {
        info = await fetchInfo(hp.host, hp.port, this.#s.dialTimeoutMs, {
          signal: this.#abort.signal,
        });
      } catch (e) {
        this.stats.infoFetchFailures++;
        throw e;
      }
      if (info.cluster !== this.#self.ca.fingerprint) {
        countBy(this.stats.authRefused, TransportRefusal.OtherCluster);
        throw new TransportError(
          `${address} is node ${info.id} of another cluster (CA sha256:${
            info.cluster.slice(0, 12)
          })`,
        );
      }
      id = info.id;
      this.#remember(address, id);
    }
    if (id === this.#self.nodeId) throw new TransportError(`${address} is this node itself`);
    const pooled = this.#pool.get(id);
    if (pooled) return pooled;
    let dial = this.#dialsById.get(id);
    if (!dial) {
      const peerId = id;
      dial = this.#dial(hp.host, hp.port, address, peerId).finally(() =>
        this.#dialsById.delete(peerId)
      );
      this.#dialsById.set(peerId, dial);
    }
    return await dial;
  }

  async #dial(host: string, port: number, address: string, id: string): Promise<Link> {
    this.stats.dials++;
    let conn: Deno.QuicConn;
    try {
      conn = await this.#deadline(
        Deno.connectQuic<false>({
          endpoint: this.#endpoint,
          hostname: host,
          port,
          serverName: nodeDnsName(id),
          caCerts: [this.#self.ca.pem],
          alpnProtocols: ALPN,
          ...this.#quicOptions(),
        }),
        this.#s.dialTimeoutMs,
        (late) => late.close({ closeCode: CloseCode.Normal, reason: "dial abandoned" }),
      );
    } catch (e) {
      this.stats.dialFailures++;
      // Maybe another node answers at this address now: ask its info next time.
      this.#known.delete(address);
      throw new TransportError(`QUIC connection to ${id} failed: ${errorText(e)}`, { cause: e });
    }
    const link = this.#newLink(conn, "dialer", address);
    let timedOut = false;
    link.cancelDeadline = this.#timers.after(this.#authTimeoutMs, () => {
      timedOut = true;
      link.close(CloseCode.Refused, TransportRefusal.Timeout);
    });
    try {
      const channel = new ControlChannel(await conn.createBidirectionalStream());
      // The server may send as soon as it has verified us: accept its messages from the
      // moment its proof checks out.
      const outcome = await authenticateAsDialer(channel, id, this.#auth, (peerId) => {
        link.peerId = peerId;
      });
      if (!outcome.ok) {
        link.peerId = undefined;
        this.#refused(link, outcome.reason, outcome.detail, outcome.byPeer, id);
        this.#finish(link, outcome.reason, outcome.byPeer);
        throw new TransportError(`${id} refused: ${outcome.reason}`);
      }
      await channel.finish();
      if (outcome.resumed) this.stats.authResumed++;
      this.#authenticated(link, id);
      return link;
    } catch (e) {
      this.stats.dialFailures++;
      if (e instanceof TransportError) throw e;
      const reason = timedOut
        ? TransportRefusal.Timeout
        : e instanceof ProtocolError
        ? e.reason
        : TransportRefusal.Closed;
      this.#refused(link, reason, errorText(e), false, id);
      link.close(CloseCode.Refused, reason);
      throw new TransportError(`authenticating ${id} failed: ${reason}`, { cause: e });
    }
  }

  /** `p`, or a rejection after `ms`; a value that arrives late goes to `late` (to close it). */
  #deadline<T>(p: Promise<T>, ms: number, late: (value: T) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let expired = false;
      const cancel = this.#timers.after(ms, () => {
        expired = true;
        reject(new Error(`no answer within ${ms} ms`));
      });
      p.then(
        (value) => {
          cancel();
          if (expired) late(value);
          else resolve(value);
        },
        (e) => {
          cancel();
          if (!expired) reject(e);
        },
      );
    });
  }

  // ── accepting ─────────────────────────────────────────────────────────────

  /**
   * Takes incoming connections; each TLS handshake runs on its own (a client that stalls
   * its handshake must not hold up the others), within dialTimeout, and at most
   * MAX_UNAUTHENTICATED connections are in a handshake or unauthenticated at once.
   */
  async #accept(): Promise<void> {
    for (;;) {
      let incoming: Deno.QuicIncoming;
      try {
        incoming = await this.#listener.incoming();
      } catch (e) {
        if (this.#closing) return;
        this.#o.log(`herd: the QUIC listener stopped: ${errorText(e)}`);
        return;
      }
      // No getter of `incoming` may be read: in Deno 2.9 reading one (even remoteAddr)
      // consumes it, and the connection can then only be refused.
      if (this.#closing || this.#unauthenticated >= MAX_UNAUTHENTICATED) {
        if (!this.#closing) {
          this.stats.rateLimited++;
          this.#log("busy", "any", `herd: ${MAX_UNAUTHENTICATED} connections authenticating`);
        }
        incoming.refuse();
        continue;
      }
      this.#unauthenticated++;
      this.#track(this.#handshake(incoming));
    }
  }

  async #handshake(incoming: Deno.QuicIncoming): Promise<void> {
    let settled = false;
    const settle = () => {
      if (!settled) this.#unauthenticated--;
      settled = true;
    };
    let conn: Deno.QuicConn;
    try {
      conn = await this.#deadline(
        incoming.accept<false>(),
        this.#s.dialTimeoutMs,
        (late) => late.close({ closeCode: CloseCode.Refused, reason: TransportRefusal.Timeout }),
      );
    } catch (e) {
      settle();
      if (this.#closing) return;
      // A failed TLS handshake (wrong name, unknown CA, garbage) or one that took too long.
      this.stats.handshakeFailures++;
      this.#log("handshake", "any", `herd: a QUIC handshake failed: ${errorText(e)}`);
      return;
    }
    this.#accepted(conn, settle);
  }

  /** A connection past its TLS handshake: ACL, rate limit, then authentication within authTimeout. */
  #accepted(conn: Deno.QuicConn, settle: () => void): void {
    this.stats.accepted++;
    const remote = conn.remoteAddr;
    if (this.#closing || !this.#admit(remote.hostname, "quic")) {
      settle();
      conn.close({ closeCode: CloseCode.Refused, reason: "refused" });
      return;
    }
    const link = this.#newLink(conn, "server", addressOf(remote));
    const deadline = this.#timers.after(this.#authTimeoutMs, () => {
      settle();
      if (link.peerId !== undefined || link.isClosed) return;
      this.#refused(
        link,
        TransportRefusal.Timeout,
        `not authenticated within ${this.#authTimeoutMs} ms`,
        false,
      );
      link.close(CloseCode.Refused, TransportRefusal.Timeout);
    });
    link.cancelDeadline = () => {
      settle();
      deadline();
    };
  }

  /** ACL, then the handshake rate limit, for a source host. Counts and logs refusals. */
  #admit(host: string, what: "quic" | "info"): boolean {
    const verdict = this.#acl.check(host);
    if (verdict !== "allowed") {
      this.stats.aclRefused++;
      this.#log("acl", host, `herd: refused ${host} (${what}): ${verdict} by transport ACL`);
      return false;
    }
    if (!this.#handshakes.take(sourceKey(host))) {
      this.stats.rateLimited++;
      this.#log("rate", host, `herd: refused ${host} (${what}): handshake rate limit`);
      return false;
    }
    return true;
  }

  /** The first bidirectional stream of an incoming connection: authentication or a join. */
  async #serveFirstStream(link: Link, stream: Deno.QuicBidirectionalStream): Promise<void> {
    const channel = new ControlChannel(stream);
    let claimed: string | undefined;
    try {
      const first = await channel.read();
      if (first.type === ControlType.AuthHello) {
        claimed = first.id;
        // Authenticated (pooled) before AuthOk goes out: the dialer may send at once.
        const outcome = await authenticateAsServer(
          channel,
          first,
          this.#auth,
          (peerId) => this.#authenticated(link, peerId),
        );
        if (outcome.ok) {
          if (outcome.resumed) this.stats.authResumed++;
          return await channel.finish();
        }
        await channel.finish();
        this.#refused(link, outcome.reason, outcome.detail, outcome.byPeer, claimed);
        return this.#finish(link, outcome.reason, outcome.byPeer);
      }
      if (first.type === ControlType.JoinHello) {
        // A join may take longer than a dial: issuing its certificate waits its turn
        // behind the other joins (many machines started at once).
        link.cancelDeadline();
        const joinMs = this.#s.joinTimeoutMs ?? DEFAULT_JOIN_TIMEOUT_MS;
        link.cancelDeadline = this.#timers.after(joinMs, () => {
          if (link.isClosed) return;
          this.#refused(link, TransportRefusal.Timeout, `join not done within ${joinMs} ms`, false);
          link.close(CloseCode.Refused, TransportRefusal.Timeout);
        });
        const grant = await serveJoin(channel, {
          handler: this.#o.join,
          remoteAddress: link.address,
          log: (line) => this.#o.log(line),
        });
        if (grant.ok) {
          this.stats.joinsGranted++;
          this.#o.log(`herd: granted a join from ${link.address}`);
        } else {
          this.stats.joinsRefused++;
          countBy(this.stats.joinRefusedByReason, grant.reason);
          this.#log(
            "join",
            link.address,
            `herd: refused join from ${link.address}: ${grant.reason}: ${grant.detail}`,
          );
        }
        await channel.finish();
        // A join connection never carries membership traffic: close once it is read.
        return this.#linger(link, CloseCode.Normal, "joined");
      }
      throw new ProtocolError(TransportRefusal.Protocol, `control frame ${first.type} first`);
    } catch (e) {
      if (link.isClosed) return; // the deadline or the peer ended it (counted there)
      if (!(e instanceof ProtocolError)) throw e;
      this.#refused(link, e.reason, e.detail, false, claimed);
      if (link.peerId !== undefined) {
        // Broke the protocol after authenticating: nothing to say, just close.
        return link.close(CloseCode.Refused, e.reason);
      }
      try {
        await channel.send({ type: ControlType.Refused, reason: e.reason });
        await channel.finish();
      } catch (sendError) {
        // The peer may have gone already; the refusal is counted either way.
        if (!link.isClosed) throw sendError;
      }
      this.#linger(link, CloseCode.Refused, e.reason);
    }
  }

  // ── connections ───────────────────────────────────────────────────────────

  #quicOptions() {
    return {
      // The app closes idle connections (pool); QUIC's own idle timeout is the backstop
      // for a peer that vanished, and bounds a handshake that never completes.
      maxIdleTimeout: this.#s.idleTimeoutMs + this.#s.dialTimeoutMs,
      // One at a time: only the first stream means something (auth or join).
      maxConcurrentBidirectionalStreams: 1,
      maxConcurrentUnidirectionalStreams: MAX_INCOMING_STREAMS,
    };
  }

  #newLink(conn: Deno.QuicConn, role: "dialer" | "server", address: string): Link {
    const link = new Link(conn, role, address, this.#hooks);
    this.#links.add(link);
    this.stats.connectionsOpen = this.#links.size;
    if (this.#closing) link.close(CloseCode.Shutdown, "shutting down");
    return link;
  }

  #authenticated(link: Link, peerId: string): void {
    link.cancelDeadline();
    if (link.isClosed) return;
    link.peerId = peerId;
    // Replies to this peer's address go to this peer.
    if (this.#o.resolve(link.address) === undefined) this.#remember(link.address, peerId);
    this.#pool.add(peerId, link);
    this.stats.pooled = this.#pool.size;
  }

  /** The pool let a connection go. */
  #released(_id: string, link: Link, why: DropReason): void {
    this.stats.pooled = this.#pool.size;
    if (why === "evicted") this.stats.evictions++;
    else if (why === "idle") this.stats.idleClosed++;
    else this.stats.replaced++;
    // A replaced connection may still bring messages the peer sent before it switched.
    if (why === "replaced") this.#linger(link, CloseCode.Released, why);
    else link.close(CloseCode.Released, why);
  }

  /**
   * Ends a refused connection: at once if the peer refused (we read its last word), else
   * after a linger, so our refusal reaches it before the connection closes.
   */
  #finish(link: Link, reason: string, byPeer: boolean): void {
    if (byPeer) link.close(CloseCode.Refused, reason);
    else this.#linger(link, CloseCode.Refused, reason);
  }

  /** Closes `link` once the peer has closed it or LINGER_MS passed (its last bytes land). */
  #linger(link: Link, code: CloseCode, reason: string): void {
    if (link.isClosed) return;
    link.cancelDeadline();
    const cancel = this.#timers.after(
      Math.min(LINGER_MS, this.#s.dialTimeoutMs),
      () => link.close(code, reason),
    );
    link.cancelDeadline = cancel;
  }

  #makeHooks(): LinkHooks {
    return {
      stats: this.stats,
      maxMessageBytes: this.#s.maxMessageBytes,
      received: (link, bytes) => this.#received(link, bytes),
      dropped: (link, kind) => this.#dropped(link, kind),
      firstBidi: (link, stream) => this.#track(this.#serveFirstStream(link, stream)),
      failed: (link, what, e) => {
        this.stats.unexpectedErrors++;
        this.#log("link", link.address, `herd: connection ${describe(link)}: ${what}: ${e}`);
        link.close(CloseCode.Error, what);
      },
      closed: (link) => {
        link.cancelDeadline();
        this.#links.delete(link);
        this.stats.connectionsOpen = this.#links.size;
        if (link.peerId !== undefined && this.#pool.remove(link.peerId, link)) {
          this.stats.pooled = this.#pool.size;
        }
      },
    };
  }

  #dropped(link: Link, kind: DropKind): void {
    if (kind === "unauthenticated" || link.peerId === undefined) {
      this.stats.unauthenticatedDropped++;
      return;
    }
    const reason = kind === "too-large" ? "too-large" : "malformed";
    this.stats.decodeErrors++;
    countBy(this.stats.decodeErrorsByReason, reason);
    this.#log("decode", link.address, `herd: dropped a stream from ${describe(link)}: ${kind}`);
  }

  // ── receiving ─────────────────────────────────────────────────────────────

  #received(link: Link, bytes: Uint8Array): void {
    const peerId = link.peerId;
    if (peerId === undefined) {
      this.stats.unauthenticatedDropped++;
      return;
    }
    const d = decodeMessage(bytes);
    if (!d.ok) {
      this.stats.decodeErrors++;
      countBy(this.stats.decodeErrorsByReason, d.reason);
      this.#log(
        "decode",
        peerId,
        `herd: dropped a message from ${describe(link)}: ${d.reason}: ${d.detail}`,
      );
      return;
    }
    const msg = d.msg;
    if (!this.#fromPeer(msg, peerId)) {
      this.stats.spoofed++;
      this.#log(
        "spoofed",
        peerId,
        `herd: dropped a message of type ${msg.type} from ${
          describe(link)
        }: its sender is not the peer`,
      );
      return;
    }
    this.#pool.touch(peerId, link);
    const handler = this.#handler;
    if (!handler) return;
    try {
      handler({ id: peerId, address: link.address }, msg);
    } catch (e) {
      this.stats.handlerErrors++;
      this.#log("handler", "local", `herd: the message handler threw: ${errorText(e)}`);
    }
  }

  /**
   * Whether the message's claimed sender is the authenticated peer. Rumors carry no sender;
   * a relayed ack comes from whichever member relayed it. A claimed address must be the
   * peer's as far as membership knows; one it does not know is bound to the peer, so a
   * reply to it goes to the peer (never to a third node the sender names).
   */
  #fromPeer(msg: Message, peerId: string): boolean {
    switch (msg.type) {
      case MessageType.Ping:
      case MessageType.PingReq:
      case MessageType.PushPullRequest:
      case MessageType.PushPullResponse:
        return this.#isPeerRef(msg.from, peerId);
      case MessageType.Ack:
        return msg.relayed === true || msg.from === peerId;
      case MessageType.Nack:
      case MessageType.Gossip:
        return msg.from === peerId;
      default:
        return true;
    }
  }

  #isPeerRef(ref: NodeRef, peerId: string): boolean {
    if (ref.id !== peerId) return false;
    // Only membership's word counts against the claim: what this transport learned about
    // an address (info answers, earlier claims) is rebound to the authenticated claimant.
    const member = this.#o.resolve(ref.address);
    if (member !== undefined) return member === peerId;
    this.#remember(ref.address, peerId);
    return true;
  }

  // ── housekeeping ──────────────────────────────────────────────────────────

  #refused(link: Link, reason: string, detail: string, byPeer: boolean, claimed?: string): void {
    countBy(this.stats.authRefused, byPeer ? `peer-${reason}` : reason);
    const who = `${link.address} (${claimed ?? "?"})`;
    this.#log(
      "refused",
      link.address,
      byPeer
        ? `herd: ${who} refused this node: ${reason}`
        : `herd: refused ${who}: ${reason}: ${detail}`,
    );
  }

  /** One line per kind and peer per LOG_INTERVAL_MS; none while closing (all noise then). */
  #log(kind: string, peer: string, line: string): void {
    if (!this.#closing && this.#logLimit.take(`${kind}|${peer}`)) this.#o.log(line);
  }

  #track(p: Promise<void>): void {
    const t: Promise<void> = p.then(() => {}, (e) => {
      this.stats.unexpectedErrors++;
      this.#o.log(`herd: transport task failed: ${errorText(e)}`);
    }).finally(() => this.#tasks.delete(t));
    this.#tasks.add(t);
  }

  async #shutdown(): Promise<void> {
    this.#closing = true;
    this.#abort.abort();
    this.#timers.cancelAll();
    this.#pool.clear();
    this.stats.pooled = 0;
    for (const link of this.#links) link.close(CloseCode.Shutdown, "shutting down");
    await this.#infoServer.close();
    this.#listener.stop();
    this.#endpoint.close({ closeCode: CloseCode.Shutdown, reason: "shutting down" });
    await this.#acceptLoop;
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
    await Promise.all([...this.#links].map((l) => l.finished()));
  }
}

const describe = (link: Link): string => `${link.peerId ?? "?"} at ${link.address}`;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The QUIC endpoint and the TCP listener on one port number. */
function bind(host: string, port: number): { endpoint: Deno.QuicEndpoint; tcp: Deno.TcpListener } {
  const attempts = port === 0 ? BIND_ATTEMPTS : 1;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    let endpoint: Deno.QuicEndpoint;
    try {
      endpoint = new Deno.QuicEndpoint({ hostname: host, port });
    } catch (e) {
      throw new TransportError(`cannot bind UDP ${formatAddress(host, port)}: ${errorText(e)}`, {
        hint: "another process may use the port: set mesh.port (or mesh.host)",
        cause: e,
      });
    }
    const chosen = endpoint.addr.port;
    try {
      return { endpoint, tcp: Deno.listen({ hostname: host, port: chosen, transport: "tcp" }) };
    } catch (e) {
      endpoint.close();
      lastError = e;
      // Port 0: the UDP port we got is taken on TCP by someone else; try another.
      if (port === 0 && e instanceof Deno.errors.AddrInUse) continue;
      throw new TransportError(`cannot bind TCP ${formatAddress(host, chosen)}: ${errorText(e)}`, {
        hint: "another process may use the port: set mesh.port (or mesh.host)",
        cause: e,
      });
    }
  }
  throw new TransportError(
    `no port free on both UDP and TCP at ${host} after ${attempts} attempts: ${
      errorText(lastError)
    }`,
    { hint: "set mesh.port to a port free on both" },
  );
}
