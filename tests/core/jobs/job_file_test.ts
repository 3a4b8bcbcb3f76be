import assert from "node:assert/strict";
import * as v from "valibot";
import { JobFileError, type JobSubmission, parseJobFile } from "../../../core/jobs/job_file.ts";
import { parseConstraint } from "../../../core/jobs/constraints.ts";
import { PlacementSchema } from "../../../core/jobs/job_protocol.ts";
import { UsageError } from "../../../core/errors.ts";

const FIXTURES = new URL("../../fixtures/jobs/", import.meta.url).pathname;

/** Modules by absolute path, as the file system would give them. */
function modules(files: Record<string, string> = {}) {
  const read: string[] = [];
  return {
    read,
    readModule: (path: string) => {
      read.push(path);
      if (path in files) return Promise.resolve(files[path]);
      return Promise.reject(new Deno.errors.NotFound(`no such file: ${path}`));
    },
  };
}

const parse = (text: string, files: Record<string, string> = {}) =>
  parseJobFile(text, { path: "/work/jobs.yaml", ...modules(files) });

/** The JobFileError a file gives; fails the test when it parses. */
async function failure(text: string, files: Record<string, string> = {}): Promise<JobFileError> {
  try {
    await parse(text, files);
  } catch (e) {
    assert.ok(e instanceof JobFileError, `a JobFileError: ${e}`);
    assert.ok(e instanceof UsageError, "exits 2");
    assert.equal(e.exitCode, 2);
    assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
    return e;
  }
  assert.fail(`parsed:\n${text}`);
}

Deno.test("several documents, each a job", async () => {
  const jobs = await parse(`name: hello
command: [echo, hello]
---
name: train
command: [python3, train.py, --epochs, "10"]
cpu: 2
mem: 512M
gpu: 1
timeout: 1h30m
env: {SEED: "7"}
cwd: run
---
`);
  assert.deepEqual(
    jobs,
    [
      { name: "hello", executor: "exec", task: { command: ["echo", "hello"] } },
      {
        name: "train",
        executor: "exec",
        task: {
          command: ["python3", "train.py", "--epochs", "10"],
          env: { SEED: "7" },
          cwd: "/work/run",
        },
        resources: { cpu: 2, memBytes: 512 * 1024 ** 2, gpus: 1 },
        timeoutMs: 5_400_000,
      },
    ] satisfies JobSubmission[],
  );
});

Deno.test("a jobs: list; the heterogeneous workload fixture", async () => {
  const path = `${FIXTURES}heterogeneous.yaml`;
  const jobs = await parseJobFile(await Deno.readTextFile(path), { path, ...modules() });
  assert.deepEqual(jobs.map((j) => j.name), [
    "gpu-inference",
    "edge-sensor-processing",
    "data-aggregation",
  ]);
  const [gpu, edge, agg] = jobs;
  assert.deepEqual(gpu.resources, { gpus: 1, memBytes: 4 * 1024 ** 3 });
  assert.deepEqual(gpu.restart, { policy: "on-failure" });
  assert.equal(gpu.placement, undefined);
  assert.deepEqual(edge.resources, { cpu: 1, memBytes: 256 * 1024 ** 2 });
  assert.equal(edge.replicas, 5);
  assert.equal(edge.spread, true);
  assert.deepEqual(edge.placement, { class: "Edge" });
  assert.deepEqual(edge.restart, { policy: "always", maxAttempts: 10, backoffMs: 5000 });
  assert.deepEqual(agg.resources, { cpu: 2, memBytes: 1024 ** 3 });
  assert.deepEqual(agg.task, { command: ["python3", "aggregate.py"], env: { WINDOW: "60" } });
  assert.equal(agg.placement, undefined);
  // What the node's API takes, exactly.
  for (const j of jobs) if (j.placement) v.parse(PlacementSchema, j.placement);
});

Deno.test("a module job: its source is read relative to the file, as herd run does", async () => {
  const fs = modules({ "/work/tasks/sum.ts": "export default (n: number) => n + 1;" });
  const [job] = await parseJobFile(
    `name: sum
module: tasks/sum.ts
payload: {n: 10, tags: [a, b]}
allow:
  read: [data, /etc/hostname]
  net: [example.com]
timeout: 30s
`,
    { path: "/work/jobs.yaml", ...fs },
  );
  assert.deepEqual(fs.read, ["/work/tasks/sum.ts"]);
  assert.deepEqual(job, {
    name: "sum",
    executor: "deno",
    task: {
      module: { name: "/work/tasks/sum.ts", source: "export default (n: number) => n + 1;" },
      payload: { n: 10, tags: ["a", "b"] },
      allow: { read: ["/work/data", "/etc/hostname"], net: ["example.com"] },
    },
    timeoutMs: 30_000,
  });
  // No payload is null and no grants are {}, as with herd run --module.
  const [bare] = await parse("name: bare\nmodule: /m.ts\n", { "/m.ts": "export default 1" });
  assert.deepEqual(bare.task, {
    module: { name: "/m.ts", source: "export default 1" },
    payload: null,
    allow: {},
  });
});

