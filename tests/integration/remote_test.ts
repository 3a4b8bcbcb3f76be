// Jobs across the mesh with real agents: placed by the policy on another member, output
// streamed back over QUIC, exit code returned; ps, logs and kill from any node; a job
// that fits nowhere waits as pending and starts when room appears; a job whose node is
// killed -9 runs again elsewhere.
import assert from "node:assert/strict";
import { findAgent } from "../../core/datadir.ts";
import { Agent, expectCode, FIXTURES, until } from "./_harness.ts";

interface Job {
  id: string;
  state: string;
  nodeId: string;
  nodeName: string;
  attempt: number;
  why?: string;
  reason?: string;
}

/** A Pi that creates the cluster and an 8×H100 server that joins it. */
async function piAndServer(): Promise<{ pi: Agent; gpu: Agent; stop(): Promise<void> }> {
  const pi = await Agent.start({
    args: ["--name", "pi", "--profile-from", `${FIXTURES}machines/raspberry-pi-4.json`],
  });
  const token = (await pi.herd(["token"])).stdout.trim();
  const seed = JSON.parse((await pi.herd(["status", "--json"])).stdout).cluster.address;
  const gpu = await Agent.start({
    args: [
      "--name",
      "gpu",
      "--profile-from",
      `${FIXTURES}machines/server-8xh100.json`,
      "--join",
      token,
      "--peer",
      seed,
    ],
  });
  await until("both members with their meta", async () => {
    const r = await pi.herd(["run", "--dry-run", "--json", "--", "true"]);
    return r.code === 0 && JSON.parse(r.stdout).feasible === 2;
  });
  return {
    pi,
    gpu,
    stop: async () => {
      await gpu.stop();
      await pi.stop();
    },
  };
}

Deno.test("a GPU job submitted on the Pi runs on the GPU server; output, exit code, ps, logs, kill from either node", async () => {
  const { pi, gpu, stop } = await piAndServer();
  try {
    const gpuId = JSON.parse((await gpu.herd(["status", "--json"])).stdout).id;
    // Attached: output streamed back over the mesh, the exit code is the job's.
    const r = await pi.herd([
      "run",
      "--gpu",
      "2",
      "--",
      "sh",
      "-c",
      'echo "on $HERD_NODE_ID gpus=$CUDA_VISIBLE_DEVICES"; echo oops >&2; exit 7',
    ]);
    expectCode(r, 7, "remote job's exit code");
    assert.equal(r.stdout, `on ${gpuId} gpus=0,1\n`);
    assert.match(r.stderr, /oops/);

    // Larger output arrives whole and in order.
    const big = await pi.herd(["run", "--gpu", "1", "--", "seq", "1", "200000"]);
    expectCode(big, 0, "seq");
    const lines = big.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 200000);
    assert.equal(lines[199999], "200000");

    // Detached, then seen from both nodes with where it runs and why.
    const d = await pi.herd(["run", "-d", "--gpu", "1", "--name", "sleeper", "--", "sleep", "30"]);
    expectCode(d, 0, "detached");
    const id = d.stdout.trim();
    for (const node of [pi, gpu]) {
      const ps = JSON.parse((await node.herd(["ps", "--json"])).stdout) as Job[];
      const j = ps.find((x) => x.id === id);
      assert.ok(j, `ps on ${node === pi ? "pi" : "gpu"} lists the job`);
      assert.equal(j.nodeName, "gpu");
      assert.equal(j.state, "running");
      assert.match(j.why ?? "", /best-fit: score/);
    }
    const text = await pi.herd(["ps"]);
    assert.match(text.stdout, /sleeper/);
    assert.match(text.stdout, /gpu/);
    // Kill from the Pi; the server's record says killed.
    expectCode(await pi.herd(["kill", "sleeper"]), 0, "kill from the pi");
    const after = JSON.parse((await gpu.herd(["ps", "--all", "--json"])).stdout) as Job[];
    assert.equal(after.find((x) => x.id === id)?.state, "killed");

    // Logs of a remote job from the Pi.
    const l = await pi.herd([
      "run",
      "-d",
      "--gpu",
      "1",
      "--",
      "sh",
      "-c",
      "echo first; echo second",
    ]);
    const lid = l.stdout.trim();
    await until("the logged job ended", async () => {
      const j = JSON.parse((await pi.herd(["ps", "--all", "--json"])).stdout) as Job[];
      return j.find((x) => x.id === lid)?.state === "succeeded";
    });
    const logs = await pi.herd(["logs", lid]);
    expectCode(logs, 0, "logs");
    assert.equal(logs.stdout, "first\nsecond\n");

    // The Pi placed those four jobs on the server: its round trips are in /metrics.
    const { info, token } = await findAgent(pi.dataDir);
    const metrics = await (await fetch(`${info.apiUrl}/metrics`, {
      headers: { authorization: `Bearer ${token}` },
    })).text();
    assert.match(metrics, /# TYPE herd_placement_round_trip_seconds summary/);
    assert.match(metrics, /herd_placement_round_trip_seconds\{quantile="0\.99"\} \d/);
    const count = Number(/herd_placement_round_trip_seconds_count (\d+)/.exec(metrics)?.[1]);
    assert.ok(count >= 4, `round trips counted: ${count}`);
    assert.match(metrics, /herd_job_offers_sent_total \d+/);

    // Nothing fits: refused at once; with --queue it waits, then runs when room appears.
    const nope = await pi.herd(["run", "--gpu", "9", "--", "true"]);
    expectCode(nope, 125, "9 GPUs");
    assert.match(nope.stderr, /no member can take the job now/);
    const hog = (await gpu.herd(["run", "-d", "--gpu", "8", "--", "sleep", "4"])).stdout.trim();
    const q = await pi.herd(["run", "-d", "--queue", "--gpu", "4", "--", "echo", "queued-ran"]);
    expectCode(q, 0, "queued");
    const qid = q.stdout.trim();
    const pending = JSON.parse((await pi.herd(["ps", "--json"])).stdout) as Job[];
    const p = pending.find((x) => x.id === qid);
    assert.equal(p?.state, "pending");
    assert.match(p?.reason ?? "", /gpu/i);
    await until("the queued job ran after the hog ended", async () => {
      const j = JSON.parse((await pi.herd(["ps", "--all", "--json"])).stdout) as Job[];
      return j.find((x) => x.id === qid)?.state === "succeeded";
    }, 30_000);
    assert.ok(hog);
  } finally {
    await stop();
  }
});

