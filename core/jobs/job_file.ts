// Job files: what `herd apply` reads. A YAML file declares jobs — one per document
// (documents separated by `---`), or a `jobs:` list — with `herd run`'s flags as fields:
//
//   name: edge-sensor            # required: apply finds a job again by its name
//   command: [python3, sense.py] # or module: task.ts (with payload, allow)
//   cpu: 1
//   mem: 256M
//   replicas: 5
//   spread: true
//   constraints: { class: Edge }
//
// Each job becomes the body the node's API takes (`JobSubmission`). Anything not fully
// understood is an error naming the file, line, document or list entry, job and field.
// Relative paths in a file (module, cwd, allow.read/write, a policy module,
// checkpoint-dir) are relative to the file's directory.

import { dirname, resolve } from "node:path";
import * as v from "valibot";
import {
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  type Node as YamlNode,
  parseAllDocuments,
} from "yaml";
import { UsageError } from "../errors.ts";
import { parseDuration, parseSize } from "../units.ts";
import { JOB_NAME, type PlacementSchema } from "./job_protocol.ts";
import { CONSTRAINT_KEYS, parseConstraint } from "./constraints.ts";
import { isPolicyPath } from "../scheduler/settings.ts";
import { type DenoTask, GRANTABLE, MAX_MODULE_BYTES } from "../../plugins/executors/deno.ts";

/** Where a job may go: exactly the API's `placement` (job_protocol.ts PlacementSchema). */
export type Placement = v.InferOutput<typeof PlacementSchema>;

export const RESTART_POLICIES = ["never", "on-failure", "always"] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

/** One job as `POST /v1/apply` takes it (in `{ jobs: JobSubmission[] }`). */
export interface JobSubmission {
  /** Required: apply is idempotent by name. */
  name: string;
  /** `exec` for a command, `deno` for a module. */
  executor: string;
  /** exec: `{ command, env?, cwd? }`; deno: a `DenoTask`. */
  task: Record<string, unknown>;
  resources?: { cpu?: number; memBytes?: number; gpus?: number };
  timeoutMs?: number;
  placement?: Placement;
  /** 1..1000; absent means 1. */
  replicas?: number;
  /** At most one replica per node. */
  spread?: boolean;
  restart?: { policy: RestartPolicy; maxAttempts?: number; backoffMs?: number };
  checkpointDir?: string;
}

/** A job name, as the API takes it. */

/** Most replicas one job may ask for. */
export const MAX_REPLICAS = 1000;

/** The fields a job takes, in the order `herd apply --help` lists them. */
export const JOB_FIELDS = [
  "name",
  "command",
  "env",
  "cwd",
  "module",
  "payload",
  "allow",
  "cpu",
  "mem",
  "gpu",
  "timeout",
  "replicas",
  "spread",
  "restart",
  "checkpoint-dir",
  "policy",
  "constraints",
  "labels",
  "near",
  "anti-affinity",
  "allow-low-battery",
  "allow-hot",
] as const;
type Field = (typeof JOB_FIELDS)[number];

const RESTART_FIELDS = ["policy", "max-attempts", "backoff"] as const;

// ───────────────────────────── errors ─────────────────────────────

/** Where in a job file a problem is. */
export interface JobFileLocation {
  file: string;
  /** 1-based line, when known. */
  line?: number;
  /** 1-based document, when the file has more than one. */
  document?: number;
  /** 0-based index in the document's `jobs:` list. */
  index?: number;
  /** The job's name, once it is known to be valid. */
  job?: string;
  /** The field path: `mem`, `command[2]`, `allow.read[0]`, `restart.backoff`. */
  field?: string;
}

/** A job file cannot be used. One line: `FILE:LINE: document 2 (job 'x'): mem must be ...`. */
export class JobFileError extends UsageError {
  constructor(
    readonly at: JobFileLocation,
    readonly problem: string,
    options?: { hint?: string; cause?: unknown },
  ) {
    super(`${at.file}${at.line ? `:${at.line}` : ""}: ${placeText(at)}${problem}`, options);
  }
}