Deno.test("restart: the shorthand and the map", async () => {
  const jobs = await parse(`jobs:
  - {name: a, command: [x], restart: never}
  - {name: b, command: [x], restart: always}
  - name: c
    command: [x]
    restart: {policy: on-failure, max-attempts: 4, backoff: 250ms}
`);
  assert.deepEqual(jobs.map((j) => j.restart), [
    { policy: "never" },
    { policy: "always" },
    { policy: "on-failure", maxAttempts: 4, backoffMs: 250 },
  ]);
});

Deno.test("constraints, labels and the other placement fields become the API's placement", async () => {
  const [job] = await parse(`name: infer
command: [infer]
policy: ./policies/mine.ts
constraints:
  arch: arm64
  class: workstation
  gpu-model: A100
  gpu-mem: 40G
  compute-capability: 8.6
labels: {zone: lab, rack: "3"}
near: gpu-box
anti-affinity: [db, cache]
allow-low-battery: true
allow-hot: false
`);
  assert.deepEqual(job.placement, {
    policy: "/work/policies/mine.ts",
    arch: "aarch64",
    class: "Workstation",
    gpuModel: "A100",
    gpuMemBytes: 40 * 1024 ** 3,
    gpuComputeCapability: 8.6,
    labels: { zone: "lab", rack: "3" },
    near: "gpu-box",
    antiAffinity: ["db", "cache"],
    allowLowBattery: true,
  });
  v.parse(PlacementSchema, job.placement);
  const [named] = await parse("name: n\ncommand: [x]\npolicy: best-fit\n");
  assert.deepEqual(named.placement, { policy: "best-fit" });
});

Deno.test("parseConstraint: the one parser for --constraint and constraints:", () => {
  assert.deepEqual(parseConstraint("arch", "amd64", "--constraint arch"), { arch: "x86_64" });
  assert.deepEqual(parseConstraint("class", "edge", "--constraint class"), { class: "Edge" });
  assert.throws(
    () => parseConstraint("arch", "sparc", "--constraint arch"),
    /--constraint arch: one of x86_64, amd64, .*got 'sparc'/,
  );
  assert.throws(() => parseConstraint("zone", "a", "--constraint"), /unknown constraint 'zone'/);
  assert.throws(
    () => parseConstraint("compute-capability", "-1", "cc"),
    /cc must be a number >= 0/,
  );
});

