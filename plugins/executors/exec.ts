// The `exec` executor: runs a job as a process. The process leads its own process
// group, so a kill or timeout reaches everything it started. The group is made by
// starting the job through util-linux's `setsid` (it calls setsid(2) and execs the job:
// same pid), not by Deno's `detached`: that forks the whole agent (~2–5 ms of page
// tables per job on a busy node), while a plain spawn is a vfork. Without `setsid` on
// the machine, `detached` it is.

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

/** util-linux's setsid, if the machine has it (it does wherever util-linux is: Debian, Pi OS). */
let setsid: string | null | undefined;
function setsidPath(): string | null {
  if (setsid === undefined) {
    setsid = ["/usr/bin/setsid", "/bin/setsid"].find((p) => isExecutable(p)) ?? null;
  }
  return setsid;
}

function isExecutable(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.isFile && ((st.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * Where `cmd` is, as execvp would find it on `path`: undefined when nowhere, "denied"
 * when only a file that cannot be executed is there.
 */
function lookup(cmd: string, path: string | undefined, cwd?: string): string | undefined {
  // Found ones are remembered a while: a busy node starts the same command many times.
  const key = `${cmd}\0${path}\0${cwd}`;
  const known = found.get(key);
  if (known && known.until > Date.now()) return known.path;
  const where = search(cmd, path, cwd);
  if (where !== undefined && where !== "denied") {
    if (found.size >= 256) found.clear();
    found.set(key, { path: where, until: Date.now() + FOUND_FOR_MS });
  }
  return where;
}

const FOUND_FOR_MS = 10_000;
const found = new Map<string, { path: string; until: number }>();

function search(cmd: string, path: string | undefined, cwd?: string): string | undefined {
  const candidates = cmd.includes("/")
    ? [cmd.startsWith("/") || !cwd ? cmd : `${cwd}/${cmd}`]
    : (path ?? "/usr/local/bin:/usr/bin:/bin").split(":").map((d) => `${d || "."}/${cmd}`);
  let denied = false;
  for (const c of candidates) {
    if (isExecutable(c)) return c;
    try {
      if (Deno.statSync(c).isFile) denied = true;
    } catch { /* not there */ }
  }
  return denied ? "denied" : undefined;
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
  const env = { ...ctx.env, ...task.env };
  const wrapper = setsidPath();
  if (wrapper) {
    // setsid would report a missing command itself, in other words: find it first.
    const found = lookup(cmd, env.PATH ?? Deno.env.get("PATH"), task.cwd);
    if (found === undefined) {
      return { status: "error", exitCode: 127, message: `command not found: ${cmd}` };
    }
    if (found === "denied") {
      return { status: "error", exitCode: 126, message: `permission denied: ${cmd}` };
    }
  }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(wrapper ?? cmd, {
      args: wrapper ? ["--", cmd, ...args] : args,
      cwd: task.cwd,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: !wrapper,
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
