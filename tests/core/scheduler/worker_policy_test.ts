import assert from "node:assert/strict";
import { PolicyError } from "../../../core/errors.ts";
import { rank } from "../../../core/scheduler/pipeline.ts";
import { loadWorkerPolicy, type WorkerPolicy } from "../../../core/scheduler/worker_policy.ts";
import { plugin as bestFit } from "../../../schedulers/best_fit.ts";
import { ctx, GiB, ids, job, nodes } from "./_nodes.ts";

const dir = await Deno.makeTempDir({ prefix: "herd-policy-test-" });
const SDK = new URL("../../../plugins/sdk.ts", import.meta.url).href;

/** Writes a policy module; `score` and the rest are the body of the plugin object. */
async function policyFile(name: string, body: string, preamble = ""): Promise<string> {
  const path = `${dir}/${name}.ts`;
  await Deno.writeTextFile(
    path,
    `import type { SchedulingPolicy } from "${SDK}";\n${preamble}\n` +
      `export const plugin = { kind: "scheduling-policy", name: "${name}", sdk: 1, ${body} } ` +
      `satisfies SchedulingPolicy;\n`,
  );
  return path;
}

const snapshot = nodes(
  { id: "a", capacity: { cpu: 4 } },
  { id: "b", capacity: { cpu: 16 }, labels: { gpu: "no" } },
  { id: "c", capacity: { cpu: 8 } },
  { id: "d", free: { cpu: 0 } },
);

async function using<T>(p: Promise<WorkerPolicy>, f: (p: WorkerPolicy) => Promise<T>) {
  const policy = await p;
  try {
    return await f(policy);
  } finally {
    policy.close();
  }
}

const rejectsWith = (reason: PolicyError["reason"], re: RegExp) => (e: Error) => {
  assert.ok(e instanceof PolicyError, `a PolicyError: ${e}`);
  assert.equal(e.reason, reason, e.message);
  assert.match(e.message, re);
  return true;
};

Deno.test("worker policy: a module from a path ranks as the same policy in process", async () => {
  // A path relative to a base (the current directory unless given).
  const root = new URL("../../../", import.meta.url);
  await using(loadWorkerPolicy("schedulers/best_fit.ts", { base: root }), async (p) => {
    assert.equal(p.name, "best-fit");
    const j = job({ cpu: 2, memBytes: 2 * GiB });
    const want = rank(j, snapshot, bestFit, ctx());
    const got = await p.rankAsync(j, snapshot, ctx());
    assert.deepEqual(ids(got.ranked), ids(want.ranked));
    assert.deepEqual(got.ranked.map((r) => r.score), want.ranked.map((r) => r.score));
    assert.deepEqual(got.rejected.map((r) => [r.node.id, r.filter, r.reason]), [
      ["d", "resources", "needs 2 CPUs; 0 free"],
    ]);
  });
});

Deno.test("worker policy: its own filter and the settings, as a file: URL", async () => {
  const path = await policyFile(
    "labelled",
    `filter: (_job, node) => node.labels.gpu === "no" ? "no GPU here" : undefined,
     score: (_job, node, ctx) => node.capacity.cpu * (ctx.settings.factor as number) - ctx.sequence,`,
  );
  await using(loadWorkerPolicy(`file://${path}`), async (p) => {
    assert.equal(p.hasFilter, true);
    const r = await p.rankAsync(job(), snapshot, ctx({ factor: 2 }, 1, 4));
    assert.deepEqual(r.ranked.map((x) => [x.node.id, x.score]), [["c", 15], ["a", 7]]);
    assert.deepEqual(r.rejected.map((x) => [x.node.id, x.filter, x.reason]), [
      ["b", "policy", "no GPU here"],
      ["d", "resources", "needs 1 CPUs; 0 free"],
    ]);
    // Decisions in a row, and at once, are answered each with its own.
    const [x, y] = await Promise.all([
      p.rankAsync(job(), snapshot, ctx({ factor: 1 })),
      p.rankAsync(job(), snapshot, ctx({ factor: -1 })),
    ]);
    assert.deepEqual(ids(x.ranked), ["c", "a"]);
    assert.deepEqual(ids(y.ranked), ["a", "c"]);
  });
});

Deno.test("worker policy: reading a file is a permission error, at load or when scoring", async () => {
  const atLoad = await policyFile(
    "reader",
    "score: () => 1,",
    'await Deno.readTextFile("/etc/passwd");',
  );
  await assert.rejects(
    () => loadWorkerPolicy(atLoad),
    rejectsWith(
      "permission",
      /^policy .*reader\.ts: permission denied: Requires read access to "\/etc\/passwd"; a scheduling policy runs with no permissions/,
    ),
  );
  const inScore = await policyFile(
    "sneaky",
    'score: () => Deno.readTextFileSync("/etc/passwd").length,',
  );
  await using(loadWorkerPolicy(inScore), async (p) => {
    await assert.rejects(
      () => p.rankAsync(job(), snapshot, ctx()),
      rejectsWith(
        "permission",
        /sneaky\.ts: permission denied: Requires read access to "\/etc\/passwd"/,
      ),
    );
  });
});

