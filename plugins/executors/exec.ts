// The `exec` executor: runs a job as a process. The process leads its own process
// group (detached), so a kill or timeout reaches everything it started.

import type { ExecutorContext, ExecutorOutcome, ExecutorPlugin } from "../sdk.ts";

/** Task part of a job spec for `exec`. */
export interface ExecTask {
  command: string[];
  env?: Record<string, string>;
  cwd?: string;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2 };

function validate(task: Readonly<Record<string, unknown>>): string | undefined {
  const { command, env, cwd } = task;
  if (!Array.isArray(command) || command.length === 0) return "a command to run is required";
  if (!command.every((a) => typeof a === "string")) return "command arguments must be strings";
  if ((command[0] as string).length === 0) return "the command name is empty";
  if (env !== undefined) {
    if (typeof env !== "object" || env === null || Array.isArray(env)) {
      return "env must be a table of strings";
    }
    for (const [k, v] of Object.entries(env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) return `environment variable name '${k}' is invalid`;
      if (typeof v !== "string") return `environment variable ${k} must be a string`;
    }
  }
  if (cwd !== undefined && (typeof cwd !== "string" || !cwd.startsWith("/"))) {
    return "cwd must be an absolute path";
  }
  return undefined;
}

/** Sends a signal to the job's whole process group; a group already gone is fine. */
function signalGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound) && !(e instanceof TypeError)) throw e;
  }
}

async function pump(
  stream: ReadableStream<Uint8Array>,
  sink: (c: Uint8Array) => void | Promise<void>,
) {
  for await (const chunk of stream) await sink(chunk);
}

async function run(ctx: ExecutorContext): Promise<ExecutorOutcome> {
  const task = ctx.task as unknown as ExecTask;
  const [cmd, ...args] = task.command;
  if (task.cwd !== undefined) {
    try {
      if (!(await Deno.stat(task.cwd)).isDirectory) {
        return {
          status: "error",
          exitCode: 126,
          message: `working directory ${task.cwd} is not a directory`,
        };
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        return {
          status: "error",
          exitCode: 126,
          message: `working directory ${task.cwd} does not exist on this node`,
        };
      }
      throw e;
    }
  }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      cwd: task.cwd,
      env: { ...ctx.env, ...task.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return { status: "error", exitCode: 127, message: `command not found: ${cmd}` };
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      return { status: "error", exitCode: 126, message: `permission denied: ${cmd}` };
    }
    return {
      status: "error",
      exitCode: 126,
      message: `cannot start ${cmd}: ${(e as Error).message}`,
    };
  }

  let timedOut = false;
  let stopping = false;
  let forceTimer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    signalGroup(child.pid, "SIGTERM");
    forceTimer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), ctx.killGraceMs);
  };
  const timeoutTimer = ctx.timeoutMs > 0
    ? setTimeout(() => {
      timedOut = true;
      stop();
    }, ctx.timeoutMs)
    : undefined;
  ctx.signal.addEventListener("abort", stop, { once: true });
  if (ctx.signal.aborted) stop();

  const [status] = await Promise.all([
    child.status,
    pump(child.stdout, ctx.stdout),
    pump(child.stderr, ctx.stderr),
  ]);
  clearTimeout(timeoutTimer);
  clearTimeout(forceTimer);
  ctx.signal.removeEventListener("abort", stop);
  // The leader is gone; make sure nothing it left in its group outlives the job.
  signalGroup(child.pid, "SIGKILL");

  if (status.signal !== null) {
    const n = SIGNAL_NUMBERS[status.signal] ?? 0;
    return {
      status: "signaled",
      signal: status.signal,
      exitCode: timedOut ? 124 : 128 + n,
      timedOut,
    };
  }
  if (timedOut) return { status: "signaled", signal: "SIGTERM", exitCode: 124, timedOut: true };
  return { status: "exited", exitCode: status.code };
}

export const plugin = {
  kind: "executor",
  name: "exec",
  sdk: 1,
  description: "Runs a process with its arguments, environment and working directory.",
  validate,
  run,
} satisfies ExecutorPlugin;
