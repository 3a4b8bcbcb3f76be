// The job service's messages between members: what each operation's body holds, checked
// on receipt (the transport checked only the envelope). A body that fails its schema is
// refused with `invalid`, never acted on.
//
//   offer      placer → target     run these attempts here, if they fit (reply: each record or refusal)
//   follow     reader → runner     ship this job's output stream to me as `out` messages
//   unfollow   reader → runner     stop shipping
//   ack        reader → runner     output received up to `seq` (the shipping window)
//   out        runner → reader     the next bytes of the stream (api/follow.ts lines); `fin` ends it
//   kill       any → runner        stop the job (reply: the final record)
//   find       any → any          the records this member has whose id starts with / name is `key`
//   list       any → any          the records this member has (ran here, or owns)
//   own        any → owner        keep these copies of job records (the higher rev wins)
//   ended      runner → owners     these attempts ended (their records)
//   running    runner → owners     these attempts run here (reply: the fenced ones to stop)
//   pull       migrator → target  fetch the job's output tail and checkpoint from its old node
//   carry      target → old node  one page of them (reply: the chunks, or archive bytes)

import * as v from "valibot";
import { ARCHES, NODE_CLASSES } from "../../plugins/sdk.ts";
import { MAX_DURATION_MS, MAX_SIZE_BYTES } from "../units.ts";
import { JOB_ID_PATTERN } from "../ids.ts";
import type { JobRecord } from "./job.ts";

export const SERVICE = "job";

const JobId = v.pipe(v.string(), v.regex(JOB_ID_PATTERN, "must be a job id"));
const NodeId = v.pipe(v.string(), v.regex(/^[0-9a-z]{16}$/, "must be a node id"));
const Uint = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const Attempt = v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(1_000_000));

export const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export const ResourcesSchema = v.strictObject({
  cpu: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(4096))),
  memBytes: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_SIZE_BYTES)),
  ),
  gpus: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1024))),
});

const LabelMap = v.pipe(
  v.record(
    v.pipe(v.string(), v.minLength(1), v.maxLength(63)),
    v.pipe(v.string(), v.maxLength(63)),
  ),
  v.check((r) => Object.keys(r).length <= 32, "at most 32 labels"),
);

/** Where a job may go and how to choose: `herd run`'s placement flags. */
export const PlacementSchema = v.strictObject({
  policy: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(1024))),
  arch: v.optional(v.picklist(ARCHES)),
  class: v.optional(v.picklist(NODE_CLASSES)),
  labels: v.optional(LabelMap),
  gpuModel: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(64))),
  gpuMemBytes: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_SIZE_BYTES)),
  ),
  gpuComputeCapability: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(100))),
  allowLowBattery: v.optional(v.boolean()),
  allowHot: v.optional(v.boolean()),
  near: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(64))),
  /** Never on a node running a job (or replica set) of one of these names. */
  antiAffinity: v.optional(
    v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(80))), v.maxLength(16)),
  ),
});

export const RestartSchema = v.strictObject({
  policy: v.picklist(["never", "on-failure", "always"]),
  maxAttempts: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000_000))),
  backoffMs: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_DURATION_MS)),
  ),
});

const Name = v.pipe(v.string(), v.regex(JOB_NAME, "name: letters, digits, _ . - (up to 63)"));
const Timeout = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_DURATION_MS));
const CheckpointDir = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(4096),
  v.check((d) => !d.split("/").includes(".."), "a checkpoint dir must not contain '..'"),
);

/** A job as the API takes it (`herd run`, `herd apply`): defaults not yet applied. */
export const JobSubmissionSchema = v.strictObject({
  name: v.optional(Name),
  executor: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  task: v.record(v.string(), v.unknown()),
  resources: v.optional(ResourcesSchema),
  timeoutMs: v.optional(Timeout),
  placement: v.optional(PlacementSchema),
  replicas: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000))),
  spread: v.optional(v.boolean()),
  restart: v.optional(RestartSchema),
  checkpointDir: v.optional(CheckpointDir),
  /** Wait as pending when no member can take it now (else it is refused). */
  queue: v.optional(v.boolean()),
});
export type JobSubmission = v.InferOutput<typeof JobSubmissionSchema>;

