// Runs inside the worker of a third-party scheduling policy (worker_policy.ts), which has
// no permissions at all: imports the policy's module (a data: URL), says what it exports,
// then scores batches of feasible nodes — the policy's own filter first, then its score.

/// <reference lib="deno.worker" />

import type { JobRequest, NodeSnapshot, PolicyContext } from "../../plugins/sdk.ts";

export type PolicyRequest =
  | { type: "load"; moduleUrl: string }
  | { type: "score"; id: number; job: JobRequest; nodes: NodeSnapshot[]; ctx: PolicyContext };

export type PolicyReply =
  /** What the module's `plugin` is, for the loader's check (functions cannot be posted). */
  | {
    type: "loaded";
    plugin?: { kind: unknown; name: unknown; sdk: unknown; description: unknown };
    methods: string[];
  }
  /** `scores[i]` is the score of `nodes[i]`; NaN where the policy's filter refused it. */
  | { type: "scores"; id: number; scores: Float64Array; refused: Array<[number, string]> }
  | { type: "fail"; id?: number; name: string; message: string };

const post = (m: PolicyReply, transfer: Transferable[] = []) => self.postMessage(m, transfer);

const fail = (id: number | undefined, err: unknown) =>
  post({
    type: "fail",
    id,
    name: err instanceof Error ? err.name : "Error",
    message: err instanceof Error ? err.message : String(err),
  });

interface Policy {
  filter?(job: JobRequest, node: NodeSnapshot, ctx: PolicyContext): unknown;
  score(job: JobRequest, node: NodeSnapshot, ctx: PolicyContext): unknown;
}

let policy: Policy | undefined;

async function load(moduleUrl: string): Promise<void> {
  const mod = await import(moduleUrl);
  const p = mod.plugin;
  if (!p || typeof p !== "object") {
    post({ type: "loaded", methods: [] });
    return;
  }
  policy = p as Policy;
  post({
    type: "loaded",
    plugin: {
      kind: p.kind,
      name: p.name,
      sdk: p.sdk,
      description: typeof p.description === "string" ? p.description : undefined,
    },
    methods: Object.keys(p).concat(Object.getOwnPropertyNames(Object.getPrototypeOf(p) ?? {}))
      .filter((k) => typeof p[k] === "function"),
  });
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as PromiseLike<unknown> | null)?.then === "function";
}

function score(id: number, job: JobRequest, nodes: NodeSnapshot[], ctx: PolicyContext): void {
  const p = policy!;
  const scores = new Float64Array(nodes.length);
  const refused: Array<[number, string]> = [];
  for (let i = 0; i < nodes.length; i++) {
    const reason = p.filter ? p.filter(job, nodes[i], ctx) : undefined;
    const s = reason === undefined ? p.score(job, nodes[i], ctx) : NaN;
    const out = reason === undefined ? s : reason;
    if (isThenable(out)) {
      // A policy is synchronous; an async one (fetch, readTextFile) is reported with the
      // error it ends with, or as async if it ends well.
      Promise.resolve(out).then(
        () => fail(id, new TypeError("filter() and score() must return at once, not a Promise")),
        (e) => fail(id, e),
      );
      return;
    }
    if (reason !== undefined) {
      refused.push([i, String(reason)]);
      scores[i] = NaN;
    } else {
      scores[i] = typeof s === "number" ? s : NaN;
    }
  }
  post({ type: "scores", id, scores, refused }, [scores.buffer]);
}

self.onmessage = async (e: MessageEvent<PolicyRequest>) => {
  const m = e.data;
  if (m.type === "load") {
    try {
      await load(m.moduleUrl);
    } catch (err) {
      fail(undefined, err);
    }
    return;
  }
  try {
    score(m.id, m.job, m.nodes, m.ctx);
  } catch (err) {
    fail(m.id, err);
  }
};
