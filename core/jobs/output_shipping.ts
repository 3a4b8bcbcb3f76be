// A job's output stream between members: the node running the job ships the same NDJSON
// stream a local reader gets (api/follow.ts) to a reader on another node, as `out`
// messages on the mesh's bulk lane, in order, each numbered. The reader acknowledges
// what it has; the shipper keeps at most SHIP_WINDOW bytes unacknowledged, so a slow
// reader holds the stream back (and an attached `herd run` holds its job back, as it
// does locally) instead of piling messages into the transport's queue.

/** Bytes in flight to one reader before the shipper waits for an ack. */
export const SHIP_WINDOW = 1024 * 1024;
/** The reader acknowledges once this much is unacknowledged, or after ACK_DELAY_MS. */
export const ACK_EVERY_BYTES = 64 * 1024;
export const ACK_DELAY_MS = 10;
/** Largest `out` message: small chunks are merged up to this. */
export const MAX_OUT_BYTES = 60 * 1024;

type Send = (nodeId: string, op: "out" | "ack" | "unfollow", body: unknown) => boolean;

interface Shipment {
  to: string;
  reader: ReadableStreamDefaultReader<Uint8Array>;
  seq: number;
  sentBytes: number;
  ackedBytes: number;
  wake?: () => void;
  stopped: boolean;
}

/** The running side: one shipment per (reader node, subscription). */
export class Shipper {
  readonly #send: Send;
  readonly #shipments = new Map<string, Shipment>();

  constructor(send: Send) {
    this.#send = send;
  }