Deno.test("several nodes placing many jobs at once never overcommit a node", async () => {
  const { pi, gpu, stop } = await piAndServer();
  try {
    // 8 GPUs in the cluster; 24 one-GPU jobs submitted from both nodes at once.
    const runs = Array.from(
      { length: 24 },
      (_, i) => (i % 2 ? pi : gpu).herd(["run", "-d", "--queue", "--gpu", "1", "--", "sleep", "2"]),
    );
    const results = await Promise.all(runs);
    for (const r of results) expectCode(r, 0, "submit");
    let maxRunning = 0;
    let left = "";
    await until("every job ended", async () => {
      const status = JSON.parse((await gpu.herd(["status", "--json"])).stdout);
      assert.ok(status.allocated.gpus <= 8, `allocated ${status.allocated.gpus} of 8 GPUs`);
      maxRunning = Math.max(maxRunning, status.allocated.gpus);
      const jobs = JSON.parse((await pi.herd(["ps", "--all", "--json"])).stdout) as Job[];
      const mine = jobs.filter((j) => results.some((r) => r.stdout.trim() === j.id));
      left = `${mine.length} of 24 listed; not succeeded: ${
        JSON.stringify(mine.filter((j) => j.state !== "succeeded"))
      }; ${status.allocated.gpus} GPUs allocated`;
      return mine.length === 24 && mine.every((j) => j.state === "succeeded");
    }, 60_000).catch((e) => {
      throw new Error(`${e.message}: ${left}`);
    });
    assert.ok(maxRunning >= 4, `jobs ran side by side (max ${maxRunning})`);
  } finally {
    await stop();
  }
});

Deno.test("kill -9 of the node running a job: its owners run it again elsewhere", async () => {
  // Three small workstations-like nodes: the job can run on any of them.
  const a = await Agent.start({
    args: ["--name", "a", "--profile-from", `${FIXTURES}machines/intel-nuc.json`],
  });
  const token = (await a.herd(["token"])).stdout.trim();
  const seed = JSON.parse((await a.herd(["status", "--json"])).stdout).cluster.address;
  const join = (name: string) =>
    Agent.start({
      args: [
        "--name",
        name,
        "--profile-from",
        `${FIXTURES}machines/intel-nuc.json`,
        "--join",
        token,
        "--peer",
        seed,
      ],
    });
  const b = await join("b");
  const c = await join("c");
  const agents = { a, b, c } as Record<string, Agent>;
  try {
    await until("three members", async () => {
      const n = JSON.parse((await a.herd(["nodes", "--json"])).stdout) as Array<
        { state: string; class: string }
      >;
      return n.filter((m) => m.state === "alive" && m.class).length === 3;
    });
    const r = await a.herd(["run", "-d", "--cpu", "1", "--name", "survivor", "--", "sleep", "60"]);
    expectCode(r, 0, "submit");
    const id = r.stdout.trim();
    const first = (JSON.parse((await a.herd(["ps", "--json"])).stdout) as Job[]).find((j) =>
      j.id === id
    )!;
    const victim = first.nodeName;
    const watcher = victim === "a" ? b : a;
    await agents[victim].stop("SIGKILL");
    await until("the job runs again on another node", async () => {
      const jobs = JSON.parse((await watcher.herd(["ps", "--json"])).stdout) as Job[];
      const j = jobs.find((x) => x.id === id);
      return j?.state === "running" && j.attempt === first.attempt + 1 && j.nodeName !== victim;
    }, 30_000);
  } finally {
    for (const x of [a, b, c]) await x.stop().catch(() => {});
  }
});