function placeText(at: JobFileLocation): string {
  const parts: string[] = [];
  if (at.document !== undefined) parts.push(`document ${at.document}`);
  if (at.index !== undefined) parts.push(`jobs[${at.index}]`);
  let text = parts.join(", ");
  if (at.job !== undefined) text += text ? ` (job '${at.job}')` : `job '${at.job}'`;
  return text ? `${text}: ` : "";
}

// ───────────────────────────── field schemas ─────────────────────────────
// Each field's shape; messages read after the field's path and before `: got VALUE`.

const QUOTE = "(quote numbers and booleans)";
const text = (max = 4096) =>
  v.pipe(
    v.string(`must be a string ${QUOTE}`),
    v.minLength(1, "must not be empty"),
    v.maxLength(max, `must be at most ${max} characters`),
  );
const sizeOrNumber = v.union([v.string(), v.number()], "must be a size such as 512M or 2G");
const durationOrNumber = v.union(
  [v.string(), v.number()],
  "must be a duration such as 30s, 5m or 1h30m",
);
const stringList = v.array(text(), "must be a list, such as [a, b]");
const flag = v.boolean("must be true or false");

const FIELD_SCHEMAS = {
  name: v.pipe(
    v.string("must be a string"),
    v.regex(JOB_NAME, "must be 1 to 63 letters, digits, '_', '.' or '-', starting with one"),
  ),
  command: v.pipe(
    v.array(v.string(`must be a string ${QUOTE}`), "must be a list, such as [python3, app.py]"),
    v.minLength(1, "must not be empty"),
  ),
  env: v.pipe(
    v.record(
      v.pipe(v.string(), v.regex(/^[^=\0]+$/, "must be a variable name without '='")),
      v.string(`must be a string ${QUOTE}`),
      "must be a map of NAME: VALUE",
    ),
  ),
  cwd: text(),
  module: text(),
  payload: v.unknown(),
  allow: v.record(v.string(), stringList, "must be a map such as {read: [./data]}"),
  cpu: v.pipe(
    v.number("must be a number"),
    v.minValue(0, "must be a number >= 0"),
    v.maxValue(4096, "must be at most 4096"),
  ),
  mem: sizeOrNumber,
  gpu: v.pipe(
    v.number("must be a whole number"),
    v.integer("must be a whole number"),
    v.minValue(0, "must be a whole number >= 0"),
    v.maxValue(1024, "must be at most 1024"),
  ),
  timeout: durationOrNumber,
  replicas: v.pipe(
    v.number(`must be a whole number from 1 to ${MAX_REPLICAS}`),
    v.integer(`must be a whole number from 1 to ${MAX_REPLICAS}`),
    v.minValue(1, `must be a whole number from 1 to ${MAX_REPLICAS}`),
    v.maxValue(MAX_REPLICAS, `must be a whole number from 1 to ${MAX_REPLICAS}`),
  ),
  spread: flag,
  restart: v.union(
    [v.string(), v.record(v.string(), v.unknown())],
    `must be ${RESTART_POLICIES.join(", ")} or a map {policy, max-attempts, backoff}`,
  ),
  "checkpoint-dir": text(),
  policy: text(1024),
  constraints: v.record(
    v.string(),
    v.union([v.string(), v.number()], "must be a string or a number"),
    "must be a map such as {class: Edge, gpu-mem: 40G}",
  ),
  // As core/api/app.ts LabelMap.
  labels: v.pipe(
    v.record(
      v.pipe(v.string(), v.minLength(1), v.maxLength(63, "must be at most 63 characters")),
      v.pipe(
        v.string(`must be a string ${QUOTE}`),
        v.maxLength(63, "must be at most 63 characters"),
      ),
      "must be a map of KEY: VALUE",
    ),
    v.check((r) => Object.keys(r).length <= 32, "must have at most 32 labels"),
  ),
  near: text(64),
  "anti-affinity": v.pipe(
    v.array(text(80), "must be a list of job names such as [db, cache]"),
    v.maxLength(16, "must name at most 16 jobs"),
  ),
  "allow-low-battery": flag,
  "allow-hot": flag,
} satisfies Record<Field, v.GenericSchema>;

type Fields = { [K in Field]?: v.InferOutput<(typeof FIELD_SCHEMAS)[K]> };