Deno.test("errors name the file, line, document, job and field", async (t) => {
  const cases: Array<[string, string, RegExp, RegExp?]> = [
    [
      "unknown field (and the known ones in the hint)",
      "name: a\ncommand: [x]\ncomand: [y]\n",
      /^\/work\/jobs\.yaml:3: job 'a': unknown field 'comand'$/,
      /did you mean 'command'\? known fields: name, command, env, .*allow-hot/,
    ],
    [
      "both command and module",
      "name: a\ncommand: [x]\nmodule: m.ts\n",
      /^\/work\/jobs\.yaml:3: job 'a': give only one of command and module$/,
    ],
    [
      "neither command nor module",
      "name: a\ncpu: 1\n",
      /^\/work\/jobs\.yaml:1: job 'a': nothing to run: give command \(a list\) or module/,
    ],
    [
      "a bad size, in the second document",
      "name: a\ncommand: [x]\n---\nname: b\ncommand: [x]\nmem: 12XB\n",
      /^\/work\/jobs\.yaml:6: document 2 \(job 'b'\): mem must be a size such as 512M.*got '12XB'$/,
    ],
    [
      "a negative cpu, in a jobs: list",
      "jobs:\n  - name: a\n    command: [x]\n  - name: b\n    command: [x]\n    cpu: -1\n",
      /^\/work\/jobs\.yaml:6: jobs\[1\] \(job 'b'\): cpu must be a number >= 0: got -1$/,
    ],
    [
      "replicas 0",
      "name: a\ncommand: [x]\nreplicas: 0\n",
      /^\/work\/jobs\.yaml:3: job 'a': replicas must be a whole number from 1 to 1000: got 0$/,
    ],
    [
      "duplicate names",
      "name: a\ncommand: [x]\n---\nname: a\ncommand: [y]\n",
      /^\/work\/jobs\.yaml:4: document 2 \(job 'a'\): name 'a' is already used by document 1, line 1$/,
    ],
    [
      "malformed YAML, with its line",
      "name: a\ncommand: [x, y\ncpu: 1\n",
      /^\/work\/jobs\.yaml:[2-4]: not valid YAML: /,
    ],
    [
      "a string command",
      "name: a\ncommand: python3 train.py\n",
      /^\/work\/jobs\.yaml:2: job 'a': command must be a list of arguments: got 'python3 train.py'$/,
      /write command: \[python3, train\.py\]/,
    ],
    [
      "a number in command",
      "name: a\ncommand: [sleep, 10]\n",
      /:2: job 'a': command\[1\] must be a string \(quote numbers and booleans\): got 10$/,
    ],
    [
      "no name",
      "command: [x]\n",
      /^\/work\/jobs\.yaml:1: name is required/,
    ],
    [
      "a bad name",
      "name: -a\ncommand: [x]\n",
      /:1: name must be 1 to 63 letters, digits.*got '-a'$/,
    ],
    [
      "a bad constraint",
      "name: a\ncommand: [x]\nconstraints:\n  class: Cloud\n",
      /:4: job 'a': constraints\.class: one of DataCenter, Workstation, Laptop, Edge: got 'Cloud'$/,
    ],
    [
      "an unknown constraint",
      "name: a\ncommand: [x]\nconstraints:\n  zone: x\n",
      /:4: job 'a': constraints: unknown field 'zone'$/,
    ],
    [
      "a bad restart policy",
      "name: a\ncommand: [x]\nrestart: sometimes\n",
      /:3: job 'a': restart must be one of never, on-failure, always: got 'sometimes'$/,
    ],
    [
      "a bad restart map",
      "name: a\ncommand: [x]\nrestart:\n  policy: always\n  backoff: soon\n",
      /:5: job 'a': restart\.backoff must be a duration such as 30s.*got 'soon'$/,
    ],
    [
      "payload with a command",
      "name: a\ncommand: [x]\npayload: 1\n",
      /:3: job 'a': payload goes with module, not command$/,
    ],
    [
      "env with a module",
      "name: a\nmodule: /m.ts\nenv: {A: b}\n",
      /:3: job 'a': env is for commands/,
    ],
    [
      "a module that cannot be read",
      "name: a\nmodule: nope.ts\n",
      /:2: job 'a': module \/work\/nope\.ts cannot be read: no such file$/,
    ],
    [
      "a permission that cannot be granted",
      "name: a\nmodule: /m.ts\nallow: {run: [ls]}\n",
      /:3: job 'a': allow: unknown field 'run'$/,
    ],
    [
      "a zero timeout",
      "name: a\ncommand: [x]\ntimeout: 0\n",
      /:3: job 'a': timeout must be more than 0/,
    ],
    [
      "an empty file",
      "# nothing\n",
      /^\/work\/jobs\.yaml: declares no jobs$/,
    ],
    [
      "a list at the top",
      "- name: a\n  command: [x]\n",
      /:1: a document must be a job .* or a jobs: list$/,
      /jobs: key/,
    ],
    [
      "jobs: beside other fields",
      "jobs: []\nname: a\n",
      /:2: a document with a jobs: list takes nothing else: got 'name'$/,
    ],
    [
      "a duplicate key",
      "name: a\ncommand: [x]\nname: b\n",
      /:3: not valid YAML: Map keys must be unique/,
    ],
    [
      "too many labels",
      `name: a\ncommand: [x]\nlabels: {${
        Array.from({ length: 33 }, (_, i) => `k${i}: v`).join(", ")
      }}\n`,
      /:3: job 'a': labels must have at most 32 labels$/,
    ],
  ];
  for (const [what, text, message, hint] of cases) {
    await t.step(what, async () => {
      const e = await failure(text, { "/m.ts": "export default 1" });
      assert.match(e.message, message);
      if (hint) assert.match(e.hint ?? "", hint);
    });
  }
});

Deno.test("the error carries its place as fields too", async () => {
  const e = await failure("name: a\ncommand: [x]\n---\nname: b\ncommand: [x]\nmem: 12XB\n");
  assert.deepEqual(e.at, {
    file: "/work/jobs.yaml",
    line: 6,
    document: 2,
    job: "b",
    field: "mem",
  });
});

Deno.test("YAML anchors and merge keys share settings between jobs", async () => {
  const jobs = await parse(`jobs:
  - &base
    name: a
    command: [x]
    cpu: 0.5
  - <<: *base
    name: b
`);
  assert.deepEqual(jobs.map((j) => [j.name, j.resources?.cpu]), [["a", 0.5], ["b", 0.5]]);
});
