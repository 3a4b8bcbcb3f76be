// `herd apply` on unlike emulated machines, the heterogeneous workload of the Raspberry
// Pi benchmark seed: the GPU job lands on the GPU server, the sensor job's 5 replicas on
// 5 distinct Pis, the aggregation wherever it fits; applying again changes nothing; when
// the GPU server is killed -9 its job waits, pending, with the reason.
import assert from "node:assert/strict";
import { Agent, expectCode, FIXTURES, until } from "./_harness.ts";

interface Job {
  id: string;
  state: string;
  nodeName: string;
  reason?: string;
  spec: { name: string };
}

const WORKLOAD = `
jobs:
  - name: gpu-inference
    command: [sleep, "300"]
    gpu: 1
    mem: 4G
  - name: edge-sensor-processing
    command: [sleep, "300"]
    cpu: 1.0
    mem: 256M
    replicas: 5
    spread: true
    constraints:
      class: Edge
    restart: always
  - name: data-aggregation
    command: [sleep, "300"]
    cpu: 2.0
    mem: 1G
`;

Deno.test("herd apply: the heterogeneous workload on a GPU server and five Pis", async () => {
  const pi = (name: string, extra: string[] = []) =>
    Agent.start({
      args: ["--name", name, "--profile-from", `${FIXTURES}machines/raspberry-pi-4.json`, ...extra],
    });
  const first = await pi("pi0");
  const token = (await first.herd(["token"])).stdout.trim();
  const seed = JSON.parse((await first.herd(["status", "--json"])).stdout).cluster.address;
  const join = ["--join", token, "--peer", seed];
  const agents = [first];
  try {
    for (let i = 1; i < 5; i++) agents.push(await pi(`pi${i}`, join));
    const gpu = await Agent.start({
      args: ["--name", "gpu", "--profile-from", `${FIXTURES}machines/server-8xh100.json`, ...join],
    });
    agents.push(gpu);
    await until("six members with their meta", async () => {
      const r = await first.herd(["run", "--dry-run", "--json", "--", "true"]);
      return r.code === 0 && JSON.parse(r.stdout).feasible === 6;
    }, 30_000);
    const dir = await Deno.makeTempDir();
    const file = `${dir}/workload.yaml`;
    await Deno.writeTextFile(file, WORKLOAD);

    const applied = await first.herd(["apply", "--json", file]);
    expectCode(applied, 0, "apply");
    const results = JSON.parse(applied.stdout).results as Array<{ name: string; action: string }>;
    assert.deepEqual(results.map((r) => r.action), ["created", "created", "created"]);

    const jobs = JSON.parse((await first.herd(["ps", "--json"])).stdout) as Job[];
    const named = (n: string) => jobs.filter((j) => j.spec.name.startsWith(n));
    assert.equal(named("gpu-inference")[0]?.nodeName, "gpu");
    const sensors = named("edge-sensor-processing");
    assert.equal(sensors.length, 5);
    assert.ok(sensors.every((j) => j.state === "running"), JSON.stringify(sensors));
    assert.equal(new Set(sensors.map((j) => j.nodeName)).size, 5, "one replica per Pi");
    assert.ok(sensors.every((j) => j.nodeName.startsWith("pi")));
    assert.equal(named("data-aggregation")[0]?.state, "running");

    const again = await first.herd(["apply", "--json", file]);
    expectCode(again, 0, "apply again");
    assert.deepEqual(
      (JSON.parse(again.stdout).results as Array<{ action: string }>).map((r) => r.action),
      ["unchanged", "unchanged", "unchanged"],
    );

    // The GPU server dies: no other node has a GPU, so its job waits with the reason.
    await gpu.stop("SIGKILL");
    agents.pop();
    await until("the GPU job is pending with the reason", async () => {
      const now = JSON.parse((await first.herd(["ps", "--json"])).stdout) as Job[];
      const j = now.find((x) => x.spec.name === "gpu-inference");
      return j?.state === "pending" && /gpu/i.test(j.reason ?? "");
    }, 30_000);
  } finally {
    for (const a of agents) await a.stop().catch(() => {});
  }
});
