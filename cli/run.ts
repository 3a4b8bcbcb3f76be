// `herd run`: submit a job, stream its output, exit with its exit code.

import { resolve } from "node:path";
import { isFinal, type JobRecord } from "../core/jobs/job.ts";
import type { StreamLine } from "../core/api/follow.ts";
import type { JobSubmission } from "../core/jobs/job_protocol.ts";
import { HerdError, UsageError } from "../core/errors.ts";
import { parseDuration, parseSize } from "../core/units.ts";
import type { Explanation } from "../core/scheduler/explain.ts";
import { explainText } from "./explain.ts";
import { parseConstraint } from "../core/jobs/constraints.ts";
import { isPolicyPath } from "../core/scheduler/settings.ts";
import {
  Client,
  dataDir,
  EXIT_BROKEN_PIPE,
  ndjson,
  parse,
  printJson,
  ReaderGone,
  writeAll,
} from "./common.ts";

export const HELP = `Usage: herd run [flags] -- COMMAND [ARGS...]
       herd run [flags] --module FILE [--payload JSON] [--allow-read=PATH]...

Runs a job on the node: a process (after --), or a module's default export in a
sandboxed worker (--module). Streams its output and exits with its exit code.

Flags:
  --cpu N              CPUs to reserve (fractions allowed; default jobs.defaultCpu)
  --mem SIZE           memory to reserve, e.g. 512M, 2G (default jobs.defaultMem)
  --gpu N              GPUs to reserve (exported as CUDA_VISIBLE_DEVICES)
  --timeout DURATION   stop the job after e.g. 30s, 5m, 1h30m
  --env K=V            environment variable for the job (repeatable)
  --name NAME          job name (default: its id)
  -d, --detach         print the job id and return at once
  --json               with -d: print the job record as JSON
  --module FILE        run FILE's default export (a Deno function job)
  --payload JSON       the argument passed to it (default null)
  --allow-read=PATHS   grant the function read access (comma-separated; repeatable)
  --allow-write=PATHS  grant write access
  --allow-net=HOSTS    grant network access
  --allow-env=NAMES    grant access to environment variables
  --executor NAME      run with another executor plugin (its task is --task JSON)
  --task JSON          the task for --executor

Placement: the job runs on the member that fits best under the policy. If none can
take it now, herd run fails (exit 125) unless --queue is given.
  --dry-run            rank the members for the job; run nothing, reserve nothing
  --queue              wait as pending (herd ps shows why) until a member can take it
  --replicas N         run N copies (printed ids, as -d); kept at N as nodes come and go
  --spread             at most one replica per node
  --restart POLICY     never | on-failure (default) | always: what follows a failure,
                       or the death of the job's node
  --max-attempts N     attempts in all, the first included (default 3)
  --checkpoint-dir DIR the job's state, kept for its next attempt: $HERD_CHECKPOINT_DIR;
                       \`herd migrate\` copies it to the new node. Relative: under the
                       node's data dir (one per job); absolute: that path on any node
  --policy NAME|PATH   scheduling policy (default scheduler.policy), or a policy
                       module's path, run in a worker without permissions
  --constraint K=V     arch=aarch64, class=Edge, gpu-model=A100, gpu-mem=40G,
                       compute-capability=8.0 (repeatable)
  --label K=V          only nodes with this label (repeatable)
  --near NODE          locality is measured to NODE (default: this node)
  --anti-affinity NAME never on a node running a job (or replica set) named NAME
                       (repeatable)
  --allow-low-battery  allow a node on battery below scheduler.minBattery
  --allow-hot          allow a node above scheduler.maxTemperature

Exit status: the job's exit code; 124 when it timed out; 125 when herd itself
failed (the job does not fit, no node is running, …); 2 for a usage error.
`;

/** herd's own failures, as docker run does, so they differ from the job's codes. */
export const EXIT_HERD_FAILED = 125;

