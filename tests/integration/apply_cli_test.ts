// `herd apply` as a user runs it: a real process, with files on disk.
import assert from "node:assert/strict";
import { ensureToken, lockDataDir, writeAgentInfo } from "../../core/datadir.ts";
import { expectCode, FIXTURES, herd } from "./_harness.ts";

const noNode = await Deno.makeTempDir();

Deno.test("apply --dry-run prints the request a job file becomes, and contacts no node", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/sum.ts`, "export default (p: { n: number }) => p.n + 1;\n");
  await Deno.writeTextFile(
    `${dir}/jobs.yaml`,
    "name: sum\nmodule: sum.ts\npayload: {n: 1}\n---\nname: hello\ncommand: [echo, hi]\n",
  );
  const r = await herd(noNode, [
    "apply",
    "--dry-run",
    `${dir}/jobs.yaml`,
    `${FIXTURES}jobs/heterogeneous.yaml`,
  ]);
  expectCode(r, 0, "apply --dry-run");
  const { jobs } = JSON.parse(r.stdout);
  assert.deepEqual(
    jobs.map((j: { name: string; executor: string }) => `${j.name}:${j.executor}`),
    [
      "sum:deno",
      "hello:exec",
      "gpu-inference:exec",
      "edge-sensor-processing:exec",
      "data-aggregation:exec",
    ],
  );
  assert.deepEqual(jobs[0].task.module, {
    name: `${dir}/sum.ts`,
    source: "export default (p: { n: number }) => p.n + 1;\n",
  });
  assert.equal(jobs[3].replicas, 5);
  assert.deepEqual(jobs[3].placement, { class: "Edge" });
});

Deno.test("a bad job file exits 2 with one line naming the place", async () => {
  const dir = await Deno.makeTempDir();
  const bad = `${dir}/bad.yaml`;
  await Deno.writeTextFile(
    bad,
    "name: a\ncommand: [x]\n---\nname: b\ncommand: [x]\nmem: 12XB\n",
  );
  const cases: Array<[string[], RegExp]> = [
    [
      ["apply", "--dry-run", bad],
      /bad\.yaml:6: document 2 \(job 'b'\): mem must be a size .*'12XB'/,
    ],
    [["apply", bad], /bad\.yaml:6: /], // checked before any node is contacted
    [["apply", "--dry-run"], /apply: which file\?/],
    [["apply", "--dry-run", `${dir}/nope.yaml`], /apply: cannot read .*nope\.yaml: no such file/],
    [["apply", "--dry-run", "-"], /<stdin>: declares no jobs/],
    [
      [
        "apply",
        "--dry-run",
        `${FIXTURES}jobs/heterogeneous.yaml`,
        `${FIXTURES}jobs/heterogeneous.yaml`,
      ],
      /job 'gpu-inference' is also declared in .*heterogeneous\.yaml/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = await herd(noNode, args);
    expectCode(r, 2, args.join(" "));
    assert.match(r.stderr, re, args.join(" "));
    assert.ok(r.stderr.trim().split("\n").length <= 2, `short: ${r.stderr}`);
    assert.equal(r.stdout, "", "nothing printed on stdout");
  }
});

Deno.test("apply without a node says none runs", async () => {
  const r = await herd(noNode, ["apply", `${FIXTURES}jobs/heterogeneous.yaml`]);
  expectCode(r, 3, "apply with no node");
  assert.match(r.stderr, /no herd node is running/);
});

// The node's side of /v1/apply is its own work: here a stand-in answers, to check what
// the CLI sends (the parsed jobs, with the data dir's token) and how it prints the answer.
Deno.test("apply posts the jobs to the node and prints what it did to each", async () => {
  const dir = await Deno.makeTempDir({ prefix: "herd-test-" });
  const lock = await lockDataDir(dir);
  const token = await ensureToken(dir);
  const seen: Array<{ auth: string | null; body: { jobs: Array<{ name: string }> } }> = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    if (req.method !== "POST" || new URL(req.url).pathname !== "/v1/apply") {
      return Response.json({ error: { code: "not_found", message: "no route" } }, { status: 404 });
    }
    seen.push({ auth: req.headers.get("authorization"), body: await req.json() });
    return Response.json({
      results: [
        { name: "gpu-inference", action: "created", jobs: ["j1"], state: "running" },
        { name: "edge-sensor-processing", action: "updated", jobs: ["j2", "j3"] },
        { name: "data-aggregation", action: "unchanged", jobs: [], reason: "no node fits" },
      ],
    });
  });
  try {
    await writeAgentInfo(dir, {
      pid: Deno.pid,
      nodeId: "n1",
      apiUrl: `http://127.0.0.1:${server.addr.port}`,
      startedAt: Date.now(),
    });
    const file = `${FIXTURES}jobs/heterogeneous.yaml`;
    const r = await herd(dir, ["apply", file]);
    expectCode(r, 0, "apply");
    assert.equal(seen.length, 1);
    assert.equal(seen[0].auth, `Bearer ${token}`);
    assert.deepEqual(seen[0].body.jobs.map((j) => j.name), [
      "gpu-inference",
      "edge-sensor-processing",
      "data-aggregation",
    ]);
    const lines = r.stdout.trim().split("\n");
    assert.match(lines[0], /^NAME\s+ACTION\s+JOBS\s+STATE\/REASON$/);
    assert.match(lines[1], /^gpu-inference\s+created\s+j1\s+running$/);
    assert.match(lines[2], /^edge-sensor-processing\s+updated\s+j2,j3\s+-$/);
    assert.match(lines[3], /^data-aggregation\s+unchanged\s+-\s+no node fits$/);

    const j = await herd(dir, ["apply", "--json", file]);
    expectCode(j, 0, "apply --json");
    assert.equal(JSON.parse(j.stdout).results[1].jobs[1], "j3");
  } finally {
    await server.shutdown();
    lock.close();
  }
});
