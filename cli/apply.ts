// `herd apply`: run the jobs YAML files declare. Idempotent: the node finds each job by its
// name, creates what is missing, updates what differs and leaves the rest alone.

import { HerdError, UsageError } from "../core/errors.ts";
import { type JobSubmission, parseJobFile } from "../core/jobs/job_file.ts";
import { Client, dataDir, parse, printJson } from "./common.ts";
import { table } from "./table.ts";

export const APPLY_HELP = `Usage: herd apply FILE.yaml [FILE...] [--dry-run] [--json]

Runs the jobs the files declare ('-' reads standard input), and is safe to run again:
the node finds each job by its name, creates the ones it does not have, updates the
ones that changed and leaves the others alone. Prints what it did to each.

Flags:
  --dry-run   check the files and print the request (JSON); contact no node
  --json      print the node's answer as JSON

A file holds one job per YAML document (documents separated by ---), or a list
under a top-level jobs: key. The fields are herd run's flags:

  name: edge-sensor             required and unique: letters, digits, _ . -
  command: [python3, sense.py]  a process: a list (herd does not split strings)
  env: {MODE: fast}             with command: environment variables
  cwd: ./work                   with command: its working directory
  module: task.ts               or a Deno function: the file's default export
  payload: {n: 10}              with module: its argument (default null)
  allow: {read: [./data], write: [], net: [example.com], env: [HOME]}
  cpu: 1                        CPUs to reserve (fractions allowed)
  mem: 256M                     memory to reserve (512M, 2G, 1.5GiB)
  gpu: 1                        GPUs to reserve
  timeout: 30m                  stop each attempt after this long
  replicas: 5                   copies of the job, 1 to 1000 (default 1)
  spread: true                  at most one replica per node
  restart: on-failure           never, on-failure or always; or a map:
                                {policy: always, max-attempts: 5, backoff: 2s}
  checkpoint-dir: state         $HERD_CHECKPOINT_DIR, kept for the next attempt and
                                copied by \`herd migrate\`; relative to the node's data dir
  policy: NAME|PATH             scheduling policy, or a policy module's path
  constraints: {class: Edge}    also arch, gpu-model, gpu-mem, compute-capability
  labels: {zone: lab}           only nodes with these labels
  near: NODE                    locality is measured to NODE
  anti-affinity: [db]           never on a node running a job (or replica set) named db
  allow-low-battery: true       allow a node on battery below scheduler.minBattery
  allow-hot: true               allow a node above scheduler.maxTemperature

Other relative paths in a file are relative to its directory.

Exit status: 0 when the node applied every job; 2 for a file that is not valid
(nothing is applied); 3 when no node is running.
`;

/** What the node answers to `POST /v1/apply`. */
export interface ApplyResult {
  name: string;
  action: "created" | "unchanged" | "updated";
  /** The ids of the job's replicas. */
  jobs: string[];
  state?: string;
  reason?: string;
}

/** What `-` is called in errors. */
const STDIN = "<stdin>";

export async function apply(args: string[]): Promise<number> {
  const { values, positionals } = parse("apply", args, {
    "dry-run": { type: "boolean" },
    "json": { type: "boolean" },
  }, Infinity);
  if (values.help) {
    console.log(APPLY_HELP);
    return 0;
  }
  if (positionals.length === 0) {
    throw new UsageError("apply: which file? give one or more YAML files ('-' for stdin)", {
      hint: "herd apply jobs.yaml",
    });
  }
  const jobs = await readAll(positionals);
  if (values["dry-run"]) {
    printJson({ jobs });
    return 0;
  }
  const client = await Client.connect(dataDir(values["data-dir"]).path);
  const answer = await client.json<{ results?: ApplyResult[] }>("POST", "/v1/apply", { jobs });
  if (!Array.isArray(answer.results)) {
    throw new HerdError("the node's answer to apply has no results (is it an older herd?)");
  }
  if (values.json) printJson(answer);
  else console.log(resultsTable(answer.results));
  return 0;
}

/** Every file's jobs, in order; a name declared twice (in any files) is an error. */
async function readAll(paths: string[]): Promise<JobSubmission[]> {
  if (paths.filter((p) => p === "-").length > 1) {
    throw new UsageError("apply: '-' (stdin) can be given only once");
  }
  const declaredIn = new Map<string, string>();
  const all: JobSubmission[] = [];
  for (const path of paths) {
    const file = path === "-" ? STDIN : path;
    const jobs = await parseJobFile(await readText(path), {
      path: file,
      ...(path === "-" ? { baseDir: Deno.cwd() } : {}),
      readModule: (p) => Deno.readTextFile(p),
    });
    for (const job of jobs) {
      const first = declaredIn.get(job.name);
      if (first !== undefined) {
        throw new UsageError(
          `${file}: job '${job.name}' is also declared in ${first}`,
          { hint: "apply finds each job by its name: give every job its own" },
        );
      }
      declaredIn.set(job.name, file);
    }
    all.push(...jobs);
  }
  return all;
}

async function readText(path: string): Promise<string> {
  try {
    return path === "-"
      ? await new Response(Deno.stdin.readable).text()
      : await Deno.readTextFile(path);
  } catch (e) {
    throw new UsageError(
      `apply: cannot read ${path === "-" ? STDIN : path}: ${
        e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message
      }`,
    );
  }
}

/** NAME ACTION JOBS STATE/REASON, one row per job. */
export function resultsTable(results: ApplyResult[]): string {
  return table(
    ["NAME", "ACTION", "JOBS", "STATE/REASON"],
    results.map((r) => [
      r.name,
      r.action,
      r.jobs?.length ? r.jobs.join(",") : "-",
      [r.state, r.reason].filter(Boolean).join(": ") || "-",
    ]),
  );
}