/** A complete spec, as members hand it to each other. */
const SpecSchema = v.strictObject({
  name: v.pipe(v.string(), v.maxLength(63)),
  executor: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  task: v.record(v.string(), v.unknown()),
  resources: v.strictObject({
    cpu: v.pipe(v.number(), v.minValue(0), v.maxValue(4096)),
    memBytes: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_SIZE_BYTES)),
    gpus: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1024)),
  }),
  timeoutMs: Timeout,
  placement: v.optional(PlacementSchema),
  restart: v.optional(v.strictObject({
    policy: v.picklist(["never", "on-failure", "always"]),
    maxAttempts: v.pipe(v.number(), v.integer(), v.minValue(1)),
    backoffMs: v.pipe(v.number(), v.integer(), v.minValue(0)),
  })),
  group: v.optional(v.pipe(v.string(), v.maxLength(80))),
  spread: v.optional(v.boolean()),
  checkpointDir: v.optional(CheckpointDir),
  applied: v.optional(v.strictObject({
    name: v.pipe(v.string(), v.maxLength(63)),
    digest: v.pipe(v.string(), v.maxLength(64)),
  })),
});

const STATES = ["pending", "running", "succeeded", "failed", "killed", "lost"] as const;

/** A record from another member: the fields herd acts on are checked, the rest carried. */
const RecordSchema = v.looseObject({
  id: JobId,
  spec: SpecSchema,
  state: v.picklist(STATES),
  nodeId: v.string(),
  attempt: Uint,
  submittedAt: Uint,
  rev: v.optional(Uint),
});

const Sub = Uint;
/** Owners' copies travel in batches (service.ts, batcher.ts). */
const Records = v.pipe(v.array(RecordSchema), v.minLength(1), v.maxLength(256));

export const BODIES = {
  offer: v.strictObject({
    jobs: v.pipe(
      v.array(v.strictObject({
        job: v.strictObject({
          id: JobId,
          spec: SpecSchema,
          attempt: Attempt,
          submittedAt: Uint,
          origin: NodeId,
          why: v.optional(v.pipe(v.string(), v.maxLength(512))),
        }),
        /** Ship the output to the caller under this subscription, holding the job back. */
        attach: v.optional(Sub),
      })),
      v.minLength(1),
      v.maxLength(64),
    ),
  }),
  follow: v.strictObject({ id: JobId, sub: Sub, live: v.boolean(), after: v.optional(Uint) }),
  unfollow: v.strictObject({ sub: Sub }),
  ack: v.strictObject({ sub: Sub, seq: Uint }),
  out: v.strictObject({
    sub: Sub,
    seq: Uint,
    d: v.instance(Uint8Array),
    fin: v.optional(v.literal(true)),
  }),
  kill: v.strictObject({ id: JobId, reason: v.optional(v.pipe(v.string(), v.maxLength(200))) }),
  find: v.strictObject({ key: v.pipe(v.string(), v.minLength(1), v.maxLength(64)) }),
  list: v.strictObject({ all: v.boolean() }),
  own: v.strictObject({ jobs: Records }),
  ended: v.strictObject({ jobs: Records }),
  /** Migration, to the target: fetch the job's output tail and checkpoint from `from`. */
  pull: v.strictObject({ id: JobId, from: NodeId, checkpointDir: v.optional(CheckpointDir) }),
  /** Migration, to the old node: a page of the output tail (after seq `at`) or the checkpoint archive (from byte `at`). */
  carry: v.strictObject({ id: JobId, what: v.picklist(["logs", "checkpoint"]), at: Uint }),
  running: v.strictObject({
    jobs: v.pipe(
      v.array(v.strictObject({ id: JobId, attempt: Attempt })),
      v.maxLength(10_000),
    ),
  }),
} as const;

export type Op = keyof typeof BODIES;
export type Body<O extends Op> = v.InferOutput<(typeof BODIES)[O]>;

/** The body checked against its operation's schema, or the reason it is not valid. */
export function checkBody<O extends Op>(
  op: O,
  body: unknown,
): { ok: true; body: Body<O> } | { ok: false; message: string } {
  const r = v.safeParse(BODIES[op], body, { abortEarly: true });
  if (r.success) return { ok: true, body: r.output as Body<O> };
  const issue = r.issues[0];
  const path = issue.path?.map((p) => p.key).join(".") ?? "";
  return { ok: false, message: `${op}: ${path ? path + ": " : ""}${issue.message}` };
}

/** A record from the wire (checked by RecordSchema) as herd's own type. */
export const asRecord = (r: unknown): JobRecord => r as JobRecord;