const positiveNumber = (text: string, flag: string, max: number, integer: boolean): number => {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${flag} must be a ${integer ? "whole " : ""}number >= 0: got '${text}'`);
  }
  if (n > max) throw new UsageError(`${flag} must be at most ${max}: got '${text}'`);
  return n;
};

function splitList(values: string[] | undefined): string[] | undefined {
  if (!values) return undefined;
  return values.flatMap((v) => v.split(",")).map((s) => s.trim()).filter(Boolean);
}

/** Builds the job request from the command line; throws UsageError on anything off. */
export async function buildRequest(
  args: string[],
): Promise<
  | {
    req: JobSubmission;
    detach: boolean;
    json: boolean;
    dir?: string;
    dryRun?: { placement: Record<string, unknown> };
  }
  | "help"
> {
  const dd = args.indexOf("--");
  const flagArgs = dd >= 0 ? args.slice(0, dd) : args;
  const command = dd >= 0 ? args.slice(dd + 1) : undefined;
  const { values, positionals } = parse("run", flagArgs, {
    "cpu": { type: "string" },
    "mem": { type: "string" },
    "gpu": { type: "string" },
    "timeout": { type: "string" },
    "env": { type: "string", multiple: true },
    "name": { type: "string" },
    "detach": { type: "boolean", short: "d" },
    "json": { type: "boolean" },
    "module": { type: "string" },
    "payload": { type: "string" },
    "allow-read": { type: "string", multiple: true },
    "allow-write": { type: "string", multiple: true },
    "allow-net": { type: "string", multiple: true },
    "allow-env": { type: "string", multiple: true },
    "executor": { type: "string" },
    "task": { type: "string" },
    "dry-run": { type: "boolean" },
    "policy": { type: "string" },
    "constraint": { type: "string", multiple: true },
    "label": { type: "string", multiple: true },
    "near": { type: "string" },
    "anti-affinity": { type: "string", multiple: true },
    "allow-low-battery": { type: "boolean" },
    "allow-hot": { type: "boolean" },
    "queue": { type: "boolean" },
    "replicas": { type: "string" },
    "spread": { type: "boolean" },
    "restart": { type: "string" },
    "max-attempts": { type: "string" },
    "checkpoint-dir": { type: "string" },
  }, Infinity);
  if (values.help) return "help";
  if (positionals.length > 0) {
    throw new UsageError(
      `run: put the command after --: herd run [flags] -- ${positionals.join(" ")}`,
    );
  }
  const kinds =
    [command !== undefined, values.module !== undefined, values.executor !== undefined].filter(
      Boolean,
    ).length;
  if (kinds === 0) {
    throw new UsageError("run: nothing to run: give a command after --, or --module FILE", {
      hint: "herd run -- echo hello",
    });
  }
  if (kinds > 1) {
    throw new UsageError("run: give only one of a command after --, --module or --executor");
  }
  if (command !== undefined && command.length === 0) {
    throw new UsageError("run: no command after --", { hint: "herd run -- echo hello" });
  }

  const req: JobSubmission = { executor: "exec", task: {} };
  if (values.name !== undefined) req.name = values.name;
  const resources: NonNullable<JobSubmission["resources"]> = {};
  if (values.cpu !== undefined) resources.cpu = positiveNumber(values.cpu, "--cpu", 4096, false);
  if (values.mem !== undefined) resources.memBytes = parseSize(values.mem, "--mem");
  if (values.gpu !== undefined) resources.gpus = positiveNumber(values.gpu, "--gpu", 1024, true);
  if (Object.keys(resources).length) req.resources = resources;
  if (values.timeout !== undefined) {
    req.timeoutMs = parseDuration(values.timeout, "--timeout");
    if (req.timeoutMs === 0) {
      throw new UsageError("--timeout must be more than 0 (leave it out for none)");
    }
  }
  const env: Record<string, string> = {};
  for (const kv of values.env ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new UsageError(`--env takes NAME=VALUE: got '${kv}'`);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }

  if (command !== undefined) {
    req.task = { command, cwd: Deno.cwd(), ...(Object.keys(env).length ? { env } : {}) };
  } else if (values.module !== undefined) {
    req.executor = "deno";
    const path = resolve(values.module);
    let source: string;
    try {
      source = await Deno.readTextFile(path);
    } catch (e) {
      throw new UsageError(
        `--module: cannot read ${path}: ${
          e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message
        }`,
      );
    }
    let payload: unknown = null;
    if (values.payload !== undefined) {
      try {
        payload = JSON.parse(values.payload);
      } catch (e) {
        throw new UsageError(`--payload must be JSON: ${(e as Error).message}`);
      }
    }
    const allow: Record<string, string[]> = {};
    for (const k of ["read", "write", "net", "env"] as const) {
      const list = splitList(values[`allow-${k}`]);
      if (list?.length) {
        allow[k] = k === "read" || k === "write" ? list.map((p) => resolve(p)) : list;
      }
    }
    if (Object.keys(env).length) {
      throw new UsageError(
        "--env is for commands; a --module function gets its input from --payload",
      );
    }
    req.task = { module: { name: path, source }, payload, allow };
  } else {
    req.executor = values.executor!;
    try {
      req.task = values.task === undefined ? {} : JSON.parse(values.task);
    } catch (e) {
      throw new UsageError(`--task must be JSON: ${(e as Error).message}`);
    }
  }
  for (const flag of ["payload", "allow-read", "allow-write", "allow-net", "allow-env"] as const) {
    if (values[flag] !== undefined && values.module === undefined) {
      throw new UsageError(`--${flag} goes with --module`);
    }
  }
  const placement = placementOf(values);
  const dryRun = values["dry-run"] ?? false;
  if (Object.keys(placement).length) req.placement = placement as JobSubmission["placement"];
  if (values.queue) req.queue = true;
  if (values.spread) req.spread = true;
  if (values.replicas !== undefined) {
    req.replicas = positiveNumber(values.replicas, "--replicas", 1000, true);
    if (req.replicas < 1) throw new UsageError("--replicas must be at least 1");
  }
  if (values.restart !== undefined || values["max-attempts"] !== undefined) {
    const policy = values.restart ?? "on-failure";
    if (policy !== "never" && policy !== "on-failure" && policy !== "always") {
      throw new UsageError(`--restart: never, on-failure or always: got '${policy}'`);
    }
    req.restart = { policy };
    if (values["max-attempts"] !== undefined) {
      const n = positiveNumber(values["max-attempts"], "--max-attempts", 1_000_000, true);
      if (n < 1) throw new UsageError("--max-attempts must be at least 1");
      req.restart.maxAttempts = n;
    }
  }
  if (values["checkpoint-dir"] !== undefined) {
    const dir = values["checkpoint-dir"];
    if (dir.length === 0 || dir.split("/").includes("..")) {
      throw new UsageError(`--checkpoint-dir: a directory without '..': got '${dir}'`);
    }
    req.checkpointDir = dir;
  }
  if (dryRun && values.detach) throw new UsageError("run: --dry-run runs nothing to detach from");
  return {
    req,
    // A replica set runs on many nodes: its ids are printed, as with -d.
    detach: (values.detach ?? false) || (req.replicas ?? 1) > 1,
    json: values.json ?? false,
    dir: values["data-dir"],
    ...(dryRun ? { dryRun: { placement } } : {}),
  };
}

/** The placement flags as the API's `placement` (core/api/app.ts PlacementSchema). */
export function placementOf(values: {
  policy?: string;
  constraint?: string[];
  label?: string[];
  near?: string;
  "anti-affinity"?: string[];
  "allow-low-battery"?: boolean;
  "allow-hot"?: boolean;
}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (values.policy !== undefined) {
    out.policy = isPolicyPath(values.policy) ? resolve(values.policy) : values.policy;
  }
  const pair = (flag: string, kv: string): [string, string] => {
    const eq = kv.indexOf("=");
    if (eq <= 0 || eq === kv.length - 1) {
      throw new UsageError(`--${flag} takes KEY=VALUE: got '${kv}'`);
    }
    return [kv.slice(0, eq).trim(), kv.slice(eq + 1).trim()];
  };
  for (const kv of values.constraint ?? []) {
    const [k, val] = pair("constraint", kv);
    Object.assign(out, parseConstraint(k, val, `--constraint ${k}`));
  }
  if (values.label?.length) {
    const labels: Record<string, string> = {};
    for (const kv of values.label) {
      const [k, val] = pair("label", kv);
      labels[k] = val;
    }
    out.labels = labels;
  }
  if (values.near !== undefined) out.near = values.near;
  if (values["anti-affinity"]?.length) out.antiAffinity = values["anti-affinity"];
  if (values["allow-low-battery"]) out.allowLowBattery = true;
  if (values["allow-hot"]) out.allowHot = true;
  return out;
}

/** The exit code `herd run` returns for a finished job. */
export function exitCodeOf(job: JobRecord): number {
  if (job.state === "succeeded") return 0;
  return job.exitCode ?? 1;
}

export async function run(args: string[]): Promise<number> {
  const built = await buildRequest(args);
  if (built === "help") {
    console.log(HELP);
    return 0;
  }
  try {
    return await submit(built);
  } catch (e) {
    if (e instanceof HerdError && !(e instanceof UsageError)) {
      console.error(`herd: ${e.message}`);
      if (e.hint) console.error(`      ${e.hint}`);
      return EXIT_HERD_FAILED;
    }
    throw e;
  }
}

async function submit(
  b: {
    req: JobSubmission;
    detach: boolean;
    json: boolean;
    dir?: string;
    dryRun?: { placement: Record<string, unknown> };
  },
): Promise<number> {
  const client = await Client.connect(dataDir(b.dir).path);
  if (b.dryRun) {
    const e = await client.json<Explanation & { policy: string }>(
      "POST",
      "/v1/placements/explain",
      {
        ...(b.req.resources ? { resources: b.req.resources } : {}),
        placement: b.dryRun.placement,
      },
    );
    if (b.json) printJson(e);
    else console.log(`policy: ${e.policy}\n${explainText(e)}`);
    return e.feasible > 0 ? 0 : EXIT_HERD_FAILED;
  }
  if (b.detach) {
    const answer = await client.json<JobRecord | JobRecord[]>("POST", "/v1/jobs", b.req);
    const jobs = Array.isArray(answer) ? answer : [answer];
    if (b.json) printJson(answer);
    else for (const j of jobs) console.log(j.id);
    return 0;
  }
  const res = await client.request("POST", "/v1/jobs?attach=1", b.req);
  let jobId: string | undefined;
  let interrupted = 0;
  const onInt = () => {
    // Ctrl-C stops the job, as `docker run` does; the stream then reports its end.
    if (++interrupted > 1 || !jobId) Deno.exit(130);
    console.error(`herd: stopping job ${jobId} (Ctrl-C again to leave it running)`);
    client.request("POST", `/v1/jobs/${jobId}/kill`).catch(() => {});
  };
  Deno.addSignalListener("SIGINT", onInt);
  /** The output's sequence number so far: a migrated job is followed on from there. */
  let seq = 0;
  let stream = res;
  try {
    for (;;) {
      const ended = await pipe(stream);
      if (!ended) break;
      if (!jobId || !/^migrated to /.test(ended.reason ?? "")) return report(ended);
      // `herd migrate` moved it: follow its next attempt, from where the output was.
      const next = await nextAttempt(client, jobId, ended.attempt);
      if (!next) return report(ended);
      console.error(`herd: job ${jobId} ${ended.reason}; attempt ${next.attempt} runs there`);
      stream = await client.request("GET", `/v1/jobs/${jobId}/logs?follow=1&after=${seq}`);
    }
  } catch (e) {
    if (!(e instanceof ReaderGone)) throw e;
    // Our reader closed the pipe (`herd run -- yes | head`): stop the job, as SIGPIPE would.
    if (jobId) await client.request("POST", `/v1/jobs/${jobId}/kill`).catch(() => {});
    return EXIT_BROKEN_PIPE;
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
  }
  throw new HerdError(`the node closed the stream before job ${jobId ?? ""} ended`, {
    hint: jobId ? `see 'herd ps --all' and 'herd logs ${jobId}'` : undefined,
  });

  /** Prints one stream's output; the job's record when it says the job ended. */
  async function pipe(res: Response): Promise<JobRecord | undefined> {
    for await (const line of ndjson<StreamLine>(res)) {
      switch (line.t) {
        case "job":
          jobId = line.job.id;
          break;
        case "out":
          await writeAll(Deno.stdout, Uint8Array.fromBase64(line.d));
          seq = Math.max(seq, line.s ?? seq);
          break;
        case "err":
          await writeAll(Deno.stderr, Uint8Array.fromBase64(line.d));
          seq = Math.max(seq, line.s ?? seq);
          break;
        case "note":
          console.error(`herd: ${line.text}`);
          break;
        case "gap":
          console.error(
            `herd: ${line.bytes} bytes of output were dropped (the terminal read too slowly)`,
          );
          break;
        case "end":
          return line.job;
      }
    }
    return undefined;
  }
}

/** How long an attached `herd run` waits for a migrated job's next attempt to start. */
const MIGRATION_WAIT_MS = 30_000;

/** The job's attempt after `attempt` once it runs (a migration starts it within seconds). */
async function nextAttempt(
  client: Client,
  id: string,
  attempt: number,
): Promise<JobRecord | undefined> {
  const deadline = Date.now() + MIGRATION_WAIT_MS;
  while (Date.now() < deadline) {
    const j = await client.json<JobRecord>("GET", `/v1/jobs/${id}`).catch(() => undefined);
    if (j && j.attempt > attempt && (j.state === "running" || isFinal(j.state))) return j;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

function report(job: JobRecord): number {
  if (job.spec.executor === "deno" && job.state === "succeeded") {
    console.log(JSON.stringify(job.result ?? null));
  }
  if (job.state !== "succeeded" && job.reason && !/^exited with code/.test(job.reason)) {
    console.error(`herd: job ${job.id} ${job.state}: ${job.reason}`);
    if (/^migrated to /.test(job.reason)) {
      console.error(`herd: its next attempt did not start: see 'herd ps --all'`);
    }
  }
  return exitCodeOf(job);
}