  /** Ships `stream` to `to` under `sub` until it ends, the reader stops, or it is gone. */
  ship(to: string, sub: number, stream: ReadableStream<Uint8Array>): void {
    const key = `${to}/${sub}`;
    this.#stop(key);
    const s: Shipment = {
      to,
      reader: stream.getReader(),
      seq: 0,
      sentBytes: 0,
      ackedBytes: 0,
      stopped: false,
    };
    this.#shipments.set(key, s);
    this.#run(key, sub, s).finally(() => {
      if (this.#shipments.get(key) === s) this.#shipments.delete(key);
    });
  }

  ack(from: string, sub: number, acked: number): void {
    const s = this.#shipments.get(`${from}/${sub}`);
    if (!s || acked <= s.ackedBytes) return;
    s.ackedBytes = Math.min(acked, s.sentBytes);
    s.wake?.();
  }

  stop(from: string, sub: number): void {
    this.#stop(`${from}/${sub}`);
  }

  /** A reader node failed or left: its shipments end (an attached job is no longer held). */
  gone(nodeId: string): void {
    for (const [key, s] of this.#shipments) if (s.to === nodeId) this.#stop(key);
  }

  get active(): number {
    return this.#shipments.size;
  }

  #stop(key: string): void {
    const s = this.#shipments.get(key);
    if (!s) return;
    this.#shipments.delete(key);
    s.stopped = true;
    s.wake?.();
    s.reader.cancel().catch(() => {});
  }

  async #run(key: string, sub: number, s: Shipment): Promise<void> {
    let inflight: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
    const fin = () =>
      this.#send(s.to, "out", { sub, seq: s.seq++, d: new Uint8Array(0), fin: true });
    try {
      for (;;) {
        const first = await (inflight ?? s.reader.read());
        inflight = undefined;
        if (s.stopped) return;
        if (first.done) return void fin();
        let chunk = first.value;
        // Merge what is already queued behind it, up to one message; never wait for more.
        while (chunk.length < MAX_OUT_BYTES) {
          const read = s.reader.read();
          const now = await settledNow(read);
          if (!now) {
            inflight = read;
            break;
          }
          if (now.done) {
            if (this.#sendOut(s, sub, chunk)) fin();
            return;
          }
          if (chunk.length + now.value.length > MAX_OUT_BYTES) {
            if (!this.#sendOut(s, sub, chunk)) return;
            chunk = now.value;
          } else chunk = concat(chunk, now.value);
        }
        if (!this.#sendOut(s, sub, chunk)) return;
        while (!s.stopped && s.sentBytes - s.ackedBytes > SHIP_WINDOW) {
          await new Promise<void>((r) => s.wake = r);
          s.wake = undefined;
        }
      }
    } catch {
      // The stream was cancelled (stopped): nothing more to ship.
    } finally {
      if (this.#shipments.get(key) === s) this.#shipments.delete(key);
      s.reader.cancel().catch(() => {});
    }
  }

  #sendOut(s: Shipment, sub: number, d: Uint8Array): boolean {
    for (let at = 0; at < d.length; at += MAX_OUT_BYTES) {
      const part = d.subarray(at, at + MAX_OUT_BYTES);
      s.sentBytes += part.length;
      if (!this.#send(s.to, "out", { sub, seq: s.seq++, d: part })) return false;
    }
    return true;
  }
}

/** The result if `p` is already settled (a chunk was queued), else undefined. */
async function settledNow<T>(p: Promise<T>): Promise<T | undefined> {
  let out: T | undefined;
  p.then((r) => out = r, () => {});
  await Promise.resolve();
  await Promise.resolve();
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

interface Subscription {
  nodeId: string;
  controller: ReadableStreamDefaultController<Uint8Array>;
  nextSeq: number;
  received: number;
  acked: number;
  ackTimer?: ReturnType<typeof setTimeout>;
  onGone: (why: GoneReason) => void;
}

/** Why a subscription stopped early: its member is gone, or a message went missing. */
export type GoneReason = "gone" | "gap";

/** The reading side: streams fed by `out` messages from other members. */
export class Receiver {
  readonly #send: Send;
  readonly #subs = new Map<number, Subscription>();
  #nextSub = 1;

  constructor(send: Send) {
    this.#send = send;
  }

  /**
   * A new subscription to output from `nodeId`. `onGone` runs if that member fails or
   * leaves, or a message is missing, before the stream finished; the stream stays open
   * for the caller to continue or close.
   */
  open(
    nodeId: string,
    onGone: (why: GoneReason) => void,
  ): { sub: number; nodeId: string; stream: ReadableStream<Uint8Array>; close(): void } {
    const sub = this.#nextSub++;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => controller = c,
      cancel: () => this.#close(sub, true),
    });
    this.#subs.set(sub, { nodeId, controller, nextSeq: 0, received: 0, acked: 0, onGone });
    return { sub, nodeId, stream, close: () => this.#close(sub, true) };
  }

  receive(from: string, body: { sub: number; seq: number; d: Uint8Array; fin?: true }): void {
    const s = this.#subs.get(body.sub);
    if (!s || s.nodeId !== from) return;
    if (body.seq !== s.nextSeq) {
      // A message went missing (the connection broke): what follows would be corrupt.
      this.#send(from, "unfollow", { sub: body.sub });
      s.onGone("gap");
      return;
    }
    s.nextSeq++;
    if (body.d.length) s.controller.enqueue(body.d);
    s.received += body.d.length;
    if (body.fin) {
      this.#close(body.sub, false);
      return;
    }
    if (s.received - s.acked >= ACK_EVERY_BYTES) this.#ack(body.sub, s);
    else s.ackTimer ??= setTimeout(() => this.#ack(body.sub, s), ACK_DELAY_MS);
  }

  /** A member failed or left: its subscriptions are told. */
  gone(nodeId: string): void {
    for (const s of this.#subs.values()) if (s.nodeId === nodeId) s.onGone("gone");
  }

  #ack(sub: number, s: Subscription): void {
    clearTimeout(s.ackTimer);
    s.ackTimer = undefined;
    s.acked = s.received;
    this.#send(s.nodeId, "ack", { sub, seq: s.received });
  }

  #close(sub: number, tellSender: boolean): void {
    const s = this.#subs.get(sub);
    if (!s) return;
    this.#subs.delete(sub);
    clearTimeout(s.ackTimer);
    if (tellSender) this.#send(s.nodeId, "unfollow", { sub });
    try {
      s.controller.close();
    } catch {
      // Already closed or errored by its reader.
    }
  }
}
