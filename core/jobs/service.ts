// Jobs across the mesh, on one node: submitting (place, offer to the best candidate, the
// next if it refuses, pending if none takes it), the job service other members call
// (offer, follow, kill, find, list, own, ended, running), and an owner's duties: keep
// the job's record, place it again when its node dies or it ends under its restart
// policy, retry pending jobs when the cluster changes, and fence an old attempt that
// comes back. Nothing is central: any node places, the target admits atomically, and
// a job's owners are whoever rendezvous hashing names among the live members.

import type { JobRequest as PlacementRequest } from "../../plugins/sdk.ts";
import type { Clock, RandomBytes } from "../clock.ts";
import type { MembershipEvent } from "../membership/events.ts";
import type { Placer } from "../scheduler/placer.ts";
import { explain } from "../scheduler/explain.ts";
import { type Rpc, RpcError, ServiceRefusal } from "../mesh/rpc.ts";
import { newJobId } from "../ids.ts";
import { LatencyWindow } from "../latency_window.ts";
import { followStream, type StreamLine } from "../api/follow.ts";
import type { JobRunner } from "./runner.ts";
import {
  type AttemptRecord,
  DEFAULT_RESTART,
  isFinal,
  type JobRecord,
  type JobSpec,
  type Restart,
} from "./job.ts";
import {
  asRecord,
  type Body,
  checkBody,
  type JobSubmission,
  type Op,
  SERVICE,
} from "./job_protocol.ts";
import { Batcher } from "./batcher.ts";
import { checkpointPath, packCheckpoint, unpackCheckpoint } from "./checkpoint.ts";
import { keys } from "../store.ts";
import { deleteStoredLogs, type LogChunk, type LogHub } from "./logs.ts";
import { fences, newer, OwnedJobs } from "./owned.ts";
import { ownerKey, ownersOf } from "./owners.ts";
import { type GoneReason, Receiver, Shipper } from "./output_shipping.ts";

/** How long a target has to admit or refuse an offer. */
export const OFFER_TIMEOUT_MS = 3_000;
/** Candidates offered a job before it waits as pending. */
export const MAX_OFFERS = 8;
/** Reads across the cluster (ps, find): members that take longer are left out. */
export const QUERY_TIMEOUT_MS = 2_000;
/** Pending jobs and restart backoffs are looked at this often, besides on cluster changes. */
export const RETRY_INTERVAL_MS = 2_000;
/** A node reports the attempts it runs to their owners this often (fencing after a partition). */
export const REPORT_INTERVAL_MS = 10_000;
/** Reports that carry the attempts this node lost when its agent stopped (see `lostAtStart`). */
const LOST_REPORT_ROUNDS = 3;
/** Longest wait before a restart. */
export const MAX_BACKOFF_MS = 60_000;
/** While a followed job's node is gone, its owners are asked where it went this often. */
const RELOCATE_POLL_MS = 200;
/** A migration's copy of output and checkpoint: bytes per `carry` page, and the longest wait for all. */
const CARRY_PAGE_BYTES = 512 * 1024;
const PULL_TIMEOUT_MS = 10 * 60_000;
/** A packed checkpoint nobody finished reading is deleted after this. */
const CARRY_KEEP_MS = 10 * 60_000;
/** Replicas (not spread) placed at once. */
const REPLICAS_AT_ONCE = 64;
/** Offers per message: a target admits them in one commit (admission.ts MAX_ADMIT_BATCH). */
const OFFER_BATCH = 64;
/** Records per `own`/`ended` message, and their bytes (as JSON) at most. */
const COPY_BATCH = 64;
const COPY_BATCH_BYTES = 512 * 1024;
/** Owner keys whose owners are remembered at once. */
const OWNER_CACHE_SIZE = 10_000;
/** Members remembered as failed or left (until they join again) for re-placing their jobs. */
const MAX_GONE = 1_024;

export interface JobServiceDeps {
  selfId: string;
  kv: Deno.Kv;
  runner: JobRunner;
  hub: LogHub;
  rpc: Rpc;
  placer: Placer;
  /** Ids of the live members, this node included. */
  liveIds(): string[];
  clock: Clock;
  random: RandomBytes;
  historyLimit: number;
  /** How long a stopped job has to exit before it is killed (`jobs.killGrace`). */
  killGraceMs: number;
  /** Relative checkpoint dirs live under this (checkpoint.ts). */
  checkpointRoot: string;
  log(line: string): void;
}

export interface ApplyResult {
  name: string;
  action: "created" | "unchanged" | "updated";
  jobs: string[];
  state: string;
  reason?: string;
}

export type SubmitOutcome = {
  records: JobRecord[];
  /** With `attach` (one replica): the job's output stream (api/follow.ts lines). */
  stream?: ReadableStream<Uint8Array>;
};

const enc = new TextEncoder();
const line = (l: StreamLine) => enc.encode(JSON.stringify(l) + "\n");

export class JobService {
  readonly #d: JobServiceDeps;
  readonly #owned: OwnedJobs;
  readonly #shipper: Shipper;
  readonly #receiver: Receiver;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #retryTimer: ReturnType<typeof setInterval> | undefined;
  #reportTimer: ReturnType<typeof setInterval> | undefined;
  /** Attempts that were running here when the agent last stopped, and reports left to tell them. */
  readonly #lostAtStart = new Map<string, JobRecord>();
  #lostReportsLeft = LOST_REPORT_ROUNDS;
  /** A periodic report has run (not only the ones members joining set off). */
  #periodic = false;
  #retrySoon: ReturnType<typeof setTimeout> | undefined;
  #retryHandOn = false;
  /** A retry pass is running; another was asked for meanwhile (with hand-on, or not). */
  #retrying = false;
  #retryAgain = false;
  #retryAgainHandOn = false;
  /** Members seen failed or left and not back, oldest first (at most MAX_GONE). */
  readonly #gone = new Set<string>();
  /** Dead members' jobs are re-placed one pass after another, never two passes at once. */
  #goneChain: Promise<void> = Promise.resolve();
  /** Jobs this node is placing now (no second placement of the same job at once). */
  readonly #placing = new Set<string>();
  /** ownersOf by owner key, for the current live members (cleared when they change). */
  readonly #ownerCache = new Map<string, string[]>();
  #closed = false;
  /** Attached streams of jobs this node offered itself, by subscription (see `offer`). */
  readonly #localStreams = new Map<number, ReadableStream<Uint8Array>>();
  /** Checkpoints packed for a migration, by job id: the archive being read. */
  readonly #packed = new Map<
    string,
    { file: string; size: number; timer: ReturnType<typeof setTimeout> }
  >();
  #nextLocalSub = 1;
  readonly stats = { offersSent: 0, offersRefused: 0, replaced: 0, fenced: 0 };
  /** Offer sent → admitted, as this node placed them (`/metrics`). */
  readonly roundTrips = new LatencyWindow();
  /** Records for each owner (`own`) and attempts' ends (`ended`): one message per batch. */
  readonly #copies: Batcher<string, JobRecord, JobRecord>;
  readonly #ends: Batcher<string, JobRecord, JobRecord>;
  /** Offers to each target: one message (and one admission commit there) per batch. */
  readonly #offers: Batcher<string, Offer, OfferAnswer>;

