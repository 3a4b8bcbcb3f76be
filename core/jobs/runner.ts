// Runs jobs on this node: admits each against the node's free resources, hands
// it to its executor, records every state change in the store and streams its
// output. A job's record is written before it starts and after it ends, so a
// job is never forgotten: one that was running when the agent stopped is
// marked `lost` at the next start.

import type { ExecutorOutcome, ExecutorPlugin, Resources } from "../../plugins/sdk.ts";
import type { PluginSet } from "../../plugins/loader.ts";
import type { HerdConfig } from "../config.ts";
import type { Clock, RandomBytes } from "../clock.ts";
import { newJobId } from "../ids.ts";
import { keys } from "../store.ts";
import {
  type Admission,
  type Admitted,
  type Allocation,
  type Capacity,
  EMPTY_ALLOCATION,
  Ledger,
  MAX_ADMIT_BATCH,
} from "./admission.ts";
import { Batcher } from "./batcher.ts";
import { checkpointPath } from "./checkpoint.ts";
import { isFinal, type JobRecord, type JobSpec } from "./job.ts";
import { deleteStoredLogs, LogHub, LogWriter } from "./logs.ts";

export type SubmitResult =
  | { ok: true; record: JobRecord }
  | { ok: false; code: "invalid" | "does_not_fit"; message: string };

export type PlacedResult =
  | SubmitResult
  | { ok: false; code: "fenced"; message: string };

export interface RunnerDeps {
  kv: Deno.Kv;
  nodeId: string;
  config: HerdConfig;
  plugins: PluginSet;
  capacity: Capacity;
  /** Live available memory, or undefined for an emulated node (its profile is the truth). */
  liveMemAvailable: () => number | undefined;
  clock: Clock;
  random: RandomBytes;
  hub: LogHub;
  /** Relative checkpoint dirs live under this, one dir per job (checkpoint.ts). */
  checkpointRoot: string;
  /** Where the runner reports problems that do not stop a job. */
  log: (line: string) => void;
  /** Told of every job's end after it is recorded: the job service reports it to the owners. */
  ended?: (record: JobRecord) => void;
  /** Observer of job events (metrics, event stream). Never steers the runner. */
  observe?: (e: JobEvent) => void;
}

export type JobEvent =
  | { type: "submitted"; record: JobRecord }
  | { type: "refused"; code: "invalid" | "does_not_fit" }
  | { type: "finished"; record: JobRecord };

/** A request before defaults: what the API accepts. */
export interface JobRequest {
  name?: string;
  executor: string;
  task: Record<string, unknown>;
  resources?: Partial<Resources>;
  timeoutMs?: number;
}

interface Running {
  abort: AbortController;
  killed: boolean;
  killReason?: string;
  /** Why the agent stopped it, when it did. */
  lostReason?: string;
  done: Promise<void>;
}

/** Finished jobs between two prunes of the history. */
const PRUNE_EVERY = 50;

/** Final records carry results (up to a KV value, 64 KiB): 8 stay under a commit's limit. */
const RELEASE_BATCH = 8;

export class JobRunner {
  readonly #running = new Map<string, Running>();
  #finishedSincePrune = 0;
  /** Opened by `recover`, which the agent calls before it takes any job. */
  #ledger: Ledger | undefined;

  /** Admissions that arrive together share one KV commit. */
  readonly admissions: Batcher<0, Admission, Admitted>;
  readonly #releases: Batcher<0, JobRecord, undefined>;

