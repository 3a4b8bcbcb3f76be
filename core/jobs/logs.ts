// Job output: delivered live to followers, and kept in the store as a bounded
// tail (`jobs.logTailBytes`) written in batches (`jobs.logFlushInterval`).
// Every chunk gets a sequence number when it arrives, so a follower that
// replays the stored tail and then switches to live output sees each byte once.

import { keys } from "../store.ts";
import type { JobRecord } from "./job.ts";

export type Stream = "stdout" | "stderr";

export interface LogChunk {
  /** Sequence of the first and last arrival merged into this chunk. */
  seq: number;
  last: number;
  stream: Stream;
  data: Uint8Array;
}

/** Largest chunk stored under one key (Deno KV values are limited to 64 KiB). */
export const MAX_STORED_CHUNK = 60 * 1024;

export interface LogListener {
  chunk(c: LogChunk): void;
  end(record: JobRecord): void;
}

/** Live fan-out of output to followers. Observers only: nothing here steers a job. */
export class LogHub {
  readonly #listeners = new Map<string, Set<LogListener>>();

  subscribe(jobId: string, l: LogListener): () => void {
    let set = this.#listeners.get(jobId);
    if (!set) this.#listeners.set(jobId, set = new Set());
    set.add(l);
    return () => {
      set.delete(l);
      if (set.size === 0 && this.#listeners.get(jobId) === set) this.#listeners.delete(jobId);
    };
  }

  publish(jobId: string, c: LogChunk): void {
    for (const l of this.#listeners.get(jobId) ?? []) l.chunk(c);
  }

  end(record: JobRecord): void {
    const set = this.#listeners.get(record.id);
    this.#listeners.delete(record.id);
    for (const l of set ?? []) l.end(record);
  }
}

/** Writes one job's output: publishes each chunk at once, stores the tail in batches. */
export class LogWriter {
  #seq = 0;
  #pending: LogChunk[] = [];
  #pendingBytes = 0;
  /** Stored chunks, oldest first, for trimming. */
  #stored: Array<{ seq: number; bytes: number }> = [];
  #storedBytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> = Promise.resolve();
  totalBytes = 0;
  droppedBytes = 0;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly hub: LogHub,
    private readonly jobId: string,
    private readonly tailBytes: number,
    private readonly flushMs: number,
  ) {}

  write(stream: Stream, data: Uint8Array): void {
    // Each stored value must stay under the KV limit: split on arrival, one seq per piece.
    for (let i = 0; i < data.length; i += MAX_STORED_CHUNK) {
      this.#write(stream, data.slice(i, i + MAX_STORED_CHUNK));
    }
  }

  #write(stream: Stream, data: Uint8Array): void {
    const seq = ++this.#seq;
    const chunk = { seq, last: seq, stream, data };
    this.totalBytes += data.length;
    this.hub.publish(this.jobId, chunk);
    this.#pending.push(chunk);
    this.#pendingBytes += data.length;
    // Bounded: output past the tail size would be trimmed anyway, drop it now.
    while (this.#pendingBytes > this.tailBytes && this.#pending.length > 1) {
      const old = this.#pending.shift()!;
      this.#pendingBytes -= old.data.length;
      this.droppedBytes += old.data.length;
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#flushing = this.#flushing.then(() => this.#flush());
    }, this.flushMs);
  }

  /** Stores everything written so far. */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#flushing = this.#flushing.then(() => this.#flush());
    await this.#flushing;
  }

  async #flush(): Promise<void> {
    const batch = merge(this.#pending.splice(0));
    this.#pendingBytes = 0;
    if (batch.length === 0) return;
    let op = this.kv.atomic();
    let ops = 0;
    for (const c of batch) {
      op = op.set(keys.log(this.jobId, c.seq), c);
      this.#stored.push({ seq: c.seq, bytes: c.data.length });
      this.#storedBytes += c.data.length;
      ops++;
    }
    while (this.#storedBytes > this.tailBytes && this.#stored.length > 1) {
      const old = this.#stored.shift()!;
      this.#storedBytes -= old.bytes;
      this.droppedBytes += old.bytes;
      op = op.delete(keys.log(this.jobId, old.seq));
      ops++;
      if (ops > 900) {
        await op.commit();
        op = this.kv.atomic();
        ops = 0;
      }
    }
    await op.commit();
  }
}

/** Merges neighbouring chunks of the same stream, up to the stored-chunk size. */
export function merge(chunks: LogChunk[]): LogChunk[] {
  const out: LogChunk[] = [];
  for (const c of chunks) {
    const prev = out.at(-1);
    if (prev && prev.stream === c.stream && prev.data.length + c.data.length <= MAX_STORED_CHUNK) {
      const data = new Uint8Array(prev.data.length + c.data.length);
      data.set(prev.data);
      data.set(c.data, prev.data.length);
      out[out.length - 1] = { seq: prev.seq, last: c.last, stream: c.stream, data };
    } else {
      out.push(c);
    }
  }
  return out;
}

/** The stored tail of a job's output, oldest first. */
export async function readStoredLogs(kv: Deno.Kv, jobId: string): Promise<LogChunk[]> {
  const out: LogChunk[] = [];
  for await (const e of kv.list<LogChunk>({ prefix: keys.logs(jobId) })) out.push(e.value);
  return out;
}

export async function deleteStoredLogs(kv: Deno.Kv, jobId: string): Promise<void> {
  let op = kv.atomic();
  let n = 0;
  for await (const e of kv.list({ prefix: keys.logs(jobId) })) {
    op = op.delete(e.key);
    if (++n % 900 === 0) {
      await op.commit();
      op = kv.atomic();
    }
  }
  await op.commit();
}
