// `herd pool`: the cluster as one pool, over real agents with unlike emulated machines
// (a Raspberry Pi 4, an 8×H100 server and a laptop on battery) joined by token.
import assert from "node:assert/strict";
import type { ClusterPool } from "../../core/mesh/pool.ts";
import { Agent, expectCode, FIXTURES, until } from "./_harness.ts";

const machine = (name: string, file: string, join: string[] = []) =>
  Agent.start({
    args: ["--name", name, "--profile-from", `${FIXTURES}machines/${file}.json`, ...join],
  });

Deno.test("pool: the cluster's resources by class and in total, JSON and text", async () => {
  const pi = await machine("pi", "raspberry-pi-4");
  const token = (await pi.herd(["token"])).stdout.trim();
  const seed = JSON.parse((await pi.herd(["status", "--json"])).stdout).cluster.address;
  const join = ["--join", token, "--peer", seed];
  const agents = [pi];
  try {
    agents.push(await machine("gpu", "server-8xh100", join));
    agents.push(await machine("lap", "laptop-battery", join));
    const pool = async () => {
      const r = await pi.herd(["pool", "--json"]);
      expectCode(r, 0, "pool --json");
      return JSON.parse(r.stdout) as ClusterPool;
    };
    // Every member up with its meta (its class) gossiped.
    let p = await pool();
    await until("three members with their meta", async () => {
      p = await pool();
      return p.total.nodes === 3 && !p.classes.unknown;
    });
    assert.equal(p.members.alive, 3);

    // The server's 8 H100s, all free, in DataCenter; the Pi counted as Edge (arm).
    const dc = p.classes.DataCenter;
    assert.equal(dc.nodes, 1);
    assert.deepEqual([dc.gpus.total, dc.gpus.free], [8, 8]);
    assert.equal(dc.gpus.byModel.length, 1);
    assert.match(dc.gpus.byModel[0].model, /H100/);
    assert.equal(dc.gpus.byModel[0].count, 8);
    assert.ok(dc.gpus.byModel[0].memBytes! > 64 * 1024 ** 3, "an H100 has 80 GB");
    assert.equal(p.classes.Edge.nodes, 1);
    assert.equal(p.classes.Edge.gpus.total, 0);
    assert.deepEqual(p.classes.Edge.arches, ["aarch64"]);
    assert.equal(p.classes.Laptop.nodes, 1);
    assert.equal(p.classes.Workstation.nodes, 0);

    // Totals are the sum of the classes; each node's capacity is what `herd nodes` says.
    const nodes = JSON.parse((await pi.herd(["nodes", "--json"])).stdout) as Array<
      { capacity: { cpu: number; memBytes: number; gpus: number } }
    >;
    const classes = Object.values(p.classes);
    for (const f of ["cpu", "memBytes", "gpus"] as const) {
      const sum = Math.round(classes.reduce((s, c) => s + c[f].total, 0) * 10) / 10;
      assert.equal(p.total[f].total, sum, `${f}: total = sum of classes`);
    }
    assert.equal(p.total.cpu.total, nodes.reduce((s, n) => s + n.capacity.cpu, 0));
    assert.equal(p.total.memBytes.total, nodes.reduce((s, n) => s + n.capacity.memBytes, 0));
    assert.equal(p.total.gpus.total, 8);
    assert.ok(p.total.cpu.free <= p.total.cpu.total && p.total.cpu.free > 0);
    // The laptop fixture runs on battery; the Pi and the server on AC.
    assert.deepEqual([p.total.power.onAc, p.total.power.onBattery], [2, 1]);
    assert.equal(p.total.power.lowestBattery?.node, "lap");
    assert.equal(p.classes.Laptop.power.onBattery, 1);

    // The human form: a row per class present, TOTAL, the GPU model, power, members.
    const text = await pi.herd(["pool"]);
    expectCode(text, 0, "pool");
    assert.match(text.stdout, /^CLASS\s+NODES\s+CPU\s+MEMORY\s+GPU\s+ARCH$/m);
    assert.match(text.stdout, /^DataCenter\s+1\s+.*\s8\/8\s+x86_64$/m);
    assert.match(text.stdout, /^Edge\s+1\s+.*\s-\s+aarch64$/m);
    assert.match(text.stdout, /^Laptop\s+1\s/m);
    assert.doesNotMatch(text.stdout, /^Workstation/m);
    assert.match(text.stdout, /^TOTAL\s+3\s+.*\s8\/8\s+aarch64,x86_64$/m);
    assert.match(text.stdout, /^NVIDIA H100\S* .*\s8\/8\s+[\d.]+ GiB\s+1$/m);
    assert.match(text.stdout, /^power: 2 on AC, 1 on battery \(lowest \d+% lap\)/m);
    assert.match(text.stdout, /^members: 3 alive$/m);

    // A stopped member leaves the pool (but stays in the member counts).
    await agents.pop()!.stop("SIGKILL");
    await until(
      "the laptop out of the pool",
      async () => (p = await pool()).total.nodes === 2,
      30_000,
    );
    assert.equal(p.classes.Laptop.nodes, 0);
    assert.equal(p.members.alive, 2);
    assert.equal(p.total.gpus.total, 8);

    const extra = await pi.herd(["pool", "extra"]);
    expectCode(extra, 2, "positional argument");
    assert.match(extra.stderr, /pool: unexpected argument 'extra'/);
  } finally {
    for (const a of agents.reverse()) await a.stop();
  }
});