const RESTART_SCHEMAS = {
  policy: v.picklist(RESTART_POLICIES, `must be one of ${RESTART_POLICIES.join(", ")}`),
  "max-attempts": v.pipe(
    v.number("must be a whole number from 1 to 1000"),
    v.integer("must be a whole number from 1 to 1000"),
    v.minValue(1, "must be a whole number from 1 to 1000 (attempts in all, the first included)"),
    v.maxValue(1000, "must be a whole number from 1 to 1000"),
  ),
  backoff: durationOrNumber,
};

// ───────────────────────────── parsing ─────────────────────────────

export interface ParseOptions {
  /** The file's path, as errors name it; relative paths in it are relative to its directory. */
  path: string;
  /** The directory relative paths are resolved against (default: the file's). */
  baseDir?: string;
  /** Reads a module's source (`module:`), given its absolute path. */
  readModule(path: string): Promise<string>;
}

/**
 * Parses and validates a job file, and turns each job into the API's body.
 * @throws JobFileError (a UsageError: exit code 2) naming file, line, document or entry,
 * job and field, for malformed YAML or any field not fully understood.
 */
export async function parseJobFile(text: string, opts: ParseOptions): Promise<JobSubmission[]> {
  const lines = new LineCounter();
  const lineOf = (node: unknown): number | undefined =>
    isNode(node) && node.range ? lines.linePos(node.range[0]).line : undefined;
  const docs = parseAllDocuments(text, {
    lineCounter: lines,
    prettyErrors: false,
    merge: true,
    uniqueKeys: true,
  });
  const list = Array.isArray(docs) ? docs : [];
  const multi = list.length > 1;
  const found: Array<{ node: YamlNode | undefined; value: unknown; at: JobFileLocation }> = [];

  for (const [i, doc] of list.entries()) {
    const document = multi ? i + 1 : undefined;
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) {
      const line = lines.linePos(problem.pos[0]).line;
      throw new JobFileError(
        { file: opts.path, line, document },
        `not valid YAML: ${problem.message}`,
      );
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      throw new JobFileError(
        { file: opts.path, line: lineOf(doc.contents), document },
        `not valid YAML: ${(e as Error).message}`,
      );
    }
    if (value === null || value === undefined) continue; // an empty document (a trailing ---)
    const contents = doc.contents as YamlNode | null;
    const at: JobFileLocation = { file: opts.path, line: lineOf(contents), document };
    if (!isPlainObject(value)) {
      throw new JobFileError(
        at,
        `a document must be a job (a map with name, command or module, ...) or a jobs: list`,
        Array.isArray(value) ? { hint: "put the list under a top-level jobs: key" } : undefined,
      );
    }
    if (!("jobs" in value)) {
      found.push({ node: contents ?? undefined, value, at });
      continue;
    }
    const other = Object.keys(value).find((k) => k !== "jobs");
    if (other !== undefined) {
      throw new JobFileError(
        { ...at, line: lineOf(nodeAt(contents, [other], true)) ?? at.line, field: other },
        `a document with a jobs: list takes nothing else: got '${other}'`,
        { hint: "put each job's fields inside its entry of the jobs: list" },
      );
    }
    const jobsNode = nodeAt(contents, ["jobs"]);
    const jobs = value.jobs;
    if (!Array.isArray(jobs) || jobs.length === 0) {
      throw new JobFileError(
        { ...at, line: lineOf(jobsNode) ?? at.line, field: "jobs" },
        `jobs must be a non-empty list of jobs: got ${show(jobs)}`,
      );
    }
    for (const [index, job] of jobs.entries()) {
      const node = nodeAt(jobsNode, [index]);
      found.push({ node, value: job, at: { ...at, line: lineOf(node) ?? at.line, index } });
    }
  }
  if (found.length === 0) {
    throw new JobFileError({ file: opts.path }, "declares no jobs", {
      hint: "a job is a map such as: name: hello, command: [echo, hello]",
    });
  }

  const baseDir = opts.baseDir ?? dirname(resolve(opts.path));
  const seen = new Map<string, JobFileLocation>();
  const out: JobSubmission[] = [];
  for (const { node, value, at } of found) {
    const job = new JobReader(node, at, lineOf, baseDir, opts.readModule);
    const submission = await job.read(value);
    const first = seen.get(submission.name);
    if (first) {
      job.fail(["name"], `name '${submission.name}' is already used by ${placeOf(first)}`, {
        hint: "apply finds each job by its name: give every job its own",
      });
    }
    seen.set(submission.name, job.at);
    out.push(submission);
  }
  return out;
}

