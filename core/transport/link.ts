// One QUIC connection and what runs on it: the loops reading datagrams and streams, and
// sending a message as a datagram or as a frame on one of its lanes. It knows whether its
// peer is authenticated but decides nothing: every frame, refusal and failure goes to the
// transport's hooks, which count, log and route.
//
// Lanes: a connection keeps (at most) two long-lived unidirectional streams per direction,
// opened on first use, and writes each stream message as one length-prefixed frame on
// one of them. Not a stream per message: in Deno 2.9 every QUIC stream costs ~10–15 KB of
// RSS that is not given back (measured: 10,000 one-message streams raised RSS by ~65 MB
// and it stayed there; the same messages on one stream, ~19 MB). Two lanes, so a large
// push-pull never holds up a reliable ping queued behind it.

import type { Channel } from "../membership/messages.ts";
import { FrameError, FrameReader, prefixed } from "./framing.ts";
import type { TransportStats } from "./stats.ts";

export type Role = "dialer" | "server";

/** Application close codes (QUIC CONNECTION_CLOSE), with a reason string beside them. */
export const CloseCode = {
  Normal: 0,
  /** Refused: ACL, rate limit, authentication, a finished join. */
  Refused: 1,
  /** The pool let it go: least recently used past the cap, idle, or replaced. */
  Released: 2,
  Shutdown: 3,
  /** A loop on it failed unexpectedly. */
  Error: 4,
} as const;
export type CloseCode = typeof CloseCode[keyof typeof CloseCode];

/** "bulk" for full-state exchanges, "express" for everything else that rides a stream. */
export type Lane = "bulk" | "express";

/** Messages waiting on one lane; past it a message is dropped (the peer is not keeping up). */
export const MAX_LANE_QUEUE = 256;

export type DropKind = "unauthenticated" | "too-large" | "truncated" | "extra-bidi";

interface LaneState {
  writer: Promise<WritableStreamDefaultWriter<Uint8Array>>;
  /** Messages handed to this lane and not yet written. */
  queued: number;
}

export interface LinkHooks {
  readonly stats: TransportStats;
  readonly maxMessageBytes: number;
  /** A datagram, or a whole stream frame, arrived. */
  received(link: Link, bytes: Uint8Array, via: Channel): void;
  /** A stream or datagram was refused unread, or broke the framing. */
  dropped(link: Link, kind: DropKind): void;
  /** The first bidirectional stream a dialer opened on a server-side link. */
  firstBidi(link: Link, stream: Deno.QuicBidirectionalStream): void;
  /** Something failed that should not have: count, log, and the link is closed. */
  failed(link: Link, what: string, e: unknown): void;
  /** The connection is closed, by either side. Called once. */
  closed(link: Link, info: Deno.QuicCloseInfo): void;
}

export class Link {
  /** The authenticated peer; undefined until then (and for joins, always). */
  peerId: string | undefined;
  /** Cancels the pending deadline: authentication, or the linger before closing. */
  cancelDeadline: () => void = () => {};
  readonly #h: LinkHooks;
  readonly #tasks = new Set<Promise<void>>();
  readonly #lanes = new Map<Lane, LaneState>();
  #closed = false;

