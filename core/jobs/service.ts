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
import { followStream, type StreamLine } from "../api/follow.ts";
import type { LogHub } from "./logs.ts";
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
import { fences, newer, OwnedJobs } from "./owned.ts";
import { ownerKey, ownersOf } from "./owners.ts";
import { Receiver, Shipper } from "./output_shipping.ts";

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
/** Longest wait before a restart. */
export const MAX_BACKOFF_MS = 60_000;
/** While a followed job's node is gone, its owners are asked where it went this often. */
const RELOCATE_POLL_MS = 200;
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
  #retrySoon: ReturnType<typeof setTimeout> | undefined;
  /** Whether the coming #retrySoon hands copies on (a later NodeUpdated must not drop it). */
  #handOnSoon = false;
  /** Members seen failed or left and not back, oldest first (at most MAX_GONE). */
  readonly #gone = new Set<string>();
  /** Dead members' jobs are re-placed one pass after another, never two passes at once. */
  #goneChain: Promise<void> = Promise.resolve();
  /** Jobs this node is placing now (no second placement of the same job at once). */
  readonly #placing = new Set<string>();
  #closed = false;
  /** Attached streams of jobs this node offered itself, by subscription (see `offer`). */
  readonly #localStreams = new Map<number, ReadableStream<Uint8Array>>();
  #nextLocalSub = 1;
  readonly stats = { offersSent: 0, offersRefused: 0, replaced: 0, fenced: 0 };

  constructor(d: JobServiceDeps) {
    this.#d = d;
    this.#owned = new OwnedJobs(d.kv);
    const send = (to: string, op: "out" | "ack" | "unfollow", body: unknown) =>
      d.rpc.notify(to, SERVICE, op, body, op === "out");
    this.#shipper = new Shipper(send);
    this.#receiver = new Receiver(send);
    this.#register();
  }

  start(): void {
    this.#retryTimer = setInterval(() => this.#retry(), RETRY_INTERVAL_MS);
    this.#reportTimer = setInterval(() => this.#report(), REPORT_INTERVAL_MS);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#retryTimer);
    clearInterval(this.#reportTimer);
    clearTimeout(this.#retrySoon);
    for (const t of this.#timers) clearTimeout(t);
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
    const records: JobRecord[] = [];
    let stream: ReadableStream<Uint8Array> | undefined;
    const avoid: string[] = [];
    for (const spec of specs) {
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
        const one = this.#d.liveIds().length === 1;
        throw new ServiceRefusal(
          "does_not_fit",
          one
            ? `the job does not fit this node: ${placed.why}`
            : `no member can take the job now: ${placed.why}`,
        );
      }
      if (placed.stream) stream = placed.stream;
      if (rec.state === "running") avoid.push(rec.nodeId);
      records.push(rec);
      await this.#replicate(rec);
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
  ): Promise<{ record: JobRecord; stream?: ReadableStream<Uint8Array>; why?: string }> {
    const spec = rec.spec;
    const { policy, ...constraints } = spec.placement ?? {};
    const request: PlacementRequest = {
      id: rec.id,
      resources: spec.resources,
      ...constraints,
      ...(avoid.length || exclude.size ? { spreadAvoid: [...avoid, ...exclude] } : {}),
    };
    const decision = await this.#d.placer.decide(request, policy);
    const ranked = decision.result.ranked;
    const refusals: string[] = [];
    let attempt = rec.attempt;
    for (const [i, cand] of ranked.slice(0, MAX_OFFERS).entries()) {
      const target = cand.node.id;
      const why = `${decision.policy}: score ${cand.score.toFixed(3)}, ranked ${
        i + 1
      } of ${ranked.length}`;
      const gone: GoneRef = { f: () => {} };
      const sub = attach && target !== this.#d.selfId
        ? this.#receiver.open(target, () => gone.f())
        : undefined;
      const localSub = attach && target === this.#d.selfId ? this.#nextLocalSub++ : undefined;
      this.stats.offersSent++;
      try {
        const body: Body<"offer"> = {
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
        const running = asRecord(
          await this.#d.rpc.call(target, SERVICE, "offer", body, OFFER_TIMEOUT_MS),
        );
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
    return asRecord(await this.#d.rpc.call(at, SERVICE, "kill", { id: job.id }, QUERY_TIMEOUT_MS));
  }

  /** A job's output: the stored tail, then (with `follow`) live until it ends. */
  logs(job: JobRecord, follow: boolean): ReadableStream<Uint8Array> {
    if (job.nodeId === this.#d.selfId || !job.nodeId) return this.#followLocal(job, false, follow);
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
      { id: job.id, sub: sub.sub, live: follow },
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

  #followLocal(job: JobRecord, attached: boolean, follow = true): ReadableStream<Uint8Array> {
    return followStream({
      kv: this.#d.kv,
      hub: this.#d.hub,
      jobId: job.id,
      follow,
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
        controller.enqueue(value);
      }
    };
    const watch = (sub: Subscription, ref: GoneRef) => {
      current = sub;
      let gone = false;
      ref.f = () => {
        if (gone || closed) return;
        gone = true;
        sub.close();
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
        const ref: GoneRef = { f: () => {} };
        const sub = this.#receiver.open(rec.nodeId, () => ref.f());
        watch(sub, ref);
        this.#d.rpc.call(rec.nodeId, SERVICE, "follow", {
          id: rec.id,
          sub: sub.sub,
          live: true,
        }, QUERY_TIMEOUT_MS).catch(() => ref.f());
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
      // The owners or the free resources changed: hand copies on, retry the queue.
      const handOn = this.#handOnSoon || e.type !== "NodeUpdated";
      this.#handOnSoon = handOn;
      clearTimeout(this.#retrySoon);
      this.#retrySoon = setTimeout(() => {
        this.#handOnSoon = false;
        this.#retry(handOn);
      }, 100);
    }
    if (e.type === "NodeJoined") {
      // Perhaps back from a partition: tell the owners what runs here, so they fence.
      this.#later(500, () => this.#report());
    }
  }

  #primary(job: JobRecord): string | undefined {
    return ownersOf(ownerKey(job), this.#d.liveIds())[0];
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
      const final: JobRecord = {
        ...ended,
        history,
        rev: (ended.rev ?? 0) + 1,
        ...(again && !attemptsLeft
          ? { reason: `${ended.reason ?? ended.state}; no attempts left (${restart.maxAttempts})` }
          : {}),
      };
      await this.#keep(final);
      return;
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
    await this.#keep(next);
    this.stats.replaced++;
    if (backoff === 0) await this.#placePending(next);
    else this.#later(backoff, () => this.#retry());
  }

  /** Stores a record here and hands it to the other owners. */
  async #keep(rec: JobRecord): Promise<void> {
    await this.#owned.merge(rec);
    await this.#replicate(rec);
  }

  async #replicate(rec: JobRecord): Promise<void> {
    const owners = ownersOf(ownerKey(rec), this.#d.liveIds());
    await Promise.all(
      owners.map((o) =>
        o === this.#d.selfId
          ? this.#owned.merge(rec)
          : this.#d.rpc.call(o, SERVICE, "own", { job: rec }, QUERY_TIMEOUT_MS).catch((e) =>
            this.#d.log(`herd: giving owner ${o} a copy of job ${rec.id} failed: ${e.message}`)
          )
      ),
    );
  }

  async #placePending(rec: JobRecord): Promise<void> {
    if (this.#placing.has(rec.id)) return;
    this.#placing.add(rec.id);
    try {
      const avoid = rec.spec.spread && rec.spec.group ? await this.#groupNodes(rec) : [];
      const { record } = await this.#place(rec, avoid, false);
      if (record.state === "pending" && record.reason === rec.reason) {
        await this.#owned.merge(record);
        return;
      }
      await this.#keep(record);
    } finally {
      this.#placing.delete(rec.id);
    }
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

  /** Pending jobs whose time has come are placed; with `handOn`, copies go to new owners. */
  async #retry(handOn = false): Promise<void> {
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

  /** Tells each running job's owners that its attempt runs here; stops the fenced ones. */
  async #report(): Promise<void> {
    if (this.#closed) return;
    const running = (await this.#d.runner.list(false)).filter((r) => r.state === "running");
    const byOwner = new Map<string, Array<{ id: string; attempt: number }>>();
    for (const r of running) {
      for (const o of ownersOf(ownerKey(r), this.#d.liveIds())) {
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
    const owners = ownersOf(ownerKey(rec), this.#d.liveIds());
    for (const o of owners) {
      this.#d.rpc.call(o, SERVICE, "ended", { job: rec }, QUERY_TIMEOUT_MS).catch((e) =>
        this.#d.log(`herd: telling owner ${o} job ${rec.id} ended failed: ${e.message}`)
      );
    }
  }

  #register(): void {
    const on = <O extends Op>(op: O, f: (from: string, body: Body<O>) => unknown) =>
      this.#d.rpc.handle(SERVICE, op, (from, raw) => {
        const c = checkBody(op, raw);
        if (!c.ok) throw new ServiceRefusal("invalid", c.message);
        return f(from, c.body);
      });

    on("offer", async (from, { job, attach }) => {
      const res = await this.#d.runner.submitPlaced({
        id: job.id,
        spec: job.spec as JobSpec,
        attempt: job.attempt,
        submittedAt: job.submittedAt,
        origin: job.origin,
        ...(job.why ? { why: job.why } : {}),
      });
      if (!res.ok) throw new ServiceRefusal(res.code, res.message);
      // Subscribed before anything else runs: the attached reader gets every byte.
      if (attach !== undefined && from === this.#d.selfId) {
        this.#localStreams.set(attach, this.#followLocal(res.record, true));
      } else if (attach !== undefined) {
        this.#shipper.ship(from, attach, this.#followLocal(res.record, true));
      }
      return res.record;
    });
    on("follow", async (from, { id, sub, live }) => {
      const rec = await this.#d.runner.get(id);
      if (!rec) throw new ServiceRefusal("no_such_job", `job ${id} has not run on this node`);
      this.#shipper.ship(from, sub, this.#followLocal(rec, false, live));
      return rec;
    });
    on("unfollow", (from, { sub }) => this.#shipper.stop(from, sub));
    on("ack", (from, { sub, seq }) => this.#shipper.ack(from, sub, seq));
    on("out", (from, body) => this.#receiver.receive(from, body));
    on("kill", async (_from, { id }) => {
      if (this.#d.runner.kill(id)) {
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
    on("own", async (_from, { job }) => {
      await this.#owned.merge(asRecord(job));
      return true;
    });
    on("ended", async (_from, { job }) => {
      const rec = asRecord(job);
      const cur = await this.#owned.get(rec.id);
      // An end of an attempt that is no longer current changes nothing.
      if (
        cur &&
        (fences(cur, rec.attempt, rec.nodeId) || isFinal(cur.state) && cur.attempt === rec.attempt)
      ) {
        return true;
      }
      const merged: JobRecord = {
        ...rec,
        origin: cur?.origin ?? rec.origin,
        history: cur?.history,
        rev: Math.max(cur?.rev ?? 0, rec.rev ?? 0) + 1,
      };
      if (this.#iAmPrimary(merged)) await this.#afterEnd(merged, false);
      else await this.#owned.merge(merged);
      return true;
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
  for (const list of answers) {
    for (const r of list) {
      const cur = best.get(r.id);
      if (!cur || better(r, cur)) best.set(r.id, r);
    }
  }
  return [...best.values()];
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
/** What to do when a followed job's node is gone; set once the stream is built. */
type GoneRef = { f: () => void };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
