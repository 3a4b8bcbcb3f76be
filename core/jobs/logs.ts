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

/** Bytes written in one commit (Deno KV refuses atomic writes over 800 KiB in total). */
export const MAX_COMMIT_BYTES = 512 * 1024;

/** Mutations in one commit (Deno KV allows 1,000). */
export const MAX_COMMIT_OPS = 900;

export interface LogListener {
  /** A promise asks the producer to wait (backpressure from an attached reader). */
  chunk(c: LogChunk): void | Promise<void>;
  end(record: JobRecord): void;
}

/** Waits for the promises among `waits`; nothing to wait for stays synchronous (the common case). */
function waitAll(waits: Array<void | Promise<void>>): void | Promise<void> {
  const pending = waits.filter((w): w is Promise<void> => w !== undefined);
  if (pending.length > 0) return Promise.all(pending).then(() => {});
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

  publish(jobId: string, c: LogChunk): void | Promise<void> {
    return waitAll([...this.#listeners.get(jobId) ?? []].map((l) => l.chunk(c)));
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
    /** A store write that failed: the output it held is counted as dropped, the job goes on. */
    private readonly onError: (e: Error) => void,
  ) {}

  /** Continues after the job's stored output (an earlier attempt's) instead of over it. */
  async resume(): Promise<void> {
    for await (const e of this.kv.list<LogChunk>({ prefix: keys.logs(this.jobId) })) {
      this.#seq = Math.max(this.#seq, e.value.last);
      this.#stored.push({ seq: e.value.seq, bytes: e.value.data.length });
      this.#storedBytes += e.value.data.length;
    }
  }

  /** Resolves when live readers that apply backpressure have taken the output. */
  write(stream: Stream, data: Uint8Array): void | Promise<void> {
    // Each stored value must stay under the KV limit: split on arrival, one seq per piece.
    const waits: Array<void | Promise<void>> = [];
    for (let i = 0; i < data.length; i += MAX_STORED_CHUNK) {
      waits.push(this.#write(stream, data.slice(i, i + MAX_STORED_CHUNK)));
    }
    return waitAll(waits);
  }

  #write(stream: Stream, data: Uint8Array): void | Promise<void> {
    const seq = ++this.#seq;
    const chunk = { seq, last: seq, stream, data };
    this.totalBytes += data.length;
    const wait = this.hub.publish(this.jobId, chunk);
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
      this.#schedule();
    }, this.flushMs);
    return wait;
  }

  /** Stores everything written so far. */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#schedule();
    await this.#flushing;
  }

  #schedule(): void {
    const batch = merge(this.#pending.splice(0));
    this.#pendingBytes = 0;
    if (batch.length === 0) return;
    this.#flushing = this.#flushing.then(() =>
      this.#flush(batch).catch((e) => {
        this.droppedBytes += batch.reduce((n, c) => n + c.data.length, 0);
        this.onError(e as Error);
      })
    );
  }

  async #flush(batch: LogChunk[]): Promise<void> {
    let op = this.kv.atomic();
    let ops = 0;
    let bytes = 0;
    const add = async (f: (o: Deno.AtomicOperation) => Deno.AtomicOperation, size: number) => {
      if (ops + 1 > MAX_COMMIT_OPS || bytes + size > MAX_COMMIT_BYTES) {
        await commit(op);
        op = this.kv.atomic();
        ops = 0;
        bytes = 0;
      }
      op = f(op);
      ops++;
      bytes += size;
    };
    for (const c of batch) {
      await add((o) => o.set(keys.log(this.jobId, c.seq), c), c.data.length + 64);
      this.#stored.push({ seq: c.seq, bytes: c.data.length });
      this.#storedBytes += c.data.length;
    }
    while (this.#storedBytes > this.tailBytes && this.#stored.length > 1) {
      const old = this.#stored.shift()!;
      this.#storedBytes -= old.bytes;
      this.droppedBytes += old.bytes;
      await add((o) => o.delete(keys.log(this.jobId, old.seq)), 64);
    }
    await commit(op);
  }
}

async function commit(op: Deno.AtomicOperation): Promise<void> {
  const res = await op.commit();
  if (!res.ok) throw new Error("a log write was refused by the store");
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