  constructor(
    readonly conn: Deno.QuicConn,
    readonly role: Role,
    /** host:port: what was dialed, or where the connection came from. */
    readonly address: string,
    hooks: LinkHooks,
  ) {
    this.#h = hooks;
    this.#track("datagram loop", this.#datagrams());
    this.#track("stream loop", this.#uniStreams());
    this.#track("bidi loop", this.#bidiStreams());
    this.#track(
      "close",
      conn.closed.then((info) => {
        this.#closed = true;
        this.#h.closed(this, info);
      }),
    );
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Sends one encoded message; never throws (failures are counted and reported). */
  send(bytes: Uint8Array, channel: Channel, lane: Lane): void {
    const stats = this.#h.stats;
    if (this.#closed) {
      stats.sendErrors++;
      return;
    }
    // A datagram when the message wants one and fits this path's datagram size; a stream
    // otherwise (a big gossip, push-pull, the reliable ping).
    if (channel === "datagram" && bytes.length <= this.conn.maxDatagramSize) {
      stats.datagramsSent++;
      stats.bytesSent += bytes.length;
      this.#track(
        "datagram send",
        this.conn.sendDatagram(bytes).catch((e) => this.#sendFailed("datagram", e)),
      );
      return;
    }
    let state = this.#lanes.get(lane);
    if (!state) {
      state = { writer: this.#openLane(), queued: 0 };
      this.#lanes.set(lane, state);
    }
    if (state.queued >= MAX_LANE_QUEUE) {
      stats.sendQueueDropped++;
      return;
    }
    state.queued++;
    const frame = prefixed(bytes);
    const s = state;
    // `then` callbacks on one promise run in the order they were added: frames are written
    // in the order they were sent, and a WritableStream queues writes in call order.
    this.#track(
      "stream send",
      s.writer.then((w) => w.write(frame)).then(
        () => {
          stats.streamsSent++;
          stats.bytesSent += bytes.length;
        },
        (e) => {
          // A broken lane (reset by the peer, connection closing): the next message opens
          // a new stream.
          if (this.#lanes.get(lane) === s) this.#lanes.delete(lane);
          this.#sendFailed("stream", e);
        },
      ).finally(() => s.queued--),
    );
  }

  /** Closes the connection (idempotent); pending reads and writes end. */
  close(code: CloseCode, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.cancelDeadline();
    this.conn.close({ closeCode: code, reason });
  }

  /** Resolves when every loop and send on this link has ended (after close). */
  async finished(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
  }

  /** Keeps `p` until it settles, so `finished()` can wait for it; its failure is reported. */
  #track(what: string, p: Promise<unknown>): void {
    const t: Promise<void> = p.then(() => {}, (e) => this.#loopFailed(what, e))
      .finally(() => this.#tasks.delete(t));
    this.#tasks.add(t);
  }

  async #openLane(): Promise<WritableStreamDefaultWriter<Uint8Array>> {
    const stream = await this.conn.createUnidirectionalStream({ waitUntilAvailable: true });
    return stream.getWriter();
  }

  #sendFailed(what: string, e: unknown): void {
    this.#h.stats.sendErrors++;
    // The connection closing under a send is expected (the peer left, the pool let go).
    if (!this.#closed) this.#h.failed(this, `${what} send`, e);
  }

  /** A loop ended with an error: the connection ending is expected, anything else is not. */
  #loopFailed(what: string, e: unknown): void {
    if (!this.#closed) this.#h.failed(this, what, e);
  }

  async #datagrams(): Promise<void> {
    for (;;) {
      let d: Uint8Array;
      try {
        d = await this.conn.readDatagram();
      } catch (e) {
        return this.#loopFailed("datagram read", e);
      }
      this.#h.stats.datagramsReceived++;
      this.#h.stats.bytesReceived += d.length;
      if (this.peerId === undefined) {
        this.#h.dropped(this, "unauthenticated");
        continue;
      }
      this.#h.received(this, d, "datagram");
    }
  }

  async #uniStreams(): Promise<void> {
    const reader = this.conn.incomingUnidirectionalStreams.getReader();
    try {
      for (;;) {
        const { value: stream, done } = await reader.read();
        if (done) return;
        if (this.peerId === undefined) {
          this.#h.dropped(this, "unauthenticated");
          this.#track("stream cancel", stream.cancel("unauthenticated"));
          continue;
        }
        this.#track("stream read", this.#readStream(stream));
      }
    } catch (e) {
      this.#loopFailed("stream accept", e);
    } finally {
      reader.releaseLock();
    }
  }

  /** A lane: one message per frame, until the peer ends the stream. */
  async #readStream(stream: ReadableStream<Uint8Array>): Promise<void> {
    const frames = new FrameReader(stream);
    try {
      for (;;) {
        const body = await frames.next(this.#h.maxMessageBytes);
        if (!body) return;
        this.#h.stats.streamsReceived++;
        this.#h.stats.bytesReceived += body.length;
        if (this.#closed) return;
        this.#h.received(this, body, "stream");
      }
    } catch (e) {
      if (e instanceof FrameError) {
        this.#h.dropped(this, e.failure.kind);
        if (e.failure.kind === "too-large") await frames.cancel("too large");
        return;
      }
      // A stream reset by its sender, or the connection closing, ends a read: expected
      // when the link is closed, reported otherwise.
      this.#loopFailed("stream read", e);
    }
  }

  async #bidiStreams(): Promise<void> {
    const reader = this.conn.incomingBidirectionalStreams.getReader();
    let first = this.role === "server";
    try {
      for (;;) {
        const { value: stream, done } = await reader.read();
        if (done) return;
        if (first) {
          first = false;
          this.#h.firstBidi(this, stream);
          continue;
        }
        // Only the first bidirectional stream means something (authentication or a join).
        this.#h.dropped(this, "extra-bidi");
        this.#track("bidi cancel", stream.readable.cancel("unexpected stream"));
        this.#track("bidi close", stream.writable.close());
      }
    } catch (e) {
      this.#loopFailed("bidi accept", e);
    } finally {
      reader.releaseLock();
    }
  }
}
