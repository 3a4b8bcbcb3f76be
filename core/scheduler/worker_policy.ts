// A third-party scheduling policy, loaded from a path and run in a worker that has no
// permissions: it can compute, and nothing else. The core filters run here, in the calling
// thread; the worker gets the feasible nodes in one message and answers with their scores.
// Every wait on the worker is bounded: a policy that hangs fails the placement with an
// error that names it, instead of stopping placement.
//
// Why a data: URL: a worker with `permissions: "none"` may not read files, including the
// module it is asked to import (Deno 2.9: `Requires read access to "/…/policy.ts"`). Its
// source is read here and handed over as a data: URL, which needs no permission (as the
// `deno` executor does with a job's module). Granting read for that one file would work too,
// but would let the policy read its own file at run time and nothing more useful; with the
// data: URL the worker has no permission at all. The price: a policy is one self-contained
// module (type-only imports of the SDK are fine: they vanish when TypeScript is stripped).

import type { JobRequest, NodeSnapshot, PolicyContext } from "../../plugins/sdk.ts";
import { checkPlugin } from "../../plugins/loader.ts";
import { PolicyError } from "../errors.ts";
import { FilterName } from "./filters.ts";
import { feasibility, type RankResult, rankResult, Refusals, select } from "./pipeline.ts";
import type { PolicyReply, PolicyRequest } from "./policy_worker.ts";

const WORKER_URL = new URL("./policy_worker.ts", import.meta.url);

/** Largest policy module accepted. */
export const MAX_POLICY_BYTES = 1024 * 1024;

export interface WorkerPolicyOptions {
  /**
   * Longest wait for the worker to start, import the module and describe it, in ms.
   * @default 5000
   */
  loadTimeoutMs?: number;
  /**
   * Longest wait for the scores of one decision, in ms.
   * @default 1000
   */
  scoreTimeoutMs?: number;
  /** Base that a relative path is resolved against. @default the current directory */
  base?: string | URL;
}

const DEFAULTS = { loadTimeoutMs: 5_000, scoreTimeoutMs: 1_000 };

/** Decisions that may wait for one policy's worker at once; more are refused. */
export const MAX_WAITING_DECISIONS = 64;