  constructor(d: JobServiceDeps) {
    this.#d = d;
    this.#owned = new OwnedJobs(d.kv);
    const limit = {
      weigh: (r: JobRecord) => JSON.stringify(r).length,
      maxWeight: COPY_BATCH_BYTES,
    };
    this.#copies = new Batcher(
      async (owner, jobs) => {
        if (owner === d.selfId) await this.#owned.mergeAll(jobs);
        else await d.rpc.call(owner, SERVICE, "own", { jobs }, QUERY_TIMEOUT_MS);
        return jobs;
      },
      COPY_BATCH,
      limit,
    );
    this.#offers = new Batcher(
      async (target, jobs) =>
        await d.rpc.call(target, SERVICE, "offer", { jobs }, OFFER_TIMEOUT_MS) as OfferAnswer[],
      OFFER_BATCH,
    );
    this.#ends = new Batcher(
      async (owner, jobs) => {
        await d.rpc.call(owner, SERVICE, "ended", { jobs }, QUERY_TIMEOUT_MS);
        return jobs;
      },
      COPY_BATCH,
      limit,
    );
    const send = (to: string, op: "out" | "ack" | "unfollow", body: unknown) =>
      d.rpc.notify(to, SERVICE, op, body, op === "out");
    this.#shipper = new Shipper(send);
    this.#receiver = new Receiver(send);
    this.#register();
  }

  start(): void {
    this.#retryTimer = setInterval(() => this.#retry(), RETRY_INTERVAL_MS);
    this.#reportTimer = setInterval(() => {
      this.#periodic = true;
      this.#report();
    }, REPORT_INTERVAL_MS);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#retryTimer);
    clearInterval(this.#reportTimer);
    clearTimeout(this.#retrySoon);
    for (const t of this.#timers) clearTimeout(t);
    for (const id of [...this.#packed.keys()]) this.#unpack(id);
  }

  // ── submitting ────────────────────────────────────────────────────────────

  /**
   * `herd apply`: each declared job by name. One whose running or pending jobs carry the
   * same declaration is left alone; a changed one is stopped and started anew; the rest
   * are submitted, queued when nothing can take them now.
   */
  async apply(subs: readonly JobSubmission[]): Promise<ApplyResult[]> {
    const current = await this.list(false);
    const out: ApplyResult[] = [];
    for (const s of subs) {
      if (!s.name) throw new ServiceRefusal("invalid", "every job in a job file needs a name");
      const digest = digestOf(s);
      const mine = current.filter((r) => r.spec.applied?.name === s.name);
      if (mine.length > 0 && mine.every((r) => r.spec.applied?.digest === digest)) {
        out.push({
          name: s.name,
          action: "unchanged",
          jobs: mine.map((r) => r.id),
          state: summarize(mine),
        });
        continue;
      }
      for (const r of mine) await this.kill(r).catch(() => {});
      const { records } = await this.submit({ ...s, queue: true }, false, {
        name: s.name,
        digest,
      });
      out.push({
        name: s.name,
        action: mine.length ? "updated" : "created",
        jobs: records.map((r) => r.id),
        state: summarize(records),
        ...(records.find((r) => r.reason) ? { reason: records.find((r) => r.reason)!.reason } : {}),
      });
    }
    return out;
  }

  /** Validates, places and starts (or queues) a submission: one job per replica. */
  async submit(
    s: JobSubmission,
    attach: boolean,
    applied?: { name: string; digest: string },
  ): Promise<SubmitOutcome> {
    const specs = this.#specs(s, applied);
    let stream: ReadableStream<Uint8Array> | undefined;
    const avoid: string[] = [];
    const one = async (spec: JobSpec): Promise<JobRecord> => {
      const now = this.#d.clock.now();
      const id = newJobId(now, this.#d.random);
      let rec: JobRecord = {
        id,
        spec: { ...spec, name: spec.name || id },
        state: "pending",
        nodeId: "",
        attempt: 0,
        submittedAt: now,
        reservation: { cpuMilli: 0, memBytes: 0, gpus: [] },
        logBytes: 0,
        logDroppedBytes: 0,
        origin: this.#d.selfId,
        rev: 1,
      };
      const wantStream = attach && specs.length === 1;
      const placed = await this.#place(rec, spec.spread ? avoid : [], wantStream);
      rec = placed.record;
      if (rec.state === "pending" && specs.length === 1 && !s.queue) {
        // `herd run` as docker run: told at once, nothing kept. `--queue` waits instead.
        const alone = this.#d.liveIds().length === 1;
        throw new ServiceRefusal(
          "does_not_fit",
          alone
            ? `the job does not fit this node: ${placed.why}`
            : `no member can take the job now: ${placed.why}`,
        );
      }
      if (placed.stream) stream = placed.stream;
      if (rec.state === "running") avoid.push(rec.nodeId);
      await this.#replicate(rec);
      return rec;
    };
    // Spread replicas go one after another (each avoids the nodes of those before); the
    // others at once, so their offers and admissions share messages and commits. The
    // placer's holds keep them from all going to the member that looked best first.
    const records: JobRecord[] = [];
    if (specs[0].spread) {
      for (const spec of specs) records.push(await one(spec));
    } else {
      for (let i = 0; i < specs.length; i += REPLICAS_AT_ONCE) {
        records.push(...await Promise.all(specs.slice(i, i + REPLICAS_AT_ONCE).map(one)));
      }
    }
    if (attach && specs.length === 1 && !stream) {
      // Pending: the stream starts with the job and waits for it to be placed.
      stream = this.#attachLater(records[0]);
    }
    return { records, stream };
  }

  #specs(s: JobSubmission, applied?: { name: string; digest: string }): JobSpec[] {
    const replicas = s.replicas ?? 1;
    const restart: Restart = {
      policy: s.restart?.policy ?? DEFAULT_RESTART.policy,
      maxAttempts: s.restart?.maxAttempts ?? DEFAULT_RESTART.maxAttempts,
      backoffMs: s.restart?.backoffMs ?? DEFAULT_RESTART.backoffMs,
    };
    // The runner checks the executor and task and applies the resource defaults.
    const check = this.#d.runner.spec(s);
    if (!check.ok) throw new ServiceRefusal("invalid", check.message);
    const group = replicas === 1
      ? undefined
      : applied
      ? applied.name
      : `${s.name ?? "replicas"}-${this.#d.clock.now().toString(36)}`;
    return Array.from({ length: replicas }, (_, i) => ({
      ...check.spec,
      name: s.name ? (replicas > 1 ? `${s.name}.${i}` : s.name) : "",
      restart,
      ...(s.placement ? { placement: s.placement } : {}),
      ...(group ? { group } : {}),
      ...(s.spread ? { spread: true } : {}),
      ...(s.checkpointDir ? { checkpointDir: s.checkpointDir } : {}),
      ...(applied ? { applied } : {}),
    }));
  }

  /**
   * Ranks the members and offers the next attempt to each in turn until one admits it.
   * Returns the record running there, or pending with the reason. An offer that times
   * out may still have been admitted: the attempt number is used up, so that attempt,
   * if it runs, is fenced by the next.
   */
  async #place(
    rec: JobRecord,
    avoid: readonly string[],
    attach: boolean,
    exclude: ReadonlySet<string> = new Set(),
    /** Offer only to this member (a migration's target). */
    only?: string,
  ): Promise<{ record: JobRecord; stream?: ReadableStream<Uint8Array>; why?: string }> {
    const spec = rec.spec;
    const { policy, antiAffinity, ...constraints } = spec.placement ?? {};
    const request: PlacementRequest = {
      id: rec.id,
      resources: spec.resources,
      ...constraints,
      ...(avoid.length || exclude.size ? { spreadAvoid: [...avoid, ...exclude] } : {}),
      ...(antiAffinity?.length ? { avoidNodes: await this.besideJobs(antiAffinity, rec.id) } : {}),
    };
    const decision = await this.#d.placer.decide(request, policy);
    const ranked = only === undefined
      ? decision.result.ranked
      : decision.result.ranked.filter((c) => c.node.id === only);
    const refusals: string[] = [];
    let attempt = rec.attempt;
    for (const [i, cand] of ranked.slice(0, MAX_OFFERS).entries()) {
      const target = cand.node.id;
      const why = `${decision.policy}: score ${cand.score.toFixed(3)}, ranked ${
        i + 1
      } of ${ranked.length}`;
      const gone: GoneRef = { f: () => {} };
      const sub = attach && target !== this.#d.selfId
        ? this.#receiver.open(target, (why) => gone.f(why))
        : undefined;
      const localSub = attach && target === this.#d.selfId ? this.#nextLocalSub++ : undefined;
      this.stats.offersSent++;
      try {
        const item: Offer = {
          job: {
            id: rec.id,
            spec,
            attempt: attempt + 1,
            submittedAt: rec.submittedAt,
            origin: rec.origin ?? this.#d.selfId,
            why,
          },
          ...(sub ? { attach: sub.sub } : localSub !== undefined ? { attach: localSub } : {}),
        };
        const sent = performance.now();
        const unhold = this.#d.placer.hold(target, spec.resources);
        const answer = await this.#offers.add(target, item).catch((e) => {
          unhold();
          throw e;
        });
        if (!answer.ok) {
          unhold();
          throw new RpcError("remote", answer.message, answer.code);
        }
        const running = asRecord(answer.record);
        if (target !== this.#d.selfId) this.roundTrips.add(performance.now() - sent);
        const record: JobRecord = {
          ...running,
          rev: (rec.rev ?? 0) + 1,
          origin: rec.origin,
          history: rec.history,
        };
        if (!attach) return { record };
        if (localSub !== undefined) {
          const stream = this.#localStreams.get(localSub)!;
          this.#localStreams.delete(localSub);
          return { record, stream };
        }
        return { record, stream: this.#session(record, sub!, gone) };
      } catch (e) {
        sub?.close();
        this.stats.offersRefused++;
        const err = e as RpcError;
        if (!(e instanceof RpcError)) throw e;
        if (err.failure === "timeout") attempt++;
        refusals.push(
          ranked.length === 1 ? err.message : `${cand.node.name || target}: ${err.message}`,
        );
        if (err.failure === "remote" && err.remoteCode === "invalid") {
          // The job cannot run on a herd like that one; another may differ (plugins).
          continue;
        }
      }
    }
    const ex = explain(decision.result, { limit: 0, rejectedLimit: 3 });
    const why = ranked.length === 0
      ? (ex.refused === 1 && ex.rejected[0]
        ? ex.rejected[0].reason
        : `${ex.refused} members refused by filters (${
          Object.entries(ex.byFilter).map(([f, n]) => `${f}: ${n}`).join(", ")
        })${ex.rejected[0] ? `; e.g. ${ex.rejected[0].name}: ${ex.rejected[0].reason}` : ""}`)
      : refusals.slice(0, 3).join("; ");
    const reason = `waiting: ${why}`;
    return {
      why,
      record: {
        ...rec,
        state: "pending",
        nodeId: "",
        attempt,
        reason,
        rev: (rec.rev ?? 0) + 1,
      },
    };
  }

  // ── reading across the cluster ────────────────────────────────────────────

  /** Every job the live members know, merged (the running node's own record preferred). */
  async list(all: boolean): Promise<JobRecord[]> {
    const answers = await this.#ask<JobRecord[]>("list", { all });
    return mergeRecords(answers).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The job with this id, id prefix or name, anywhere in the cluster. */
  async find(key: string): Promise<{ ok: true; job: JobRecord } | { ok: false; message: string }> {
    if (
      !/^[0-9a-z]{1,16}$/.test(key.toLowerCase()) && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(key)
    ) {
      return { ok: false, message: `'${key}' is not a job id or name` };
    }
    const found = mergeRecords(await this.#ask<JobRecord[]>("find", { key }));
    if (found.length === 1) return { ok: true, job: found[0] };
    if (found.length === 0) return { ok: false, message: `no job '${key}'` };
    return { ok: false, message: `'${key}' matches ${found.length} jobs; give more of the id` };
  }

  /** Stops a job wherever it runs (or drops it from the queue). */
  async kill(job: JobRecord): Promise<JobRecord> {
    const at = job.state === "pending" ? this.#primary(job) : job.nodeId;
    if (!at) throw new ServiceRefusal("not_running", `job ${job.id} has no live owner`);
    // The runner answers once the job has exited: allow it its grace period.
    return asRecord(
      await this.#d.rpc.call(
        at,
        SERVICE,
        "kill",
        { id: job.id },
        QUERY_TIMEOUT_MS + this.#d.killGraceMs,
      ),
    );
  }

  /** A job's output: the stored tail (after seq `after`), then (with `follow`) live until it ends. */
  logs(job: JobRecord, follow: boolean, after?: number): ReadableStream<Uint8Array> {
    if (job.nodeId === this.#d.selfId || !job.nodeId) {
      return this.#followLocal(job, false, follow, after);
    }
    const target = job.nodeId;
    let failed = false;
    const sub = this.#receiver.open(target, () => {
      failed = true;
      sub.close();
    });
    this.#d.rpc.call(
      target,
      SERVICE,
      "follow",
      { id: job.id, sub: sub.sub, live: follow, ...(after ? { after } : {}) },
      QUERY_TIMEOUT_MS,
    )
      .catch((e) => {
        if (!failed) this.#d.log(`herd: following job ${job.id} on ${target} failed: ${e.message}`);
        sub.close();
      });
    return sub.stream;
  }

  async #ask<T>(op: Op, body: unknown): Promise<T[]> {
    const ids = this.#d.liveIds();
    const answers = await Promise.allSettled(
      ids.map((id) => this.#d.rpc.call(id, SERVICE, op, body, QUERY_TIMEOUT_MS)),
    );
    const out: T[] = [];
    for (const a of answers) if (a.status === "fulfilled") out.push(a.value as T);
    return out;
  }

  // ── streams ───────────────────────────────────────────────────────────────

  #followLocal(
    job: JobRecord,
    attached: boolean,
    follow = true,
    after?: number,
  ): ReadableStream<Uint8Array> {
    return followStream({
      kv: this.#d.kv,
      hub: this.#d.hub,
      jobId: job.id,
      follow,
      ...(after ? { after } : {}),
      ...(attached ? { first: job } : {}),
      record: async () => (await this.#d.runner.get(job.id)) ?? (await this.#owned.get(job.id)),
    });
  }

  /**
   * An attached reader's stream of a remote job. When the job's node fails, the stream
   * stays open: the job's owners place it again and the stream follows it to its new
   * node (a `note` line says so), or ends with the record they settle on.
   */
  #session(job: JobRecord, first: Subscription, firstGone: GoneRef): ReadableStream<Uint8Array> {
    let attempt = job.attempt;
    let closed = false;
    let current = first;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    /** The bytes after the last newline: a line is passed on only whole. */
    let partial: Uint8Array = new Uint8Array(0);
    const close = (rec?: JobRecord) => {
      if (closed) return;
      closed = true;
      if (rec) controller.enqueue(line({ t: "end", job: rec }));
      controller.close();
    };
    const pipe = async (stream: ReadableStream<Uint8Array>) => {
      const r = stream.getReader();
      for (;;) {
        const { value, done } = await r.read();
        if (done || closed) return;
        const cut = value.lastIndexOf(10) + 1;
        if (cut === 0) {
          partial = concat(partial, value);
          continue;
        }
        controller.enqueue(concat(partial, value.subarray(0, cut)));
        partial = value.slice(cut);
      }
    };
    const follow = (nodeId: string, rec: JobRecord) => {
      partial = new Uint8Array(0);
      const ref: GoneRef = { f: () => {} };
      const sub = this.#receiver.open(nodeId, (why) => ref.f(why));
      watch(sub, ref);
      this.#d.rpc.call(nodeId, SERVICE, "follow", {
        id: rec.id,
        sub: sub.sub,
        live: true,
      }, QUERY_TIMEOUT_MS).catch(() => ref.f("gone"));
    };
    const watch = (sub: Subscription, ref: GoneRef) => {
      current = sub;
      let gone = false;
      ref.f = (why) => {
        if (gone || closed) return;
        gone = true;
        sub.close();
        if (why === "gap" && this.#d.liveIds().includes(sub.nodeId)) {
          // The node is there but a message was lost: the broken line is dropped, and
          // the output goes on from what the job writes next.
          controller.enqueue(line({
            t: "note",
            text: `output of job ${job.id} was interrupted in transit; some lines are missing`,
          }));
          follow(sub.nodeId, { ...job, attempt });
          return;
        }
        relocate();
      };
      pipe(sub.stream).then(() => !gone && close());
    };
    const relocate = async () => {
      controller.enqueue(line({
        t: "note",
        text:
          `the node running job ${job.id} (attempt ${attempt}) is gone; its owners place it again`,
      }));
      while (!closed && !this.#closed) {
        await sleep(RELOCATE_POLL_MS);
        const found = await this.find(job.id).catch(() => undefined);
        if (!found?.ok) continue;
        const rec = found.job;
        if (isFinal(rec.state) && rec.attempt >= attempt) return close(rec);
        if (rec.state !== "running" || rec.attempt <= attempt || !rec.nodeId) continue;
        attempt = rec.attempt;
        controller.enqueue(line({
          t: "note",
          text: `job ${job.id} attempt ${attempt} runs on ${rec.nodeId}`,
        }));
        if (rec.nodeId === this.#d.selfId) {
          pipe(this.#followLocal(rec, false)).then(() => close());
          return;
        }
        follow(rec.nodeId, rec);
        return;
      }
    };
    return new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
        watch(first, firstGone);
      },
      cancel: () => {
        closed = true;
        current.close();
      },
    });
  }

  /** A pending attached job: the stream waits for its placement, then follows it. */
  #attachLater(job: JobRecord): ReadableStream<Uint8Array> {
    let closed = false;
    return new ReadableStream<Uint8Array>({
      start: async (c) => {
        c.enqueue(line({ t: "job", job }));
        c.enqueue(line({ t: "note", text: `job ${job.id} is pending: ${job.reason}` }));
        while (!closed && !this.#closed) {
          await sleep(RELOCATE_POLL_MS * 2);
          const found = await this.find(job.id).catch(() => undefined);
          if (!found?.ok) continue;
          const rec = found.job;
          if (isFinal(rec.state)) {
            c.enqueue(line({ t: "end", job: rec }));
            c.close();
            return;
          }
          if (rec.state !== "running") continue;
          c.enqueue(line({ t: "note", text: `job ${job.id} started on ${rec.nodeId}` }));
          const r = this.logs(rec, true).getReader();
          for (;;) {
            const { value, done } = await r.read();
            if (done) break;
            c.enqueue(value);
          }
          c.close();
          return;
        }
      },
      cancel: () => {
        closed = true;
      },
    });
  }

  // ── membership ────────────────────────────────────────────────────────────

  /** The agent calls this for every membership change. */
  membershipChanged(e: MembershipEvent): void {
    const id = e.member.id;
    if (e.type !== "NodeUpdated") this.#ownerCache.clear();
    if (e.type === "NodeFailed" || e.type === "NodeLeft") {
      this.#d.rpc.memberGone(id);
      this.#shipper.gone(id);
      this.#receiver.gone(id);
      this.#gone.delete(id);
      this.#gone.add(id);
      if (this.#gone.size > MAX_GONE) this.#gone.delete(this.#gone.values().next().value!);
      this.#goneChain = this.#goneChain.then(() => this.#nodeGone()).catch((err) =>
        this.#d.log(`herd: re-placing the jobs of ${id} failed: ${err.stack ?? err}`)
      );
    }
    if (e.type === "NodeJoined") this.#gone.delete(id);
    if (
      e.type === "NodeJoined" || e.type === "NodeUpdated" || e.type === "NodeFailed" ||
      e.type === "NodeLeft"
    ) {
      // The owners or the free resources changed: hand copies on, retry the queue. Once
      // for a burst of changes, and not put off by a stream of them.
      this.#retryHandOn ||= e.type !== "NodeUpdated";
      this.#retrySoon ??= setTimeout(() => {
        const handOn = this.#retryHandOn;
        this.#retrySoon = undefined;
        this.#retryHandOn = false;
        this.#retry(handOn);
      }, 100);
    }
    if (e.type === "NodeJoined") {
      // Perhaps back from a partition: tell the owners what runs here, so they fence.
      this.#later(500, () => this.#report());
    }
  }

  /**
   * A job's owners among the live members, remembered until the members change: every
   * cluster change has each owner look at each of its jobs, and a replica set's jobs
   * share one key.
   */
  #ownersOf(job: JobRecord): string[] {
    const key = ownerKey(job);
    let owners = this.#ownerCache.get(key);
    if (!owners) {
      if (this.#ownerCache.size >= OWNER_CACHE_SIZE) this.#ownerCache.clear();
      owners = ownersOf(key, this.#d.liveIds());
      this.#ownerCache.set(key, owners);
    }
    return owners;
  }

  #primary(job: JobRecord): string | undefined {
    return this.#ownersOf(job)[0];
  }

  #iAmPrimary(job: JobRecord): boolean {
    return this.#primary(job) === this.#d.selfId;
  }

  /**
   * A member died: each job a dead member ran is placed again by its primary owner. Not
   * only the member that just died: when a job's node and its first owner die together,
   * the next owner becomes primary only once it sees the owner's death too, which may
   * come after it saw the node's.
   */
  async #nodeGone(): Promise<void> {
    for (const rec of await this.#owned.list(false)) {
      if (rec.state !== "running" || !this.#gone.has(rec.nodeId) || !this.#iAmPrimary(rec)) {
        continue;
      }
      const ended: JobRecord = {
        ...rec,
        state: "lost",
        finishedAt: this.#d.clock.now(),
        reason: `its node ${rec.nodeId} failed or left`,
      };
      await this.#afterEnd(ended, true);
    }
  }

  /**
   * An attempt ended (reported by its node, or lost with it): record it and, as the
   * primary owner, start the next attempt when the restart policy says so.
   */
  async #afterEnd(ended: JobRecord, nodeLost: boolean): Promise<void> {
    const c = this.#conclude(ended, nodeLost);
    if ("final" in c) return await this.#keep(c.final);
    await this.#keep(c.next);
    this.stats.replaced++;
    if (c.backoff === 0) await this.#placePending(c.next);
    else this.#later(c.backoff, () => this.#retry());
  }

  /** What follows an attempt's end under the job's restart policy: the end, or the next attempt. */
  #conclude(
    ended: JobRecord,
    nodeLost: boolean,
  ): { final: JobRecord } | { next: JobRecord; backoff: number } {
    const restart = ended.spec.restart ?? DEFAULT_RESTART;
    const history: AttemptRecord[] = [
      ...(ended.history ?? []),
      {
        attempt: ended.attempt,
        nodeId: ended.nodeId,
        state: ended.state,
        ...(ended.reason ? { reason: ended.reason } : {}),
        ...(ended.exitCode !== undefined ? { exitCode: ended.exitCode } : {}),
        ...(ended.finishedAt ? { finishedAt: ended.finishedAt } : {}),
      },
    ];
    const again = ended.state !== "killed" && ended.state !== "succeeded"
      ? restart.policy !== "never"
      : ended.state === "succeeded" && restart.policy === "always";
    const attemptsLeft = ended.attempt < restart.maxAttempts;
    if (!again || !attemptsLeft) {
      return {
        final: {
          ...ended,
          history,
          rev: (ended.rev ?? 0) + 1,
          ...(again && !attemptsLeft
            ? {
              reason: `${ended.reason ?? ended.state}; no attempts left (${restart.maxAttempts})`,
            }
            : {}),
        },
      };
    }
    // A dead node's job goes again at once; a failed one waits its backoff.
    const failures = history.filter((h) => h.state !== "succeeded" && h.state !== "lost").length;
    const backoff = nodeLost
      ? 0
      : Math.min(MAX_BACKOFF_MS, restart.backoffMs * 2 ** Math.max(0, failures - 1));
    const next: JobRecord = {
      ...ended,
      state: "pending",
      nodeId: "",
      history,
      rev: (ended.rev ?? 0) + 1,
      reason: `attempt ${ended.attempt} ${ended.state}: ${ended.reason ?? ""}`.trim(),
      notBefore: this.#d.clock.now() + backoff,
      reservation: { cpuMilli: 0, memBytes: 0, gpus: [] },
    };
    delete next.exitCode;
    delete next.startedAt;
    delete next.finishedAt;
    return { next, backoff };
  }

  /** Stores a record here and hands it to the other owners. */
  async #keep(rec: JobRecord): Promise<void> {
    await this.#owned.merge(rec);
    await this.#replicate(rec);
  }

  async #replicate(rec: JobRecord): Promise<void> {
    const owners = this.#ownersOf(rec);
    await Promise.all(
      owners.map((o) =>
        this.#copies.add(o, rec).catch((e) =>
          this.#d.log(`herd: giving owner ${o} a copy of job ${rec.id} failed: ${e.message}`)
        )
      ),
    );
  }

  async #placePending(queued: JobRecord): Promise<void> {
    if (this.#placing.has(queued.id)) return;
    this.#placing.add(queued.id);
    try {
      // The caller's copy may be old: a retry lists the queue, then places its jobs one by
      // one, while another retry or an answer changes them. Placing a stale copy would
      // offer an attempt that already runs (to a node that has not seen it, which admits).
      const rec = await this.#owned.get(queued.id);
      if (!rec || rec.state !== "pending" || rec.attempt !== queued.attempt) return;
      const avoid = rec.spec.spread && rec.spec.group ? await this.#groupNodes(rec) : [];
      const { record } = await this.#place(rec, avoid, false);
      if (record.state === "pending" && record.reason === rec.reason) {
        await this.#owned.merge(record);
        return;
      }
      await this.#keep(record);
    } finally {
      this.#placing.delete(queued.id);
    }
  }

  /** Nodes running a job of one of `names` (by name, replica set or declaration), and which. */
  async besideJobs(names: readonly string[], except?: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const r of await this.list(false)) {
      if (r.state !== "running" || r.id === except || !r.nodeId) continue;
      const name = [r.spec.name, r.spec.group, r.spec.applied?.name].find((n) =>
        n !== undefined && names.includes(n)
      );
      if (name !== undefined) out[r.nodeId] = name;
    }
    return out;
  }

  /**
   * Nodes running the other replicas of `rec`'s group, as the members say: a primary owner
   * that just took the group over (it joined, or an owner died) may not hold every copy yet.
   */
  async #groupNodes(rec: JobRecord): Promise<string[]> {
    return (await this.list(false))
      .filter((r) => r.spec.group === rec.spec.group && r.id !== rec.id && r.state === "running")
      .map((r) => r.nodeId);
  }

  /**
   * Pending jobs whose time has come are placed; with `handOn`, copies go to new owners.
   * One pass at a time: one called while a pass runs (a timer, a burst of member changes)
   * runs once after it, so slow passes on a busy node do not pile up.
   */
  async #retry(handOn = false): Promise<void> {
    if (this.#retrying) {
      this.#retryAgain = true;
      this.#retryAgainHandOn ||= handOn;
      return;
    }
    this.#retrying = true;
    try {
      await this.#retryPass(handOn);
      while (this.#retryAgain && !this.#closed) {
        const again = this.#retryAgainHandOn;
        this.#retryAgain = false;
        this.#retryAgainHandOn = false;
        await this.#retryPass(again);
      }
    } finally {
      this.#retrying = false;
    }
  }

  async #retryPass(handOn: boolean): Promise<void> {
    if (this.#closed) return;
    const now = this.#d.clock.now();
    try {
      for (const rec of await this.#owned.list(false)) {
        // Every holder hands its copies on: a member that joins may become a job's primary
        // owner, and only the holders know the job.
        if (handOn) await this.#replicate(rec);
        if (!this.#iAmPrimary(rec)) continue;
        if (rec.state === "pending" && (rec.notBefore ?? 0) <= now) await this.#placePending(rec);
      }
    } catch (e) {
      this.#d.log(`herd: retrying pending jobs failed: ${(e as Error).stack ?? e}`);
    }
  }

  /**
   * Attempts that were running here when the agent last stopped (the runner marked them
   * lost). Their owners may not have seen this node fail, if it came back quickly: they
   * hear of each end as of any other, and place the job again under its restart policy.
   */
  lostAtStart(records: readonly JobRecord[]): void {
    for (const r of records) this.#lostAtStart.set(r.id, r);
  }

  /** Tells each running job's owners that its attempt runs here; stops the fenced ones. */
  async #report(): Promise<void> {
    if (this.#closed) return;
    this.#reportLost();
    const running = (await this.#d.runner.list(false)).filter((r) => r.state === "running");
    const byOwner = new Map<string, Array<{ id: string; attempt: number }>>();
    for (const r of running) {
      for (const o of this.#ownersOf(r)) {
        if (!byOwner.has(o)) byOwner.set(o, []);
        byOwner.get(o)!.push({ id: r.id, attempt: r.attempt });
      }
    }
    for (const [owner, jobs] of byOwner) {
      this.#d.rpc.call(owner, SERVICE, "running", { jobs }, QUERY_TIMEOUT_MS).then((a) => {
        for (const id of (a as { fenced: string[] }).fenced ?? []) {
          if (this.#d.runner.kill(id, "fenced: a later attempt of the job is current")) {
            this.stats.fenced++;
            this.#d.log(`herd: job ${id}: stopped an old attempt (a later one is current)`);
          }
        }
      }, () => {});
    }
  }

  /**
   * The lost attempts go to their owners once this node sees another member (the owners
   * are among the members then), and again at the next reports, as members come back
   * (an owner takes an end once: a repeat changes nothing). A node that sees no other
   * member at its first periodic report owns its jobs itself.
   */
  #reportLost(): void {
    if (this.#lostAtStart.size === 0) return;
    const others = this.#d.liveIds().some((id) => id !== this.#d.selfId);
    if (!others && this.#lostReportsLeft === LOST_REPORT_ROUNDS && !this.#periodic) return;
    for (const rec of this.#lostAtStart.values()) this.jobEnded(rec);
    if (--this.#lostReportsLeft <= 0) this.#lostAtStart.clear();
  }

  #later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#closed) f();
    }, ms);
    this.#timers.add(t);
  }

  // ── the service other members call ────────────────────────────────────────

  /** The runner's report of an attempt's end: to the owners (and this node's copy). */
  jobEnded(rec: JobRecord): void {
    const owners = this.#ownersOf(rec);
    for (const o of owners) {
      this.#ends.add(o, rec).catch((e) =>
        this.#d.log(`herd: telling owner ${o} job ${rec.id} ended failed: ${e.message}`)
      );
    }
  }

  /** An offer to run an attempt here: admitted and started, or refused with the reason. */
  async #offered(from: string, { job, attach }: Offer): Promise<OfferAnswer> {
    const res = await this.#d.runner.submitPlaced({
      id: job.id,
      spec: job.spec as JobSpec,
      attempt: job.attempt,
      submittedAt: job.submittedAt,
      origin: job.origin,
      ...(job.why ? { why: job.why } : {}),
    });
    if (!res.ok) return { ok: false, code: res.code, message: res.message };
    // Subscribed before anything else runs: the attached reader gets every byte.
    if (attach !== undefined && from === this.#d.selfId) {
      this.#localStreams.set(attach, this.#followLocal(res.record, true));
    } else if (attach !== undefined) {
      this.#shipper.ship(from, attach, this.#followLocal(res.record, true));
    }
    return { ok: true, record: res.record };
  }

  #register(): void {
    const on = <O extends Op>(op: O, f: (from: string, body: Body<O>) => unknown) =>
      this.#d.rpc.handle(SERVICE, op, (from, raw) => {
        const c = checkBody(op, raw);
        if (!c.ok) throw new ServiceRefusal("invalid", c.message);
        return f(from, c.body);
      });

    // Offers that arrive together are admitted together (one KV commit: runner.admissions).
    on("offer", (from, { jobs }) => Promise.all(jobs.map((o) => this.#offered(from, o))));
    on("follow", async (from, { id, sub, live, after }) => {
      const rec = await this.#d.runner.get(id);
      if (!rec) throw new ServiceRefusal("no_such_job", `job ${id} has not run on this node`);
      this.#shipper.ship(from, sub, this.#followLocal(rec, false, live, after));
      return rec;
    });
    on("unfollow", (from, { sub }) => this.#shipper.stop(from, sub));
    on("ack", (from, { sub, seq }) => this.#shipper.ack(from, sub, seq));
    on("out", (from, body) => this.#receiver.receive(from, body));
    on("kill", async (_from, { id, reason }) => {
      if (this.#d.runner.kill(id, reason)) {
        await this.#d.runner.settled(id);
        return await this.#d.runner.get(id);
      }
      const owned = await this.#owned.get(id);
      if (owned && owned.state === "pending") {
        const killed: JobRecord = {
          ...owned,
          state: "killed",
          reason: "killed by request while pending",
          finishedAt: this.#d.clock.now(),
          rev: (owned.rev ?? 0) + 1,
        };
        await this.#keep(killed);
        return killed;
      }
      const rec = (await this.#d.runner.get(id)) ?? owned;
      throw new ServiceRefusal(
        "not_running",
        `job ${id} is not running${rec ? ` (it is ${rec.state})` : " here"}`,
      );
    });
    on("find", async (_from, { key }) => {
      const lower = key.toLowerCase();
      const match = (r: JobRecord) => r.id.startsWith(lower) || r.spec.name === key;
      const mine = (await this.#d.runner.list(true)).filter(match);
      const owned = (await this.#owned.list(true)).filter(match);
      return [...mine, ...owned];
    });
    on("list", async (_from, { all }) => [
      ...await this.#d.runner.list(all),
      ...await this.#owned.list(all),
    ]);
    on("own", async (_from, { jobs }) => {
      await this.#owned.mergeAll(jobs.map(asRecord));
      return true;
    });
    on("ended", async (_from, { jobs }) => {
      const keep: JobRecord[] = [];
      for (const job of jobs) {
        const rec = await this.#ended(asRecord(job));
        if (rec) keep.push(rec);
      }
      await this.#owned.mergeAll(keep);
      return true;
    });
    on("pull", async (_from, { id, from: source, checkpointDir }) => {
      return await this.#pull(id, source, checkpointDir);
    });
    on("carry", async (_from, { id, what, at }) => {
      return what === "logs" ? await this.#carryLogs(id, at) : await this.#carryCheckpoint(id, at);
    });
    on("running", async (from, { jobs }) => {
      const fenced: string[] = [];
      for (const j of jobs) {
        const cur = await this.#owned.get(j.id);
        if (!cur) continue;
        if (fences(cur, j.attempt, from)) fenced.push(j.id);
        else if (cur.state === "pending" && cur.attempt === j.attempt && this.#iAmPrimary(cur)) {
          // An offer that timed out was admitted after all: that attempt is the current one.
          await this.#keep({ ...cur, state: "running", nodeId: from, rev: (cur.rev ?? 0) + 1 });
        }
      }
      return { fenced };
    });
  }

  /**
   * An owner hears that an attempt ended (the job's node tells every owner). Returns the
   * record to keep, or nothing when there is nothing to keep or it was kept already.
   */
  async #ended(rec: JobRecord): Promise<JobRecord | undefined> {
    const cur = await this.#owned.get(rec.id);
    // An end of an attempt that is no longer current changes nothing.
    if (
      cur &&
      (fences(cur, rec.attempt, rec.nodeId) || isFinal(cur.state) && cur.attempt === rec.attempt)
    ) {
      return undefined;
    }
    const merged: JobRecord = {
      ...rec,
      origin: cur?.origin ?? rec.origin,
      history: cur?.history,
      rev: Math.max(cur?.rev ?? 0, rec.rev ?? 0) + 1,
    };
    // Every owner concludes a final end alike; only the primary starts a next attempt.
    const c = this.#conclude(merged, false);
    if ("final" in c) return c.final;
    if (!this.#iAmPrimary(merged)) return merged;
    await this.#afterEnd(merged, false);
    return undefined;
  }

  // ── migration ─────────────────────────────────────────────────────────────

  /**
   * `herd migrate`: stops the job on its node and starts the next attempt on `to` (a
   * member's id) or on the best other member, after copying its output tail and
   * checkpoint dir there. Refused, with nothing stopped, when no other member can take it.
   */
  async migrate(job: JobRecord, to?: string): Promise<JobRecord> {
    if (job.state !== "running") {
      throw new ServiceRefusal("not_running", `job ${job.id} is not running (it is ${job.state})`);
    }
    const source = job.nodeId;
    const { policy, antiAffinity, ...constraints } = job.spec.placement ?? {};
    const decision = await this.#d.placer.decide({
      id: job.id,
      resources: job.spec.resources,
      ...constraints,
      spreadAvoid: [source],
      ...(antiAffinity?.length ? { avoidNodes: await this.besideJobs(antiAffinity, job.id) } : {}),
    }, policy);
    const ranked = decision.result.ranked;
    let target = ranked[0];
    if (to !== undefined) {
      if (to === source) throw new ServiceRefusal("invalid", `job ${job.id} already runs there`);
      target = ranked.find((c) => c.node.id === to)!;
      if (!target) {
        const no = decision.result.rejected.find((r) => r.node.id === to);
        throw new ServiceRefusal(
          "does_not_fit",
          no
            ? `job ${job.id} cannot move to ${no.node.name || to}: ${no.reason}`
            : `job ${job.id} cannot move to ${to}: it is not a live member`,
        );
      }
    }
    if (!target) {
      const ex = explain(decision.result, { limit: 0, rejectedLimit: 1 });
      throw new ServiceRefusal(
        "does_not_fit",
        `no other member can take job ${job.id}${
          ex.rejected[0] ? `: e.g. ${ex.rejected[0].name}: ${ex.rejected[0].reason}` : ""
        }`,
      );
    }
    const name = target.node.name || target.node.id;
    const stopped = asRecord(
      await this.#d.rpc.call(
        source,
        SERVICE,
        "kill",
        { id: job.id, reason: `migrated to ${name}` },
        QUERY_TIMEOUT_MS + this.#d.killGraceMs,
      ),
    );
    const carried = await this.#d.rpc.call(target.node.id, SERVICE, "pull", {
      id: job.id,
      from: source,
      ...(job.spec.checkpointDir ? { checkpointDir: job.spec.checkpointDir } : {}),
    }, PULL_TIMEOUT_MS) as { logBytes: number; checkpointBytes: number };
    const owned = (await this.#owned.get(job.id)) ?? job;
    // An owner may have recorded the stop already (the node's `ended`): once only.
    const earlier = (owned.history ?? []).filter((h) => h.attempt < stopped.attempt);
    const history: AttemptRecord[] = [...earlier, {
      attempt: stopped.attempt,
      nodeId: source,
      state: stopped.state,
      reason: stopped.reason ?? `migrated to ${name}`,
      ...(stopped.exitCode !== undefined ? { exitCode: stopped.exitCode } : {}),
      ...(stopped.finishedAt ? { finishedAt: stopped.finishedAt } : {}),
    }];
    const from: JobRecord = {
      ...owned,
      ...stopped,
      attempt: Math.max(stopped.attempt, owned.attempt),
      history,
      rev: Math.max(owned.rev ?? 0, stopped.rev ?? 0) + 1,
      origin: owned.origin ?? job.origin,
    };
    const placed = await this.#place(from, [], false, new Set([source]), target.node.id);
    const rec: JobRecord = placed.record.state === "running"
      ? { ...placed.record, reason: `migrated from ${source}` }
      : { ...placed.record, reason: `waiting after a migration: ${placed.why}` };
    await this.#keep(rec);
    if (rec.state !== "running") {
      throw new ServiceRefusal(
        "does_not_fit",
        `job ${job.id} was stopped but ${name} refused it (${placed.why}); it waits as pending`,
      );
    }
    this.#d.log(
      `herd: job ${job.id} migrated from ${source} to ${name} (attempt ${rec.attempt}; ${carried.logBytes} bytes of output, ${carried.checkpointBytes} of checkpoint)`,
    );
    return rec;
  }

  /** On the target: fetch the job's output tail and checkpoint from its old node. */
  async #pull(
    id: string,
    source: string,
    checkpointDir: string | undefined,
  ): Promise<{ logBytes: number; checkpointBytes: number }> {
    let logBytes = 0;
    const kv = this.#d.kv;
    // Output first: the next attempt's numbering continues after it (LogWriter.resume).
    await deleteStoredLogs(kv, id);
    for (let after = 0;;) {
      const page = await this.#d.rpc.call(source, SERVICE, "carry", {
        id,
        what: "logs",
        at: after,
      }, QUERY_TIMEOUT_MS) as { chunks: LogChunk[]; more: boolean };
      let write = kv.atomic();
      for (const c of page.chunks) {
        // A copy: the decoded bytes are a view into the whole message, which KV would store.
        write = write.set(keys.log(id, c.seq), { ...c, data: c.data.slice() });
        logBytes += c.data.length;
        after = c.last;
      }
      if (page.chunks.length > 0 && !(await write.commit()).ok) {
        throw new Error("storing the carried output was refused by the store");
      }
      if (!page.more || page.chunks.length === 0) break;
    }
    let checkpointBytes = 0;
    if (checkpointDir) {
      const file = await Deno.makeTempFile({ prefix: "herd-checkpoint-in-", suffix: ".tar.gz" });
      try {
        const out = await Deno.open(file, { write: true });
        try {
          for (;;) {
            const page = await this.#d.rpc.call(source, SERVICE, "carry", {
              id,
              what: "checkpoint",
              at: checkpointBytes,
            }, QUERY_TIMEOUT_MS) as { d: Uint8Array; eof: boolean };
            for (let w = 0; w < page.d.length;) w += await out.write(page.d.subarray(w));
            checkpointBytes += page.d.length;
            if (page.eof) break;
          }
        } finally {
          out.close();
        }
        await unpackCheckpoint(file, checkpointPath(this.#d.checkpointRoot, id, checkpointDir));
      } finally {
        await Deno.remove(file).catch(() => {});
      }
    }
    return { logBytes, checkpointBytes };
  }

  /** On the old node: the stored output after seq `after`, a page at a time. */
  async #carryLogs(id: string, after: number): Promise<{ chunks: LogChunk[]; more: boolean }> {
    const chunks: LogChunk[] = [];
    let bytes = 0;
    const iter = this.#d.kv.list<LogChunk>({
      prefix: keys.logs(id),
      start: keys.log(id, after + 1),
    });
    for await (const e of iter) {
      if (chunks.length > 0 && bytes + e.value.data.length > CARRY_PAGE_BYTES) {
        return { chunks, more: true };
      }
      chunks.push(e.value);
      bytes += e.value.data.length;
    }
    return { chunks, more: false };
  }

  /** On the old node: the job's checkpoint dir packed, from byte `at`. */
  async #carryCheckpoint(id: string, at: number): Promise<{ d: Uint8Array; eof: boolean }> {
    let packed = this.#packed.get(id);
    if (!packed || at === 0) {
      if (packed) this.#unpack(id);
      const rec = await this.#d.runner.get(id);
      if (!rec?.spec.checkpointDir) {
        throw new ServiceRefusal("invalid", `job ${id} has no checkpoint dir on this node`);
      }
      const file = await packCheckpoint(
        checkpointPath(this.#d.checkpointRoot, id, rec.spec.checkpointDir),
      );
      const timer = setTimeout(() => this.#unpack(id), CARRY_KEEP_MS);
      packed = { file, size: (await Deno.stat(file)).size, timer };
      this.#packed.set(id, packed);
    }
    const f = await Deno.open(packed.file, { read: true });
    try {
      await f.seek(at, Deno.SeekMode.Start);
      const buf = new Uint8Array(Math.min(CARRY_PAGE_BYTES, Math.max(0, packed.size - at)));
      let n = 0;
      while (n < buf.length) {
        const r = await f.read(buf.subarray(n));
        if (r === null) break;
        n += r;
      }
      const eof = at + n >= packed.size;
      if (eof) this.#unpack(id);
      return { d: buf.subarray(0, n), eof };
    } finally {
      f.close();
    }
  }

  #unpack(id: string): void {
    const p = this.#packed.get(id);
    if (!p) return;
    this.#packed.delete(id);
    clearTimeout(p.timer);
    Deno.remove(p.file).catch(() => {});
  }

  /** Keeps the finished copies within the history limit. */
  prune(): Promise<void> {
    return this.#owned.prune(this.#d.historyLimit);
  }
}