  constructor(private readonly d: RunnerDeps) {
    this.admissions = new Batcher(
      (_, batch) => this.#opened().admit(batch, d.liveMemAvailable()),
      MAX_ADMIT_BATCH,
    );
    this.#releases = new Batcher(async (_, records) => {
      await this.#opened().release(records);
      return records.map(() => undefined);
    }, RELEASE_BATCH);
  }

  /** Opens the ledger; marks jobs that were running when the agent last stopped as lost. */
  async recover(): Promise<JobRecord[]> {
    const { ledger, unfinished } = await Ledger.open(this.d.kv, this.d.capacity);
    const lost = unfinished.map((r): JobRecord => ({
      ...r,
      state: "lost",
      finishedAt: this.d.clock.now(),
      reason: "the agent stopped while the job was running; its end was not seen",
    }));
    for (let i = 0; i < lost.length; i += RELEASE_BATCH) {
      let op = this.d.kv.atomic();
      for (const r of lost.slice(i, i + RELEASE_BATCH)) op = op.set(keys.job(r.id), r);
      await op.commit();
    }
    this.#ledger = ledger;
    return lost;
  }

  #opened(): Ledger {
    if (!this.#ledger) throw new Error("the job runner takes jobs only after recover()");
    return this.#ledger;
  }

  spec(req: JobRequest): { ok: true; spec: JobSpec } | { ok: false; message: string } {
    const executor = this.d.plugins.get("executor", req.executor);
    if (!executor) {
      return {
        ok: false,
        message: `no executor named '${req.executor}' (this node has: ${
          this.d.plugins.names("executor").join(", ")
        })`,
      };
    }
    const problem = executor.validate(req.task);
    if (problem) return { ok: false, message: problem };
    const c = this.d.config;
    return {
      ok: true,
      spec: {
        name: req.name ?? "",
        executor: req.executor,
        task: req.task,
        resources: {
          cpu: req.resources?.cpu ?? c["jobs.defaultCpu"],
          memBytes: req.resources?.memBytes ?? c["jobs.defaultMem"],
          gpus: req.resources?.gpus ?? 0,
        },
        timeoutMs: req.timeoutMs ?? c["jobs.defaultTimeout"],
      },
    };
  }

  async submit(req: JobRequest): Promise<SubmitResult> {
    const res = await this.#submit(req);
    this.d.observe?.(
      res.ok ? { type: "submitted", record: res.record } : { type: "refused", code: res.code },
    );
    return res;
  }

  async #submit(req: JobRequest): Promise<SubmitResult> {
    const s = this.spec(req);
    if (!s.ok) return { ok: false, code: "invalid", message: s.message };
    const now = this.d.clock.now();
    const id = newJobId(now, this.d.random);
    return await this.#admitAndStart({
      id,
      spec: s.spec,
      attempt: 1,
      submittedAt: now,
    }) as SubmitResult;
  }

  /**
   * Runs an attempt another node placed here (or this node's own placer). Refused when it
   * does not fit, when its executor or task is not valid here, or when this node has
   * already seen this attempt or a later one of the job (`fenced`: an old placement that
   * arrives late must not run again).
   */
  async submitPlaced(
    p: {
      id: string;
      spec: JobSpec;
      attempt: number;
      submittedAt: number;
      origin?: string;
      why?: string;
    },
  ): Promise<PlacedResult> {
    const executor = this.d.plugins.get("executor", p.spec.executor);
    if (!executor) {
      return {
        ok: false,
        code: "invalid",
        message: `no executor named '${p.spec.executor}' on this node`,
      };
    }
    const problem = executor.validate(p.spec.task);
    if (problem) return { ok: false, code: "invalid", message: problem };
    const res = await this.#admitAndStart(
      p,
      (seen) =>
        seen !== undefined && seen >= p.attempt
          ? `attempt ${p.attempt} of job ${p.id} is stale: this node has seen attempt ${seen}`
          : undefined,
    );
    this.d.observe?.(
      res.ok
        ? { type: "submitted", record: res.record }
        : { type: "refused", code: res.code === "fenced" ? "invalid" : res.code },
    );
    return res;
  }

  async #admitAndStart(
    p: {
      id: string;
      spec: JobSpec;
      attempt: number;
      submittedAt: number;
      origin?: string;
      why?: string;
    },
    fence?: Admission["fence"],
  ): Promise<PlacedResult> {
    const now = this.d.clock.now();
    const spec = p.spec;
    const admitted = await this.admissions.add(0, {
      id: p.id,
      makeRecord: (reservation) => ({
        id: p.id,
        spec: { ...spec, name: spec.name || p.id },
        state: "running",
        nodeId: this.d.nodeId,
        attempt: p.attempt,
        submittedAt: p.submittedAt,
        startedAt: now,
        reservation,
        logBytes: 0,
        logDroppedBytes: 0,
        ...(p.origin ? { origin: p.origin } : {}),
        ...(p.why ? { why: p.why } : {}),
      }),
      want: spec.resources,
      fence,
    });
    if (!admitted.ok) {
      return admitted.fenced
        ? { ok: false, code: "fenced", message: admitted.reason }
        : { ok: false, code: "does_not_fit", message: admitted.reason };
    }
    this.#start(admitted.record);
    return admitted;
  }

  #start(record: JobRecord): void {
    const executor = this.d.plugins.get("executor", record.spec.executor) as ExecutorPlugin;
    const c = this.d.config;
    const logs = new LogWriter(
      this.d.kv,
      this.d.hub,
      record.id,
      c["jobs.logTailBytes"],
      c["jobs.logFlushInterval"],
      (e) => this.d.log(`herd: job ${record.id}: storing its output failed: ${e.message}`),
    );
    const abort = new AbortController();
    const env: Record<string, string> = {
      HERD_JOB_ID: record.id,
      HERD_JOB_NAME: record.spec.name,
      HERD_NODE_ID: record.nodeId,
      HERD_ATTEMPT: String(record.attempt),
    };
    if (record.reservation.gpus.length > 0) {
      env.CUDA_VISIBLE_DEVICES = record.reservation.gpus.join(",");
    } else if (record.spec.resources.gpus === 0) {
      // A job that asked for no GPU must not take one by accident.
      env.CUDA_VISIBLE_DEVICES = "";
    }
    const running: Running = { abort, killed: false, done: Promise.resolve() };
    this.#running.set(record.id, running);
    running.done = (async () => {
      let outcome: ExecutorOutcome;
      try {
        // Earlier attempts' output (here, or carried by a migration) stays before this one's.
        await logs.resume();
        if (record.spec.checkpointDir) {
          const dir = checkpointPath(this.d.checkpointRoot, record.id, record.spec.checkpointDir);
          await Deno.mkdir(dir, { recursive: true });
          env.HERD_CHECKPOINT_DIR = dir;
        }
        outcome = await executor.run({
          jobId: record.id,
          attempt: record.attempt,
          task: record.spec.task,
          env,
          timeoutMs: record.spec.timeoutMs,
          killGraceMs: c["jobs.killGrace"],
          signal: abort.signal,
          stdout: (b) => untilAborted(logs.write("stdout", b), abort.signal),
          stderr: (b) => untilAborted(logs.write("stderr", b), abort.signal),
        });
      } catch (e) {
        outcome = {
          status: "error",
          exitCode: 1,
          message: `executor ${executor.name} failed: ${(e as Error).message}`,
        };
      }
      await logs.close();
      const final = this.#final(record, outcome, running);
      final.logBytes = logs.totalBytes;
      final.logDroppedBytes = logs.droppedBytes;
      await this.#releases.add(0, final);
      this.#running.delete(record.id);
      this.d.hub.end(final);
      this.d.ended?.(final);
      this.d.observe?.({ type: "finished", record: final });
      if (++this.#finishedSincePrune >= PRUNE_EVERY) {
        this.#finishedSincePrune = 0;
        await this.prune();
      }
    })().catch((e) => {
      // The job's end could not be recorded: at the next start it is reported lost. Its
      // followers (an attached `herd run`, `logs -f`) are told so now rather than left waiting.
      this.#running.delete(record.id);
      this.d.log(`herd: job ${record.id}: recording its end failed: ${(e as Error).stack ?? e}`);
      this.d.hub.end({
        ...record,
        state: "lost",
        finishedAt: this.d.clock.now(),
        reason: `the node could not record the job's end: ${(e as Error).message}`,
      });
    });
  }

  #final(record: JobRecord, o: ExecutorOutcome, running: Running): JobRecord {
    const base = { ...record, finishedAt: this.d.clock.now(), exitCode: o.exitCode };
    if (running.lostReason) return { ...base, state: "lost", reason: running.lostReason };
    if (running.killed) {
      return {
        ...base,
        state: "killed",
        reason: running.killReason ?? "killed by request",
        signal: o.status === "signaled" ? o.signal : undefined,
      };
    }
    switch (o.status) {
      case "exited":
        return o.exitCode === 0
          ? { ...base, state: "succeeded", result: o.result }
          : { ...base, state: "failed", reason: `exited with code ${o.exitCode}` };
      case "signaled":
        return {
          ...base,
          state: "failed",
          signal: o.signal,
          reason: o.timedOut
            ? `timed out after ${record.spec.timeoutMs} ms`
            : `ended by ${o.signal}`,
        };
      case "error":
        return { ...base, state: "failed", reason: o.message };
    }
  }

  /** Stops a running job. Returns false when it is not running here. */
  kill(id: string, reason = "killed by request"): boolean {
    const r = this.#running.get(id);
    if (!r) return false;
    r.killed = true;
    r.killReason = reason;
    r.abort.abort();
    return true;
  }

  /** Waits for a running job to end (tests, shutdown). */
  async settled(id: string): Promise<void> {
    await this.#running.get(id)?.done;
  }

  get runningCount(): number {
    return this.#running.size;
  }

  /** Stops every running job and records it lost (the node is going away). */
  async shutdown(reason: string): Promise<void> {
    for (const r of this.#running.values()) {
      r.lostReason = reason;
      r.abort.abort();
    }
    await Promise.all([...this.#running.values()].map((r) => r.done));
  }

  async get(id: string): Promise<JobRecord | null> {
    return (await this.d.kv.get<JobRecord>(keys.job(id))).value;
  }

  /** Jobs oldest first; only unfinished ones unless `all`. */
  async list(all: boolean): Promise<JobRecord[]> {
    const out: JobRecord[] = [];
    for await (const e of this.d.kv.list<JobRecord>({ prefix: keys.jobs() })) {
      if (all || !isFinal(e.value.state)) out.push(e.value);
    }
    return out;
  }

  /** Resolves a unique id prefix, as `docker` does. */
  async resolve(
    prefix: string,
  ): Promise<{ ok: true; id: string } | { ok: false; message: string }> {
    const p = prefix.toLowerCase();
    if (!/^[0-9a-z]{1,16}$/.test(p)) return { ok: false, message: `'${prefix}' is not a job id` };
    const matches: string[] = [];
    for await (const e of this.d.kv.list<JobRecord>({ prefix: keys.jobs() })) {
      const id = e.key[1] as string;
      if (id.startsWith(p)) matches.push(id);
      else if (e.value.spec.name === prefix) matches.push(id);
    }
    if (matches.length === 1) return { ok: true, id: matches[0] };
    if (matches.length === 0) return { ok: false, message: `no job '${prefix}'` };
    return {
      ok: false,
      message: `'${prefix}' matches ${matches.length} jobs; give more of the id`,
    };
  }

  /** Drops the oldest finished jobs past `jobs.historyLimit`, with their logs. */
  async prune(): Promise<number> {
    const finished: string[] = [];
    for await (const e of this.d.kv.list<JobRecord>({ prefix: keys.jobs() })) {
      if (isFinal(e.value.state)) finished.push(e.value.id);
    }
    const excess = finished.length - this.d.config["jobs.historyLimit"];
    for (const id of finished.slice(0, Math.max(0, excess))) {
      await deleteStoredLogs(this.d.kv, id);
      await this.d.kv.delete(keys.job(id));
      this.#ledger?.forget(id);
    }
    return Math.max(0, excess);
  }

  /** What running jobs reserve now (for status and the node's announced load). */
  allocation(): Allocation {
    return this.#ledger?.allocation ?? EMPTY_ALLOCATION;
  }
}

/**
 * A job being stopped no longer waits for its readers: otherwise a reader that stopped
 * reading (a suspended terminal, `| head` before its kill lands) would hold up the kill.
 */
function untilAborted(wait: void | Promise<void>, signal: AbortSignal): void | Promise<void> {
  if (!wait || signal.aborted) return;
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => resolve();
    signal.addEventListener("abort", onAbort, { once: true });
    wait.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
