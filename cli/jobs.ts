// `herd ps`, `herd logs`, `herd kill`: look at and stop jobs.

import type { JobRecord } from "../core/jobs/job.ts";
import type { StreamLine } from "../core/api/follow.ts";
import { UsageError } from "../core/errors.ts";
import { formatBytes, formatDuration } from "../core/units.ts";
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
import { table } from "./table.ts";

export const PS_HELP = `Usage: herd ps [--all] [--json]

Lists the cluster's running and pending jobs (asking every live member); --all adds
finished, failed, killed and lost ones. NODE is where each runs, WHY the policy's
choice (score and rank), or for a pending job what it waits for.
`;

export const LOGS_HELP = `Usage: herd logs JOB [-f]

Prints a job's output (the newest jobs.logTailBytes of it); -f follows it until
the job ends. JOB is an id, a unique prefix of one, or a job name.
`;

export const KILL_HELP = `Usage: herd kill JOB

Stops a running job: SIGTERM to its process group, SIGKILL after jobs.killGrace.
`;

function command(j: JobRecord): string {
  const t = j.spec.task as { command?: string[]; module?: { name: string } };
  const text = t.command
    ? t.command.join(" ")
    : t.module
    ? `deno ${t.module.name.split("/").pop()}`
    : j.spec.executor;
  return text.length > 40 ? text.slice(0, 39) + "…" : text;
}

function status(j: JobRecord, now: number): string {
  switch (j.state) {
    case "running":
      return `running ${formatDuration(now - (j.startedAt ?? now))}`;
    case "succeeded":
      return "succeeded";
    case "failed":
      return j.signal ? `failed (${j.signal})` : `failed (${j.exitCode ?? "?"})`;
    default:
      return j.state;
  }
}

const resources = (j: JobRecord) =>
  [
    `${j.spec.resources.cpu} cpu`,
    formatBytes(j.spec.resources.memBytes),
    j.spec.resources.gpus ? `${j.spec.resources.gpus} gpu` : "",
  ]
    .filter(Boolean).join(", ");

export async function ps(args: string[]): Promise<number> {
  const { values } = parse("ps", args, {
    all: { type: "boolean", short: "a" },
    json: { type: "boolean" },
  });
  if (values.help) return (console.log(PS_HELP), 0);
  const client = await Client.connect(dataDir(values["data-dir"]).path);
  const jobs = await client.json<Array<JobRecord & { nodeName?: string }>>(
    "GET",
    `/v1/jobs${values.all ? "?all=1" : ""}`,
  );
  if (values.json) return (printJson(jobs), 0);
  const now = Date.now();
  const rows = jobs.reverse().map((j) => [
    j.id,
    j.spec.name === j.id ? "" : j.spec.name,
    command(j),
    status(j, now),
    resources(j),
    // Where it runs and why it was chosen; a pending job says what it waits for.
    j.state === "pending" ? "-" : (j.nodeName || j.nodeId.slice(0, 8)),
    j.state === "pending" ? (j.reason ?? "") : (j.why ?? ""),
    `${formatDuration(now - j.submittedAt)} ago`,
  ]);
  console.log(
    table(["JOB", "NAME", "COMMAND", "STATUS", "RESOURCES", "NODE", "WHY", "CREATED"], rows),
  );
  if (!values.all && jobs.length === 0) {
    console.error("no running jobs (herd ps --all lists finished ones)");
  }
  return 0;
}

export async function logs(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    "logs",
    args,
    { follow: { type: "boolean", short: "f" } },
    1,
  );
  if (values.help) return (console.log(LOGS_HELP), 0);
  if (positionals.length === 0) throw new UsageError("logs: which job? herd logs JOB [-f]");
  const client = await Client.connect(dataDir(values["data-dir"]).path);
  const res = await client.request(
    "GET",
    `/v1/jobs/${encodeURIComponent(positionals[0])}/logs${values.follow ? "?follow=1" : ""}`,
  );
  try {
    for await (const line of ndjson<StreamLine>(res)) {
      if (line.t === "out") await writeAll(Deno.stdout, Uint8Array.fromBase64(line.d));
      else if (line.t === "err") await writeAll(Deno.stderr, Uint8Array.fromBase64(line.d));
      else if (line.t === "gap") {
        console.error(`herd: ${line.bytes} bytes of output were dropped (read too slowly)`);
      } else if (line.t === "end" && line.job.logDroppedBytes > 0) {
        console.error(
          `herd: the oldest ${
            formatBytes(line.job.logDroppedBytes)
          } of output were not kept (jobs.logTailBytes)`,
        );
      }
    }
  } catch (e) {
    if (e instanceof ReaderGone) return EXIT_BROKEN_PIPE;
    throw e;
  }
  return 0;
}

export async function kill(args: string[]): Promise<number> {
  const { values, positionals } = parse("kill", args, {}, 1);
  if (values.help) return (console.log(KILL_HELP), 0);
  if (positionals.length === 0) throw new UsageError("kill: which job? herd kill JOB");
  const client = await Client.connect(dataDir(values["data-dir"]).path);
  const job = await client.json<JobRecord>(
    "POST",
    `/v1/jobs/${encodeURIComponent(positionals[0])}/kill`,
  );
  console.log(`${job.id} ${job.state}`);
  return 0;
}
