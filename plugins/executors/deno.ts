// The `deno` executor: calls a module's default export with a JSON payload inside
// a worker that has no permissions except those the job was granted. The module
// travels as source text (a data: URL), so it needs no file access to load and
// can run on any node.

import type { ExecutorContext, ExecutorOutcome, ExecutorPlugin } from "../sdk.ts";
import type { WorkerMessage, WorkerRequest } from "./deno_worker.ts";

/** Permissions a job may be granted: each a list of paths or hosts. */
export const GRANTABLE = ["read", "write", "net", "env"] as const;
export type Grantable = (typeof GRANTABLE)[number];

/** Task part of a job spec for `deno`. */
export interface DenoTask {
  module: { name: string; source: string };
  payload?: unknown;
  allow?: Partial<Record<Grantable, string[]>>;
}

/** Largest module source accepted. */
export const MAX_MODULE_BYTES = 1024 * 1024;

const WORKER_URL = new URL("./deno_worker.ts", import.meta.url);

function validate(task: Readonly<Record<string, unknown>>): string | undefined {
  const module = task.module as DenoTask["module"] | undefined;
  if (!module || typeof module.source !== "string" || typeof module.name !== "string") {
    return "a module (name and source) is required";
  }
  if (module.source.length > MAX_MODULE_BYTES) return "the module is larger than 1 MiB";
  const allow = task.allow as Record<string, unknown> | undefined;
  if (allow !== undefined) {
    if (typeof allow !== "object" || allow === null) return "allow must be a table";
    for (const [k, v] of Object.entries(allow)) {
      if (!(GRANTABLE as readonly string[]).includes(k)) {
        return `permission '${k}' cannot be granted (grantable: ${GRANTABLE.join(", ")})`;
      }
      if (!Array.isArray(v) || !v.every((x) => typeof x === "string" && x.length > 0)) {
        return `allow.${k} must be a list of paths or hosts`;
      }
    }
  }
  return undefined;
}

function moduleUrl(m: DenoTask["module"]): string {
  const media = /\.(m?js)$/.test(m.name) ? "application/javascript" : "application/typescript";
  const bytes = new TextEncoder().encode(m.source);
  return `data:${media};base64,${bytes.toBase64()}`;
}

/** Turns Deno's advice into herd's: the flag to grant is `--allow-read=PATH` on `herd run`. */
function explain(name: string, message: string): string {
  if (name === "NotCapable" || name === "PermissionDenied") {
    return `permission denied: ${
      message.replace(/, run again with the (--allow-\w+) flag/, "; grant it with herd run $1=…")
    }`;
  }
  return `${name}: ${message}`;
}

function run(ctx: ExecutorContext): Promise<ExecutorOutcome> {
  const task = ctx.task as unknown as DenoTask;
  const allow = task.allow ?? {};
  const grant = (k: Grantable) => (allow[k]?.length ? allow[k] : false);
  const worker = new Worker(WORKER_URL, {
    type: "module",
    name: `herd-job-${ctx.jobId}`,
    deno: {
      permissions: {
        read: grant("read"),
        write: grant("write"),
        net: grant("net"),
        env: grant("env"),
        run: false,
        ffi: false,
        sys: false,
        import: false,
      },
    },
  });
  const enc = new TextEncoder();
  return new Promise<ExecutorOutcome>((resolve) => {
    let settled = false;
    const finish = (o: ExecutorOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ctx.signal.removeEventListener("abort", onAbort);
      worker.terminate();
      resolve(o);
    };
    const timer = ctx.timeoutMs > 0
      ? setTimeout(
        () => finish({ status: "signaled", signal: "SIGTERM", exitCode: 124, timedOut: true }),
        ctx.timeoutMs,
      )
      : undefined;
    const onAbort = () =>
      finish({ status: "signaled", signal: "SIGKILL", exitCode: 137, timedOut: false });
    ctx.signal.addEventListener("abort", onAbort, { once: true });

    worker.onmessage = (e: MessageEvent<WorkerMessage>) => {
      const m = e.data;
      if (m.type === "out") (m.stream === "stdout" ? ctx.stdout : ctx.stderr)(enc.encode(m.text));
      else if (m.type === "done") finish({ status: "exited", exitCode: 0, result: m.result });
      else finish({ status: "error", exitCode: 1, message: explain(m.name, m.message) });
    };
    worker.onerror = (e) => {
      e.preventDefault();
      finish({ status: "error", exitCode: 1, message: `the module failed: ${e.message}` });
    };
    worker.postMessage(
      { moduleUrl: moduleUrl(task.module), payload: task.payload ?? null } satisfies WorkerRequest,
    );
  });
}

export const plugin = {
  kind: "executor",
  name: "deno",
  sdk: 1,
  description: "Calls a module's default export with a JSON payload in a permission-scoped worker.",
  validate,
  run,
} satisfies ExecutorPlugin;