/**
 * One record per job from several members' answers: the latest attempt; for the same
 * attempt, the running node's own record (it has the output counts) over owners' copies.
 */
export function mergeRecords(answers: readonly JobRecord[][]): JobRecord[] {
  const best = new Map<string, JobRecord>();
  const histories = new Map<string, JobRecord["history"]>();
  for (const list of answers) {
    for (const r of list) {
      const cur = best.get(r.id);
      if (!cur || better(r, cur)) best.set(r.id, r);
      // The runner's record has no history: the owners' copies hold the earlier attempts.
      if ((r.history?.length ?? 0) > (histories.get(r.id)?.length ?? 0)) {
        histories.set(r.id, r.history);
      }
    }
  }
  return [...best.values()].map((r) => {
    const h = histories.get(r.id)?.filter((a) => a.attempt < r.attempt);
    return r.history || !h?.length ? r : { ...r, history: h };
  });
}

function better(a: JobRecord, b: JobRecord): boolean {
  if (a.attempt !== b.attempt) return a.attempt > b.attempt;
  // The same attempt on two nodes (a partition's two sides): the one that prevails.
  if (a.nodeId && b.nodeId && a.nodeId !== b.nodeId) return newer(a, b);
  const aOwn = a.rev === undefined;
  const bOwn = b.rev === undefined;
  // The runner's record has no rev; an owner's copy of the same attempt says the same or
  // less, unless it is final and the runner's is not (the runner died).
  if (aOwn !== bOwn) {
    const own = aOwn ? a : b;
    const copy = aOwn ? b : a;
    const pick = isFinal(copy.state) && !isFinal(own.state) ? copy : own;
    return pick === a;
  }
  return newer(a, b);
}

