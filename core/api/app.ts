// The local HTTP API: what the CLI and the dashboard talk to. Every route but
// /v1/health needs the data dir's token (`Authorization: Bearer …`). Errors are
// JSON `{ error: { code, message, hint? } }` with a fitting status.

import { Hono } from "hono";
import * as v from "valibot";
import type { ResolvedConfig } from "../config.ts";
import { type RevocationBook, RevocationError } from "../mesh/revocations.ts";
import type { HardwareProfile, NodeClass } from "../profile/types.ts";
import { renderMetrics, type Summary } from "./metrics.ts";
import type { Mesh } from "../mesh/mesh.ts";
import { clusterPool } from "../mesh/pool.ts";
import type { EventHub } from "../events.ts";
import { eventStream } from "./events.ts";
import type { Placer } from "../scheduler/placer.ts";
import { JobSubmissionSchema, PlacementSchema, ResourcesSchema } from "../jobs/job_protocol.ts";
import type { JobService } from "../jobs/service.ts";
import { RpcError, ServiceRefusal } from "../mesh/rpc.ts";
import type { JobRecord } from "../jobs/job.ts";
import { HerdError } from "../errors.ts";

/** What `/v1/status` reports. */
export interface NodeStatus {
  id: string;
  name: string;
  class: NodeClass;
  classLabel: string;
  arch: string;
  emulated: boolean;
  profileSource?: string;
  version: string;
  pid: number;
  startedAt: number;
  uptimeMs: number;
  dataDir: string;
  apiUrl: string;
  configProfile: string;
  labels: Record<string, string>;
  capacity: { cpu: number; memBytes: number; gpus: number };
  allocated: { cpu: number; memBytes: number; gpus: number };
  free: { cpu: number; memBytes: number; gpus: number };
  load: {
    memAvailableBytes?: number;
    load1?: number;
    batteryPercent?: number;
    onBattery: boolean;
    temperatureC?: number;
  };
  jobs: { running: number };
  executors: string[];
  cluster: {
    fingerprint: string;
    /** This node's mesh address (host:port). */
    address: string;
    caHolder: boolean;
    /** Members by state, this node included. */
    members: Record<string, number>;
  };
}

export interface ApiDeps {
  /** The API's bearer token (api.token in the data dir). */
  apiToken: string;
  profile: HardwareProfile;
  config: ResolvedConfig;
  status: () => Promise<NodeStatus>;
  counters: () => Record<string, number>;
  mesh: Mesh;
  events: EventHub;
  /** The cluster's join token, when this node knows it. */
  token: () => string | undefined;
  /** Leaves the cluster and stops the node (after the answer is sent). */
  leave: () => void;
  placer: Placer;
  jobs: JobService;
  /** Resources a job gets when it does not say. */
  jobDefaults: { cpu: number; memBytes: number };
  revocations: RevocationBook;
}

/** Largest request body accepted (a job spec with its module source). */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

export { PlacementSchema };

const ApplySchema = v.strictObject({
  jobs: v.pipe(v.array(JobSubmissionSchema), v.minLength(1), v.maxLength(1000)),
});

const MigrateSchema = v.strictObject({
  /** A member's id, id prefix or name; left out: the best other member. */
  to: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(64))),
});

const RevokeSchema = v.strictObject({
  /** A member's id, id prefix or name (a failed or left one too). */
  node: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  reason: v.optional(v.pipe(v.string(), v.maxLength(200))),
});

const ExplainRequestSchema = v.strictObject({
  resources: v.optional(ResourcesSchema),
  placement: v.optional(PlacementSchema),
});

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

const NDJSON = { "content-type": "application/x-ndjson", "cache-control": "no-store" };