Deno.test("worker policy: the network is a permission error too", async () => {
  const path = await policyFile(
    "caller",
    'score: () => fetch("http://127.0.0.1:8/") as unknown as number,',
  );
  await using(loadWorkerPolicy(path), async (p) => {
    await assert.rejects(
      () => p.rankAsync(job(), snapshot, ctx()),
      rejectsWith(
        "permission",
        /caller\.ts: permission denied: Requires net access to "127\.0\.0\.1:8"/,
      ),
    );
  });
});

Deno.test("worker policy: one that hangs times out, named; the next decision gets a fresh worker", async () => {
  const path = await policyFile(
    "stuck",
    `score: (job) => { if (job.id === "hang") { for (;;) {} } return 1; },`,
  );
  await using(loadWorkerPolicy(path, { scoreTimeoutMs: 300 }), async (p) => {
    const t0 = performance.now();
    await assert.rejects(
      () => p.rankAsync(job({}, { id: "hang" }), snapshot, ctx()),
      rejectsWith("timeout", /^policy .*stuck\.ts: no answer to score within 300 ms$/),
    );
    assert.ok(performance.now() - t0 < 3_000);
    const r = await p.rankAsync(job(), snapshot, ctx());
    assert.deepEqual(ids(r.ranked), ["a", "b", "c"]);
  });
  const atLoad = await policyFile("frozen", "score: () => 1,", "for (;;) {}");
  await assert.rejects(
    () => loadWorkerPolicy(atLoad, { loadTimeoutMs: 500 }),
    rejectsWith("timeout", /frozen\.ts: no answer to load within 500 ms/),
  );
});

Deno.test("worker policy: a module that is not a scheduling policy is refused with why", async () => {
  const noScore = await policyFile("noscore", "");
  await assert.rejects(
    () => loadWorkerPolicy(noScore),
    rejectsWith("refused", /noscore\.ts: a scheduling-policy must have score\(\)$/),
  );
  const wrongName = `${dir}/default.ts`;
  await Deno.writeTextFile(wrongName, "export default { score: () => 1 };\n");
  await assert.rejects(
    () => loadWorkerPolicy(wrongName),
    rejectsWith("refused", /default\.ts: does not export `plugin`$/),
  );
  const executor = `${dir}/executor.ts`;
  await Deno.writeTextFile(
    executor,
    'export const plugin = { kind: "executor", name: "x", sdk: 1, validate() {}, run() {} };\n',
  );
  await assert.rejects(
    () => loadWorkerPolicy(executor),
    rejectsWith("refused", /executor\.ts: is a executor plugin, not a scheduling-policy$/),
  );
  const oldSdk = `${dir}/old.ts`;
  await Deno.writeTextFile(
    oldSdk,
    'export const plugin = { kind: "scheduling-policy", name: "old", sdk: 0, score: () => 1 };\n',
  );
  await assert.rejects(
    () => loadWorkerPolicy(oldSdk),
    rejectsWith("refused", /old\.ts: written for SDK 0; this herd speaks SDK 1$/),
  );
  await assert.rejects(
    () => loadWorkerPolicy(`${dir}/missing.ts`),
    rejectsWith("refused", /missing\.ts: cannot be read/),
  );
  await assert.rejects(
    () => loadWorkerPolicy("https://example.com/policy.ts"),
    rejectsWith("refused", /a policy is loaded from a path or file: URL/),
  );
});

Deno.test("worker policy: a score that throws fails the decision, naming the policy", async () => {
  const path = await policyFile("thrower", 'score: () => { throw new RangeError("no way"); },');
  await using(loadWorkerPolicy(path), async (p) => {
    await assert.rejects(
      () => p.rankAsync(job(), snapshot, ctx()),
      rejectsWith("failed", /thrower\.ts: RangeError: no way$/),
    );
  });
});

Deno.test("worker policy: closed, it refuses further decisions", async () => {
  const p = await loadWorkerPolicy(
    new URL("../../../schedulers/first_fit.ts", import.meta.url).pathname,
  );
  p.close();
  await assert.rejects(
    () => p.rankAsync(job(), snapshot, ctx()),
    rejectsWith("failed", /is closed/),
  );
});

Deno.test("worker policy: clean up", async () => {
  await Deno.remove(dir, { recursive: true });
});
