// `herd run --dry-run`: where the cluster would place a job and why, over real agents
// with unlike emulated machines (a Raspberry Pi 4 and an 8×H100 server) joined by token.
import assert from "node:assert/strict";
import { Agent, expectCode, FIXTURES, until } from "./_harness.ts";

interface Explanation {
  policy: string;
  feasible: number;
  ranked: Array<{ rank: number; name: string; score: number }>;
  refused: number;
  rejected: Array<{ name: string; filter: string; reason: string }>;
}

Deno.test("dry run: ranked members with scores, refused ones with the filter and why", async () => {
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
  try {
    const dry = async (...args: string[]) => {
      const r = await pi.herd(["run", "--dry-run", "--json", ...args, "--", "true"]);
      return { r, e: r.stdout ? JSON.parse(r.stdout) as Explanation : undefined };
    };
    await until("both members with their meta", async () => (await dry()).e?.feasible === 2);

    // A GPU job: only the server; the Pi is refused by the gpu filter, with the reason.
    const g = await dry("--gpu", "1");
    expectCode(g.r, 0, "gpu dry run");
    assert.deepEqual(g.e!.ranked.map((x) => x.name), ["gpu"]);
    assert.equal(g.e!.policy, "best-fit");
    assert.deepEqual(g.e!.rejected.map((x) => [x.name, x.filter]), [["pi", "gpu"]]);
    assert.match(g.e!.rejected[0].reason, /GPU/);

    // Constraints: arm64 only the Pi; class=Edge only the Pi; an A100 nowhere (exit 125).
    const arm = await dry("--constraint", "arch=arm64");
    assert.deepEqual(arm.e!.ranked.map((x) => x.name), ["pi"]);
    assert.equal(arm.e!.rejected[0].filter, "arch");
    const a100 = await dry("--gpu", "1", "--constraint", "gpu-model=A100");
    expectCode(a100.r, 125, "no node has an A100");
    assert.equal(a100.e!.feasible, 0);

    // Policies change the order: best-fit packs the small job onto the Pi (it fills it
    // more), cost-optimized too (an Edge node is cheapest); round-robin is named back.
    const small = await dry("--cpu", "0.5", "--policy", "cost-optimized");
    assert.equal(small.e!.policy, "cost-optimized");
    assert.equal(small.e!.ranked[0].name, "pi");
    assert.ok(small.e!.ranked[0].score > small.e!.ranked[1].score);

    // Text output names the filter; an unknown policy and a bad constraint are refused.
    const text = await pi.herd(["run", "--dry-run", "--gpu", "1", "--", "true"]);
    expectCode(text, 0, "text dry run");
    assert.match(text.stdout, /1 of 2 nodes can take the job/);
    assert.match(text.stdout, /pi .* gpu .*GPU/);
    const nope = await pi.herd(["run", "--dry-run", "--policy", "nope", "--", "true"]);
    expectCode(nope, 125, "unknown policy");
    assert.match(nope.stderr, /no scheduling policy 'nope' \(have: balanced, best-fit/);
    const bad = await pi.herd(["run", "--dry-run", "--constraint", "arch=sparc", "--", "true"]);
    expectCode(bad, 2, "bad constraint");
    assert.match(bad.stderr, /--constraint arch: one of/);
    // Without --dry-run the job runs where the constraint allows: the Pi.
    const edge = await gpu.herd([
      "run",
      "--constraint",
      "class=Edge",
      "--",
      "sh",
      "-c",
      "echo $HERD_NODE_ID",
    ]);
    expectCode(edge, 0, "class=Edge job");
    assert.equal(edge.stdout.trim(), JSON.parse((await pi.herd(["status", "--json"])).stdout).id);

    // Anti-affinity: never beside a running job of that name. db holds a GPU, so the server.
    const db = await pi.herd(["run", "-d", "--name", "db", "--gpu", "1", "--", "sleep", "30"]);
    expectCode(db, 0, "db");
    await until("db runs", async () => (await dry("--gpu", "1")).e?.feasible === 1);
    const beside = await dry("--anti-affinity", "db");
    assert.deepEqual(beside.e!.ranked.map((x) => x.name), ["pi"]);
    assert.deepEqual(beside.e!.rejected.map((x) => [x.name, x.filter, x.reason]), [
      ["gpu", "anti-affinity", "runs db (anti-affinity)"],
    ]);
    const apart = await pi.herd([
      "run",
      "--anti-affinity",
      "db",
      "--policy",
      "first-fit",
      "--near",
      "gpu",
      "--",
      "sh",
      "-c",
      "echo $HERD_NODE_ID",
    ]);
    expectCode(apart, 0, "anti-affinity job");
    assert.equal(apart.stdout.trim(), JSON.parse((await pi.herd(["status", "--json"])).stdout).id);
    const none = await pi.herd(["run", "--gpu", "1", "--anti-affinity", "db", "--", "true"]);
    expectCode(none, 125, "a GPU job away from db: nowhere");
    assert.match(none.stderr, /anti-affinity/);
    const far = await pi.herd(["run", "--near", "nosuch", "--", "true"]);
    expectCode(far, 125, "near an unknown node");
    assert.match(far.stderr, /near: no member named or with the id 'nosuch'/);
    expectCode(await pi.herd(["kill", "db"]), 0, "kill db");
  } finally {
    await gpu.stop();
    await pi.stop();
  }
});