export function createApi(d: ApiDeps): Hono {
  const app = new Hono();
  const fail = (status: number, code: string, message: string, hint?: string) =>
    Response.json({ error: { code, message, ...(hint ? { hint } : {}) } }, { status });

  app.onError((err) => {
    console.error(`herd: API error: ${err.stack ?? err}`);
    return fail(500, "internal", `internal error: ${err.message}`);
  });
  app.notFound((c) => fail(404, "not_found", `no route ${c.req.method} ${c.req.path}`));

  /** The JSON body checked against `schema`, or the 400 answer saying what is wrong. */
  const readBody = async <S extends v.GenericSchema>(
    req: Request,
    schema: S,
  ): Promise<{ ok: true; value: v.InferOutput<S> } | { ok: false; error: Response }> => {
    let body: unknown;
    try {
      body = await req.json();
    } catch {
      return { ok: false, error: fail(400, "invalid", "the request body is not JSON") };
    }
    const parsed = v.safeParse(schema, body);
    if (parsed.success) return { ok: true, value: parsed.output };
    const issue = parsed.issues[0];
    const path = issue.path?.map((p) => p.key).join(".") ?? "";
    return { ok: false, error: fail(400, "invalid", `${path ? path + ": " : ""}${issue.message}`) };
  };

  app.get("/v1/health", (c) => c.json({ ok: true }));

  app.use("*", async (c, next) => {
    const auth = c.req.header("authorization") ?? "";
    const given = auth.startsWith("Bearer ") ? auth.slice(7).trim() : "";
    if (!timingSafeEqual(given, d.apiToken)) {
      return fail(
        401,
        "unauthorized",
        "missing or wrong API token",
        "the CLI reads it from api.token in the data dir",
      );
    }
    await next();
  });

  app.get("/v1/status", async (c) => c.json(await d.status()));
  app.get("/v1/profile", (c) => c.json(d.profile));
  app.get("/v1/config", (c) => c.json(d.config));
  app.get("/metrics", async (c) => {
    const mesh = d.mesh.metrics();
    const js = d.jobs.stats;
    const counters = {
      ...d.counters(),
      ...mesh.counters,
      job_offers_sent: js.offersSent,
      job_offers_refused: js.offersRefused,
      jobs_replaced: js.replaced,
      job_attempts_fenced: js.fenced,
    };
    const rt = d.jobs.roundTrips;
    const qs = [0.5, 0.9, 0.99];
    const placement_round_trip: Summary = {
      help: "Offer sent to admitted, for jobs this node placed (quantiles: the last 1024).",
      quantiles: rt.quantiles(qs).map((ms, i) => [qs[i], ms / 1000]),
      count: rt.count,
      sumSeconds: rt.sumMs / 1000,
    };
    return c.text(
      renderMetrics(await d.status(), counters, mesh.gauges, { placement_round_trip }),
      200,
      {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
      },
    );
  });

  // A revoked member says so (it stays in the table as failed until it is forgotten).
  app.get("/v1/nodes", (c) =>
    c.json(
      d.mesh.nodes().map((n) => d.revocations.isRevoked(n.id) ? { ...n, revoked: true } : n),
    ));
  app.get("/v1/pool", (c) => c.json(clusterPool(d.mesh.nodes())));
  app.get("/v1/events", (c) => {
    const last = Number(c.req.header("last-event-id") ?? c.req.query("after") ?? NaN);
    const types = c.req.query("types")?.split(",").filter(Boolean);
    return new Response(eventStream(d.events, Number.isFinite(last) ? last : undefined, types), {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-store",
      },
    });
  });
  app.get("/v1/token", (c) => {
    const t = d.token();
    if (!t) {
      return fail(
        404,
        "no_token",
        "this node does not know the cluster's join token",
        "run 'herd token' on the node that created the cluster",
      );
    }
    return c.json({ token: t });
  });
  app.post("/v1/leave", (c) => {
    d.leave();
    return c.json({ leaving: true });
  });

  // The revocation list: `herd revoke`.
  app.get("/v1/revocations", (c) => {
    const l = d.revocations.list;
    return c.json({ version: l?.version ?? 0, entries: l?.entries ?? [] });
  });
  app.post("/v1/revocations", async (c) => {
    const parsed = await readBody(c.req.raw, RevokeSchema);
    if (!parsed.ok) return parsed.error;
    const nodes = d.mesh.nodes();
    const self = nodes.find((n) => n.self);
    if (!self?.ca) {
      const holders = nodes.filter((n) => n.ca && n.state === "alive").map((n) => n.name || n.id);
      return fail(
        409,
        "not_ca_holder",
        "only the node that holds the cluster CA key can revoke",
        holders.length
          ? `run 'herd revoke' on ${holders.join(" or ")}`
          : "no live member holds the CA key (the node that created the cluster)",
      );
    }
    const id = resolveNode(nodes, parsed.value.node);
    if (!id) {
      return fail(
        404,
        "no_such_node",
        `no member '${parsed.value.node}'`,
        "`herd nodes` lists the members",
      );
    }
    if (id === self.id) return fail(409, "self", "a node cannot revoke itself");
    try {
      const list = await d.revocations.revoke(id, parsed.value.reason);
      return c.json({ revoked: id, version: list.version, entries: list.entries }, 201);
    } catch (e) {
      if (e instanceof RevocationError) return fail(409, "refused", e.message);
      throw e;
    }
  });

  // Where a job would go, and why: `herd run --dry-run`. Nothing is reserved.
  app.post("/v1/placements/explain", async (c) => {
    const parsed = await readBody(c.req.raw, ExplainRequestSchema);
    if (!parsed.ok) return parsed.error;
    const { resources = {}, placement = {} } = parsed.value;
    const { policy, nodeNear, ...constraints } = { ...placement, nodeNear: placement.near };
    const near = nodeNear === undefined ? undefined : resolveNode(d.mesh.nodes(), nodeNear);
    if (near === null) {
      return fail(
        404,
        "no_such_node",
        `no member named or with the id '${nodeNear}'`,
        "`herd nodes` lists them",
      );
    }
    try {
      return c.json(
        await d.placer.explain({
          id: "dry-run",
          resources: {
            cpu: resources.cpu ?? d.jobDefaults.cpu,
            memBytes: resources.memBytes ?? d.jobDefaults.memBytes,
            gpus: resources.gpus ?? 0,
          },
          ...constraints,
          ...(near ? { near } : {}),
          ...(constraints.antiAffinity?.length
            ? { avoidNodes: await d.jobs.besideJobs(constraints.antiAffinity) }
            : {}),
        }, policy),
      );
    } catch (e) {
      if (e instanceof HerdError) return fail(400, "invalid", e.message, e.hint);
      throw e;
    }
  });

  /** Records with the name of the node each runs on, for `herd ps`. */
  const named = (records: JobRecord[]) => {
    const names = new Map(d.mesh.nodes().map((n) => [n.id, n.name]));
    return records.map((r) => ({ ...r, nodeName: names.get(r.nodeId) ?? "" }));
  };
  const refusal = (e: unknown): Response => {
    if (e instanceof ServiceRefusal) {
      if (e.code === "invalid") return fail(400, "invalid", e.message);
      return fail(409, e.code, e.message);
    }
    if (e instanceof RpcError) {
      if (e.failure === "remote") return fail(409, e.remoteCode ?? "refused", e.message);
      return fail(503, "unreachable", e.message, "the node may have failed: see `herd nodes`");
    }
    if (e instanceof HerdError) return fail(400, "invalid", e.message, e.hint);
    throw e;
  };

  /** A job's `near` names a member; placement measures from its id. Unknown: 404. */
  const nearToId = (subs: Array<{ placement?: { near?: string } }>): Response | undefined => {
    for (const s of subs) {
      const key = s.placement?.near;
      if (key === undefined) continue;
      const id = resolveNode(d.mesh.nodes(), key);
      if (id === null) {
        return fail(404, "no_such_node", `near: no member named or with the id '${key}'`);
      }
      s.placement!.near = id;
    }
    return undefined;
  };

  app.get("/v1/jobs", async (c) => {
    const all = c.req.query("all") === "1" || c.req.query("all") === "true";
    return c.json(named(await d.jobs.list(all)));
  });

  app.post("/v1/jobs", async (c) => {
    const length = Number(c.req.header("content-length") ?? "0");
    if (length > MAX_BODY_BYTES) {
      return fail(413, "too_large", `request body over ${MAX_BODY_BYTES} bytes`);
    }
    const parsed = await readBody(c.req.raw, JobSubmissionSchema);
    if (!parsed.ok) return parsed.error;
    const attach = c.req.query("attach") === "1";
    const unknown = nearToId([parsed.value]);
    if (unknown) return unknown;
    try {
      const out = await d.jobs.submit(parsed.value, attach);
      if (out.stream) return new Response(out.stream, { status: 201, headers: NDJSON });
      return c.json(
        out.records.length === 1 && !parsed.value.replicas ? out.records[0] : out.records,
        201,
      );
    } catch (e) {
      return refusal(e);
    }
  });

  // `herd apply`: each job by name; one already there with the same spec is left alone.
  app.post("/v1/apply", async (c) => {
    const length = Number(c.req.header("content-length") ?? "0");
    if (length > MAX_BODY_BYTES) {
      return fail(413, "too_large", `request body over ${MAX_BODY_BYTES} bytes`);
    }
    const parsed = await readBody(c.req.raw, ApplySchema);
    if (!parsed.ok) return parsed.error;
    const unknown = nearToId(parsed.value.jobs);
    if (unknown) return unknown;
    try {
      return c.json({ results: await d.jobs.apply(parsed.value.jobs) });
    } catch (e) {
      return refusal(e);
    }
  });

  const withJob = async (idOrPrefix: string) => {
    const r = await d.jobs.find(idOrPrefix);
    if (!r.ok) return { error: fail(404, "no_such_job", r.message, "`herd ps --all` lists jobs") };
    return { job: r.job };
  };

  app.get("/v1/jobs/:id", async (c) => {
    const j = await withJob(c.req.param("id"));
    if ("error" in j) return j.error;
    return c.json(named([j.job])[0]);
  });

  app.get("/v1/jobs/:id/logs", async (c) => {
    const j = await withJob(c.req.param("id"));
    if ("error" in j) return j.error;
    const follow = c.req.query("follow") === "1";
    const after = Number(c.req.query("after") ?? 0);
    if (!Number.isSafeInteger(after) || after < 0) {
      return fail(
        400,
        "invalid",
        `after: a sequence number (0 or more): got '${c.req.query("after")}'`,
      );
    }
    return new Response(d.jobs.logs(j.job, follow, after), { headers: NDJSON });
  });

  app.post("/v1/jobs/:id/kill", async (c) => {
    const j = await withJob(c.req.param("id"));
    if ("error" in j) return j.error;
    if (j.job.state !== "running" && j.job.state !== "pending") {
      return fail(409, "not_running", `job ${j.job.id} is not running (it is ${j.job.state})`);
    }
    try {
      return c.json(await d.jobs.kill(j.job));
    } catch (e) {
      return refusal(e);
    }
  });

  app.post("/v1/jobs/:id/migrate", async (c) => {
    const parsed = await readBody(c.req.raw, MigrateSchema);
    if (!parsed.ok) return parsed.error;
    const j = await withJob(c.req.param("id"));
    if ("error" in j) return j.error;
    if (j.job.state !== "running") {
      return fail(409, "not_running", `job ${j.job.id} is not running (it is ${j.job.state})`);
    }
    let to: string | undefined;
    if (parsed.value.to !== undefined) {
      const live = d.mesh.nodes().filter((n) => n.state === "alive");
      to = resolveNode(live, parsed.value.to) ?? undefined;
      if (!to) {
        return fail(
          404,
          "no_such_node",
          `no live member '${parsed.value.to}'`,
          "`herd nodes` lists the members",
        );
      }
    }
    try {
      return c.json(named([await d.jobs.migrate(j.job, to)])[0]);
    } catch (e) {
      return refusal(e);
    }
  });

  return app;
}

/** A member by id, id prefix or name; null when none (or more than one) matches. */
function resolveNode(nodes: readonly { id: string; name: string }[], key: string): string | null {
  const exact = nodes.find((n) => n.id === key) ?? nodes.find((n) => n.name === key);
  if (exact) return exact.id;
  const prefixed = nodes.filter((n) => n.id.startsWith(key));
  return prefixed.length === 1 ? prefixed[0].id : null;
}