function placeOf(at: JobFileLocation): string {
  const parts: string[] = [];
  if (at.document !== undefined) parts.push(`document ${at.document}`);
  if (at.index !== undefined) parts.push(`jobs[${at.index}]`);
  if (at.line !== undefined) parts.push(`line ${at.line}`);
  return parts.length ? parts.join(", ") : "another job";
}

/** Reads one job: checks every field, then builds its submission. */
class JobReader {
  at: JobFileLocation;

  constructor(
    private readonly node: YamlNode | undefined,
    at: JobFileLocation,
    private readonly lineOf: (node: unknown) => number | undefined,
    private readonly baseDir: string,
    private readonly readModule: (path: string) => Promise<string>,
  ) {
    this.at = { ...at };
  }

  /** Throws the error for `path` (a field path), at that field's line. */
  fail(
    path: ReadonlyArray<string | number>,
    problem: string,
    options?: { hint?: string; cause?: unknown; key?: boolean },
  ): never {
    const line = this.lineOf(nodeAt(this.node, path, options?.key));
    throw new JobFileError(
      { ...this.at, line: line ?? this.at.line, field: path.length ? dotPath(path) : undefined },
      problem,
      options,
    );
  }

  /** `value` checked against `schema`, or the error naming `path` and what is wrong. */
  check<S extends v.GenericSchema>(
    path: ReadonlyArray<string | number>,
    schema: S,
    value: unknown,
  ): v.InferOutput<S> {
    const r = v.safeParse(schema, value, { abortEarly: true });
    if (r.success) return r.output;
    const issue = r.issues[0];
    const full = [...path, ...(issue.path ?? []).map((p) => p.key as string | number)];
    const problem = issue.type === "check" && issue.path === undefined
      ? `${dotPath(full)} ${issue.message}`
      : `${dotPath(full)} ${issue.message}: got ${show(issue.input)}`;
    this.fail(full, problem);
  }

  /** Rejects keys not in `known`, naming the first at its line. */
  keys(path: ReadonlyArray<string | number>, value: object, known: readonly string[]) {
    const unknown = Object.keys(value).find((k) => !known.includes(k));
    if (unknown === undefined) return;
    const near = known.find((k) => editDistance(k, unknown) <= 2);
    const where = path.length ? `${dotPath(path)}: ` : "";
    this.fail([...path, unknown], `${where}unknown field '${unknown}'`, {
      key: true,
      hint: `${near ? `did you mean '${near}'? ` : ""}known fields: ${known.join(", ")}`,
    });
  }

