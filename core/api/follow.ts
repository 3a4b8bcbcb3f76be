// Streams a job's output as NDJSON: the stored tail first, then live output until
// the job ends, each byte once. Lines:
//   {"t":"job","job":{…}}              (attach only: the admitted job)
//   {"t":"out"|"err","d":"<base64>"}   output bytes
//   {"t":"end","job":{…}}              the final record
//   {"t":"gap","bytes":N}              output dropped because the reader was too slow
//   {"t":"note","text":"…"}            the job is pending, or its node died and it moved

import type { JobRecord } from "../jobs/job.ts";
import { isFinal } from "../jobs/job.ts";
import { type LogChunk, type LogHub, readStoredLogs } from "../jobs/logs.ts";

export type StreamLine =
  | { t: "job"; job: JobRecord }
  /** `s`: the output's sequence number so far (a reader that resumes asks for what is after). */
  | { t: "out" | "err"; d: string; s: number }
  | { t: "end"; job: JobRecord }
  | { t: "gap"; bytes: number }
  /** Something the reader should be told: the job waits, moved to another node. */
  | { t: "note"; text: string };

/** A follower (`logs -f`) further behind than this loses live output (noted with a `gap` line). */
export const MAX_FOLLOWER_BACKLOG = 8 * 1024 * 1024;

/** Bytes queued for the attached reader (`herd run`) before the job is made to wait. */
export const ATTACHED_HIGH_WATER = 1024 * 1024;

const enc = new TextEncoder();
const line = (l: StreamLine) => enc.encode(JSON.stringify(l) + "\n");
const chunkLine = (c: LogChunk) =>
  line({ t: c.stream === "stdout" ? "out" : "err", d: c.data.toBase64(), s: c.last });

export interface FollowOptions {
  kv: Deno.Kv;
  hub: LogHub;
  jobId: string;
  /** Keep streaming until the job ends; otherwise stop after the stored tail. */
  follow: boolean;
  /** Sent first (attach). */
  first?: JobRecord;
  /** Reads the current record (after subscribing, so no end is missed). */
  record: () => Promise<JobRecord | null>;
  /** Only output after this sequence number (a reader that already has the rest). */
  after?: number;
}

export function followStream(o: FollowOptions): ReadableStream<Uint8Array> {
  let unsubscribe = () => {};
  const after = o.after ?? 0;
  // The attached reader holds the job back when it is slow: it must get every byte.
  const attached = o.first !== undefined;
  let waiters: Array<() => void> = [];
  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  return new ReadableStream<Uint8Array>({
    pull() {
      wake();
    },
    async start(controller) {
      if (o.first) controller.enqueue(line({ t: "job", job: o.first }));
      let replaying = true;
      const early: LogChunk[] = [];
      let endRecord: JobRecord | undefined;
      let dropped = 0;
      let closed = false;
      const close = (rec: JobRecord) => {
        if (closed) return;
        closed = true;
        if (dropped) controller.enqueue(line({ t: "gap", bytes: dropped }));
        controller.enqueue(line({ t: "end", job: rec }));
        controller.close();
        unsubscribe();
        wake();
      };
      if (o.follow) {
        unsubscribe = o.hub.subscribe(o.jobId, {
          chunk(c) {
            if (replaying) early.push(c);
            else if (closed || c.last <= after) return;
            else if (!attached && (controller.desiredSize ?? 0) < -MAX_FOLLOWER_BACKLOG) {
              dropped += c.data.length;
            } else {
              controller.enqueue(chunkLine(c));
              if (attached && (controller.desiredSize ?? 0) <= 0) {
                return new Promise<void>((r) => waiters.push(r));
              }
            }
          },
          end(rec) {
            if (replaying) endRecord = rec;
            else close(rec);
          },
        });
      }
      const stored = await readStoredLogs(o.kv, o.jobId);
      let last = after;
      for (const c of stored) {
        if (c.last <= after) continue;
        controller.enqueue(chunkLine(c));
        last = c.last;
      }
      for (const c of early) if (c.seq > last) controller.enqueue(chunkLine(c));
      replaying = false;
      if (endRecord) return close(endRecord);
      const rec = await o.record();
      if (!o.follow || !rec || isFinal(rec.state)) {
        if (rec) close(rec);
        else controller.close();
      }
    },
    cancel() {
      unsubscribe();
      wake();
    },
  }, { highWaterMark: ATTACHED_HIGH_WATER, size: (chunk) => chunk.byteLength });
}