/** "3 running, 2 pending". */
function summarize(records: readonly JobRecord[]): string {
  const n = new Map<string, number>();
  for (const r of records) n.set(r.state, (n.get(r.state) ?? 0) + 1);
  return [...n].map(([st, k]) => `${k} ${st}`).join(", ");
}

/** A digest of a declaration (keys in order, `queue` left out): equal when unchanged. */
function digestOf(s: JobSubmission): string {
  const { queue: _queue, ...rest } = s;
  const text = stable(rest);
  let a = 0x811c9dc5, b = 0x9747b28c;
  for (let i = 0; i < text.length; i++) {
    a = Math.imul(a ^ text.charCodeAt(i), 0x01000193);
    b = Math.imul(b ^ text.charCodeAt(i), 0x5bd1e995);
  }
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0") +
    text.length.toString(16);
}

function stable(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(stable).join(",")}]`;
  if (x && typeof x === "object") {
    return `{${
      Object.keys(x).sort().filter((k) => (x as Record<string, unknown>)[k] !== undefined)
        .map((k) => `${JSON.stringify(k)}:${stable((x as Record<string, unknown>)[k])}`).join(",")
    }}`;
  }
  return JSON.stringify(x);
}

type Subscription = ReturnType<Receiver["open"]>;
type Offer = Body<"offer">["jobs"][number];
/** The target's answer to one offer (a refusal is an answer, not a failed call). */
type OfferAnswer =
  | { ok: true; record: JobRecord }
  | { ok: false; code: string; message: string };
/** What to do when a followed job's node is gone; set once the stream is built. */
type GoneRef = { f: (why: GoneReason) => void };

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