  /** `fn()`, its UsageError (from parseSize and the like) given this job's place. */
  parsed<T>(path: ReadonlyArray<string | number>, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof UsageError && !(e instanceof JobFileError)) {
        this.fail(path, e.message, { hint: e.hint });
      }
      throw e;
    }
  }

  async read(value: unknown): Promise<JobSubmission> {
    if (!isPlainObject(value)) {
      this.fail(
        [],
        `a job must be a map of fields (name, command or module, ...): got ${show(value)}`,
      );
    }
    // Name the job in every error, even one found before its name is checked.
    if (typeof value.name === "string" && JOB_NAME.test(value.name)) this.at.job = value.name;
    this.keys([], value, JOB_FIELDS);
    if (value.name === undefined) {
      this.fail([], "name is required: apply finds a job again by its name", {
        hint: "add e.g. name: my-job",
      });
    }
    this.at.job = this.check(["name"], FIELD_SCHEMAS.name, value.name);
    if (typeof value.command === "string") {
      this.fail(["command"], `command must be a list of arguments: got ${show(value.command)}`, {
        hint: `herd does not split a string as a shell would: write command: [${
          value.command.trim().split(/\s+/).join(", ")
        }]`,
      });
    }
    const f: Fields = {};
    for (const key of Object.keys(value) as Field[]) {
      (f as Record<string, unknown>)[key] = this.check([key], FIELD_SCHEMAS[key], value[key]);
    }

    if ((f.command === undefined) === (f.module === undefined)) {
      this.fail(
        f.command ? ["module"] : [],
        f.command
          ? "give only one of command and module"
          : "nothing to run: give command (a list) or module (a file)",
        { hint: "command: [echo, hello] runs a process; module: task.ts a Deno function" },
      );
    }
    const sub: JobSubmission = f.command
      ? { name: f.name!, executor: "exec", task: this.execTask(f) }
      : { name: f.name!, executor: "deno", task: await this.denoTask(f) };

    const resources: NonNullable<JobSubmission["resources"]> = {};
    if (f.cpu !== undefined) resources.cpu = f.cpu;
    if (f.mem !== undefined) {
      const mem = f.mem;
      resources.memBytes = this.parsed(["mem"], () => parseSize(String(mem), "mem"));
    }
    if (f.gpu !== undefined) resources.gpus = f.gpu;
    if (Object.keys(resources).length) sub.resources = resources;
    if (f.timeout !== undefined) {
      const timeout = f.timeout;
      sub.timeoutMs = this.parsed(["timeout"], () => parseDuration(String(timeout), "timeout"));
      if (sub.timeoutMs === 0) {
        this.fail(["timeout"], "timeout must be more than 0 (leave it out for none)");
      }
    }
    const placement = this.placement(f);
    if (Object.keys(placement).length) sub.placement = placement;
    if (f.replicas !== undefined) sub.replicas = f.replicas;
    if (f.spread !== undefined) sub.spread = f.spread;
    if (f.restart !== undefined) sub.restart = this.restart(f.restart);
    // Relative: under the running node's data dir, not this file's (checkpoint.ts).
    if (f["checkpoint-dir"] !== undefined) sub.checkpointDir = f["checkpoint-dir"];
    return sub;
  }

  private execTask(f: Fields): Record<string, unknown> {
    for (const k of ["payload", "allow"] as const) {
      if (k in f) {
        this.fail([k], `${k} goes with module, not command`, { key: true });
      }
    }
    return {
      command: f.command,
      ...(f.env && Object.keys(f.env).length ? { env: f.env } : {}),
      ...(f.cwd !== undefined ? { cwd: resolve(this.baseDir, f.cwd) } : {}),
    };
  }

  /** As cli/run.ts builds `--module`'s task: the source travels; paths are absolute. */
  private async denoTask(f: Fields): Promise<Record<string, unknown>> {
    for (const k of ["env", "cwd"] as const) {
      if (f[k] !== undefined) {
        this.fail([k], `${k} is for commands; a module gets its input from payload`, {
          key: true,
        });
      }
    }
    const path = resolve(this.baseDir, f.module!);
    let source: string;
    try {
      source = await this.readModule(path);
    } catch (e) {
      this.fail(
        ["module"],
        `module ${path} cannot be read: ${
          e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message
        }`,
        { cause: e },
      );
    }
    if (source.length > MAX_MODULE_BYTES) {
      this.fail(["module"], `module ${path} is larger than 1 MiB`);
    }
    const payload = f.payload ?? null;
    const bad = nonJson(payload);
    if (bad) {
      const path = ["payload", ...bad.path];
      this.fail(path, `${dotPath(path)} must be JSON: got ${bad.got}`);
    }
    const allow: NonNullable<DenoTask["allow"]> = {};
    if (f.allow) {
      this.keys(["allow"], f.allow, GRANTABLE);
      for (const k of GRANTABLE) {
        const list = f.allow[k];
        if (list?.length) {
          allow[k] = k === "read" || k === "write"
            ? list.map((p) => resolve(this.baseDir, p))
            : list;
        }
      }
    }
    const task: DenoTask = { module: { name: path, source }, payload, allow };
    return task as unknown as Record<string, unknown>;
  }

  private placement(f: Fields): Placement {
    const out: Placement = {};
    if (f.policy !== undefined) {
      out.policy = isPolicyPath(f.policy) ? resolve(this.baseDir, f.policy) : f.policy;
    }
    if (f.constraints) {
      this.keys(["constraints"], f.constraints, CONSTRAINT_KEYS);
      for (const [k, val] of Object.entries(f.constraints)) {
        const path = ["constraints", k];
        Object.assign(out, this.parsed(path, () => parseConstraint(k, String(val), dotPath(path))));
      }
    }
    if (f.labels && Object.keys(f.labels).length) out.labels = f.labels;
    if (f.near !== undefined) out.near = f.near;
    if (f["anti-affinity"]?.length) out.antiAffinity = f["anti-affinity"];
    if (f["allow-low-battery"]) out.allowLowBattery = true;
    if (f["allow-hot"]) out.allowHot = true;
    return out;
  }

  private restart(value: string | Record<string, unknown>): NonNullable<JobSubmission["restart"]> {
    if (typeof value === "string") {
      return { policy: this.check(["restart"], RESTART_SCHEMAS.policy, value) };
    }
    this.keys(["restart"], value, RESTART_FIELDS);
    if (value.policy === undefined) {
      this.fail(["restart"], `restart.policy is required (${RESTART_POLICIES.join(", ")})`);
    }
    const out: NonNullable<JobSubmission["restart"]> = {
      policy: this.check(["restart", "policy"], RESTART_SCHEMAS.policy, value.policy),
    };
    if (value["max-attempts"] !== undefined) {
      out.maxAttempts = this.check(
        ["restart", "max-attempts"],
        RESTART_SCHEMAS["max-attempts"],
        value["max-attempts"],
      );
    }
    if (value.backoff !== undefined) {
      const b = this.check(["restart", "backoff"], RESTART_SCHEMAS.backoff, value.backoff);
      out.backoffMs = this.parsed(
        ["restart", "backoff"],
        () => parseDuration(String(b), "restart.backoff"),
      );
    }
    return out;
  }
}

