// Length-prefixed frames on QUIC streams: u32 big-endian length || body. The prefix lets
// a receiver refuse an oversized message before reading it; the body is collected in
// the chunks it arrives in (never preallocated from the prefix, so a peer announcing a
// huge frame costs nothing until it actually sends the bytes).

export const FRAME_HEADER_BYTES = 4;

/** `body` with its length in front. */
export function prefixed(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}

/** Why a frame could not be read. */
export type FrameFailure =
  /** The stream ended inside a frame. */
  | { kind: "truncated"; got: number }
  /** The prefix announces more than the reader accepts. */
  | { kind: "too-large"; size: number };

export class FrameError extends Error {
  constructor(readonly failure: FrameFailure) {
    super(
      failure.kind === "too-large"
        ? `frame of ${failure.size} bytes is over the limit`
        : `stream ended inside a frame (${failure.got} bytes)`,
    );
    this.name = "FrameError";
  }
}

/** Reads frames from one stream, in order. */
export class FrameReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;

  constructor(readable: ReadableStream<Uint8Array>) {
    this.#reader = readable.getReader();
  }

  /**
   * The next frame's body, or undefined if the stream ended cleanly between frames.
   * Throws FrameError (truncated, too large) or the stream's own error.
   */
  async next(maxBytes: number): Promise<Uint8Array | undefined> {
    if (!await this.#fill(FRAME_HEADER_BYTES)) {
      if (this.#buffered === 0) return undefined;
      throw new FrameError({ kind: "truncated", got: this.#buffered });
    }
    const head = this.#take(FRAME_HEADER_BYTES);
    const size = new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
    if (size > maxBytes) throw new FrameError({ kind: "too-large", size });
    if (!await this.#fill(size)) {
      throw new FrameError({ kind: "truncated", got: FRAME_HEADER_BYTES + this.#buffered });
    }
    return this.#take(size);
  }

  /** Stops reading: tells the sender to stop (QUIC STOP_SENDING) and frees the stream. */
  async cancel(reason?: string): Promise<void> {
    this.#ended = true;
    await this.#reader.cancel(reason);
  }

  releaseLock(): void {
    this.#reader.releaseLock();
  }

  async #fill(n: number): Promise<boolean> {
    while (this.#buffered < n) {
      if (this.#ended) return false;
      const { value, done } = await this.#reader.read();
      if (done) {
        this.#ended = true;
        return false;
      }
      if (value.length === 0) continue;
      this.#chunks.push(value);
      this.#buffered += value.length;
    }
    return true;
  }

  #take(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first && first.length >= n) {
      // The common case: the whole frame arrived in one chunk - no copy.
      const out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.#buffered -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.#chunks[0];
      const k = Math.min(c.length, n - at);
      out.set(c.subarray(0, k), at);
      at += k;
      if (k === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(k);
    }
    this.#buffered -= n;
    return out;
  }
}