/** Loads the policy module at `specifier` (a path or file: URL) into its own worker. */
export async function loadWorkerPolicy(
  specifier: string,
  options: WorkerPolicyOptions = {},
): Promise<WorkerPolicy> {
  const o = { ...DEFAULTS, ...options };
  for (const k of ["loadTimeoutMs", "scoreTimeoutMs"] as const) {
    if (!(o[k] > 0)) throw new RangeError(`'${k}' must be > 0: got ${o[k]}`);
  }
  const url = new URL(specifier, options.base ?? `file://${Deno.cwd()}/`);
  if (url.protocol !== "file:") {
    throw new PolicyError(specifier, "refused", "a policy is loaded from a path or file: URL", {
      hint: "download the module and name its path",
    });
  }
  let source: string;
  try {
    source = await Deno.readTextFile(url);
  } catch (e) {
    throw new PolicyError(specifier, "refused", `cannot be read: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (source.length > MAX_POLICY_BYTES) {
    throw new PolicyError(specifier, "refused", "is larger than 1 MiB");
  }
  const media = /\.m?js$/.test(url.pathname) ? "application/javascript" : "application/typescript";
  const moduleUrl = `data:${media};base64,${new TextEncoder().encode(source).toBase64()}`;
  const policy = new WorkerPolicy(specifier, moduleUrl, o.loadTimeoutMs, o.scoreTimeoutMs);
  try {
    await policy.start();
  } catch (e) {
    policy.close();
    throw e;
  }
  return policy;
}

/** A policy running in a worker. Decisions are queued: one batch in the worker at a time. */
export class WorkerPolicy {
  /** The plugin's name (what `scheduler.policy` names it by), once loaded. */
  name = "";
  description?: string;
  /** Whether the plugin has its own filter (run in the worker, with the score). */
  hasFilter = false;

  readonly #specifier: string;
  readonly #moduleUrl: string;
  readonly #loadTimeoutMs: number;
  readonly #scoreTimeoutMs: number;
  #worker?: Worker;
  #ready?: Promise<void>;
  #pending?: { id: number; settle: (m: PolicyReply | PolicyError) => void };
  #nextId = 1;
  #queue: Promise<unknown> = Promise.resolve();
  #waiting = 0;
  #closed = false;

  constructor(specifier: string, moduleUrl: string, loadTimeoutMs: number, scoreTimeoutMs: number) {
    this.#specifier = specifier;
    this.#moduleUrl = moduleUrl;
    this.#loadTimeoutMs = loadTimeoutMs;
    this.#scoreTimeoutMs = scoreTimeoutMs;
  }

  /** Starts the worker and checks the module (again after a worker was stopped). */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(this.#error("failed", "is closed"));
    return this.#ready ??= this.#load().catch((e) => {
      this.#stop();
      throw e;
    });
  }

  /**
   * Ranks as `rank` does (pipeline.ts), with the policy's filter and score run in the
   * worker. Rejects with a PolicyError when the policy times out, uses a permission, throws
   * or was refused; the worker is then stopped and started afresh for the next decision.
   */
  rankAsync(
    job: JobRequest,
    nodes: readonly NodeSnapshot[],
    ctx: PolicyContext,
  ): Promise<RankResult> {
    if (this.#waiting >= MAX_WAITING_DECISIONS) {
      return Promise.reject(
        this.#error("failed", `${MAX_WAITING_DECISIONS} decisions already wait for it`),
      );
    }
    this.#waiting++;
    const run = this.#queue.then(() => this.#rank(job, nodes, ctx))
      .finally(() => this.#waiting--);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Stops the worker. Pending and later decisions fail. */
  close(): void {
    this.#closed = true;
    this.#stop();
  }

  async #rank(
    job: JobRequest,
    nodes: readonly NodeSnapshot[],
    ctx: PolicyContext,
  ): Promise<RankResult> {
    await this.start();
    const refusals = new Refusals(job, nodes, ctx);
    const candidates = feasibility(job, nodes, ctx, undefined, refusals);
    let reply: PolicyReply;
    try {
      const id = this.#nextId++;
      reply = await this.#ask(
        {
          type: "score",
          id,
          job,
          nodes: Array.from(candidates, (i) => nodes[i]),
          ctx: { settings: ctx.settings, sequence: ctx.sequence, nodeCount: ctx.nodeCount },
        },
        id,
        this.#scoreTimeoutMs,
        "score",
      );
    } catch (e) {
      this.#stop();
      throw e;
    }
    if (reply.type !== "scores" || reply.scores.length !== candidates.length) {
      this.#stop();
      throw this.#error("failed", "the worker gave no scores");
    }
    // The policy's own refusals, then the rest through the same select as built-ins.
    const refusedAt = new Set<number>();
    for (const [k, reason] of reply.refused) {
      refusedAt.add(k);
      refusals.refuseWith(candidates[k], FilterName.Policy, reason);
    }
    const kept = candidates.filter((_, k) => !refusedAt.has(k));
    const scores = reply.scores.filter((_, k) => !refusedAt.has(k));
    return rankResult(select(nodes, kept, scores, refusals), refusals);
  }

  async #load(): Promise<void> {
    this.#worker = new Worker(WORKER_URL, {
      type: "module",
      name: `herd-policy ${this.#specifier}`,
      deno: { permissions: "none" },
    });
    this.#worker.onmessage = (e: MessageEvent<PolicyReply>) => this.#reply(e.data);
    // An uncaught error ends the worker: fail what waits on it, start afresh next time.
    this.#worker.onerror = (e) => {
      e.preventDefault();
      this.#pending?.settle(this.#failure("Error", e.message));
      this.#stop();
    };
    const reply = await this.#ask(
      { type: "load", moduleUrl: this.#moduleUrl },
      0,
      this.#loadTimeoutMs,
      "load",
    );
    if (reply.type !== "loaded") throw this.#error("failed", "the worker did not load it");
    if (!reply.plugin) throw this.#error("refused", "does not export `plugin`");
    // The loader's own check, on a stand-in: functions do not cross to this thread.
    const shape: Record<string, unknown> = { ...reply.plugin };
    for (const m of reply.methods) shape[m] = () => {};
    try {
      checkPlugin(shape, this.#specifier);
    } catch (e) {
      const msg = (e as Error).message.replace(`plugin ${this.#specifier}: `, "");
      throw this.#error("refused", msg, e);
    }
    if (shape.kind !== "scheduling-policy") {
      throw this.#error("refused", `is a ${shape.kind} plugin, not a scheduling-policy`);
    }
    this.name = shape.name as string;
    this.description = shape.description as string | undefined;
    this.hasFilter = reply.methods.includes("filter");
  }

  /** Sends one request and waits for its reply, at most `timeoutMs`. */
  #ask(req: PolicyRequest, id: number, timeoutMs: number, what: string): Promise<PolicyReply> {
    const worker = this.#worker;
    if (!worker) return Promise.reject(this.#error("failed", "has no worker"));
    return new Promise<PolicyReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending = undefined;
        reject(this.#error("timeout", `no answer to ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending = {
        id,
        settle: (m) => {
          clearTimeout(timer);
          this.#pending = undefined;
          if (m instanceof PolicyError) reject(m);
          else if (m.type === "fail") reject(this.#failure(m.name, m.message));
          else resolve(m);
        },
      };
      worker.postMessage(req);
    });
  }

  #reply(m: PolicyReply): void {
    const p = this.#pending;
    if (!p) return;
    // A reply to a request given up on (timed out) is dropped; a worker error is for any.
    if (m.type === "scores" && m.id !== p.id) return;
    if (m.type === "fail" && m.id !== undefined && m.id !== p.id) return;
    p.settle(m);
  }

  #failure(name: string, message: string): PolicyError {
    // In a worker's uncaught error, the name is part of the message.
    const denied = name === "NotCapable" || name === "PermissionDenied" ||
      /\b(NotCapable|PermissionDenied)\b/.test(message);
    if (denied) {
      const what = message.replace(/^.*?(NotCapable|PermissionDenied): /, "")
        .replace(/, run again with the --allow-\w+ flag/, "");
      return this.#error(
        "permission",
        `permission denied: ${what}; a scheduling policy runs with no permissions ` +
          "(no files, network, environment or subprocesses)",
      );
    }
    return this.#error("failed", `${name}: ${message}`);
  }

  #error(reason: PolicyError["reason"], message: string, cause?: unknown): PolicyError {
    return new PolicyError(this.#specifier, reason, message, { cause });
  }

  #stop(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#ready = undefined;
    const p = this.#pending;
    this.#pending = undefined;
    p?.settle(this.#error("failed", "its worker was stopped"));
  }
}