// ───────────────────────────── helpers ─────────────────────────────

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** `["allow", "read", 0]` → `allow.read[0]`. */
function dotPath(path: ReadonlyArray<string | number>): string {
  return path.map((p, i) => typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`).join("");
}

/** A value as an error shows it: short, and clear about what YAML made of it. */
function show(x: unknown): string {
  if (x === null || x === undefined) return "nothing";
  if (typeof x === "string") return `'${x.length > 60 ? `${x.slice(0, 57)}...` : x}'`;
  if (Array.isArray(x)) return x.length ? "a list" : "[]";
  if (typeof x === "object") return Object.keys(x).length ? "a map" : "{}";
  return String(x);
}

/**
 * The YAML node at `path` below `node` (the key's node with `key`), or the deepest one found
 * on the way: an error's line is its field's, or its map's when the field came from a merge.
 */
function nodeAt(
  node: unknown,
  path: ReadonlyArray<string | number>,
  key = false,
): YamlNode | undefined {
  let cur: unknown = node;
  for (const [i, p] of path.entries()) {
    let next: unknown;
    if (isMap(cur)) {
      const pair = cur.items.find((it) => isScalar(it.key) && String(it.key.value) === String(p));
      if (!pair) break;
      next = key && i === path.length - 1 ? pair.key : (pair.value ?? pair.key);
    } else if (isSeq(cur) && typeof p === "number") {
      next = cur.items[p];
    }
    if (!isNode(next)) break;
    cur = next;
  }
  return isNode(cur) ? cur : undefined;
}

/** The first part of a payload JSON cannot carry (NaN, .inf, a function), if any. */
function nonJson(
  x: unknown,
  path: Array<string | number> = [],
): { path: Array<string | number>; got: string } | undefined {
  const here = () => ({ path, got: String(x) });
  if (x === null || typeof x === "string" || typeof x === "boolean") return undefined;
  if (typeof x === "number") return Number.isFinite(x) ? undefined : here();
  if (Array.isArray(x)) {
    for (const [i, item] of x.entries()) {
      const bad = nonJson(item, [...path, i]);
      if (bad) return bad;
    }
    return undefined;
  }
  if (isPlainObject(x) && Object.getPrototypeOf(x) === Object.prototype) {
    for (const [k, item] of Object.entries(x)) {
      const bad = nonJson(item, [...path, k]);
      if (bad) return bad;
    }
    return undefined;
  }
  return here();
}

/** Levenshtein distance, for "did you mean" on a mistyped field. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
