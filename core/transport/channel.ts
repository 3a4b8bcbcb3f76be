// The first bidirectional stream of a connection as a channel of control frames:
// authentication (auth.ts) or a join (join.ts) runs over it, then it is closed.

import {
  type ControlBody,
  type ControlFrame,
  type ControlOf,
  ControlType,
  decodeControl,
  encodeControl,
  MAX_CONTROL_BYTES,
} from "./control.ts";
import { FrameError, FrameReader, prefixed } from "./framing.ts";

/** Refusals of the transport itself (the identity library has the rest). Append only. */
export const TransportRefusal = {
  /** An unexpected, malformed or oversized control frame. */
  Protocol: "protocol-error",
  /** Not authenticated (or joined) within transport.dialTimeout. */
  Timeout: "auth-timeout",
  /** The stream or connection ended in the middle of the exchange. */
  Closed: "closed",
  /** The node at an address belongs to another cluster (its info names another CA). */
  OtherCluster: "other-cluster",
  /** This node does not answer joins (it has no join handler). */
  JoinUnavailable: "join-unavailable",
  /** Answering the join failed on the server (its log says why). */
  JoinFailed: "join-server-error",
  /** What a server granted is not a certificate for the joiner's id and key from its CA. */
  BadGrant: "join-bad-grant",
} as const;
export type TransportRefusal = typeof TransportRefusal[keyof typeof TransportRefusal];

/** The peer broke the exchange: `reason` is what to count and send back. */
export class ProtocolError extends Error {
  constructor(readonly reason: string, readonly detail: string) {
    super(`${reason}: ${detail}`);
    this.name = "ProtocolError";
  }
}

export class ControlChannel {
  readonly #reader: FrameReader;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;

  constructor(stream: Deno.QuicBidirectionalStream) {
    this.#reader = new FrameReader(stream.readable);
    this.#writer = stream.writable.getWriter();
  }

  async send(frame: ControlBody): Promise<void> {
    await this.#writer.write(prefixed(encodeControl(frame)));
  }

  /** The next frame. Throws ProtocolError if there is none or it is not a valid frame. */
  async read(): Promise<ControlFrame> {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.#reader.next(MAX_CONTROL_BYTES);
    } catch (e) {
      if (e instanceof FrameError) {
        const reason = e.failure.kind === "truncated"
          ? TransportRefusal.Closed
          : TransportRefusal.Protocol;
        throw new ProtocolError(reason, e.message);
      }
      throw new ProtocolError(TransportRefusal.Closed, e instanceof Error ? e.message : String(e));
    }
    if (!bytes) throw new ProtocolError(TransportRefusal.Closed, "the stream ended");
    const d = decodeControl(bytes);
    if (!d.ok) throw new ProtocolError(TransportRefusal.Protocol, d.detail);
    return d.frame;
  }

  /** The next frame, which must be one of `types` (a Refused frame is returned as is). */
  async expect<T extends ControlType>(
    ...types: T[]
  ): Promise<ControlOf<T> | ControlOf<typeof ControlType.Refused>> {
    const f = await this.read();
    if (f.type === ControlType.Refused || (types as ControlType[]).includes(f.type)) {
      return f as ControlOf<T> | ControlOf<typeof ControlType.Refused>;
    }
    throw new ProtocolError(TransportRefusal.Protocol, `unexpected control frame ${f.type}`);
  }

  /** Ends our side (FIN); the peer reads what was sent, then its end. */
  async finish(): Promise<void> {
    await this.#writer.close();
  }
}
