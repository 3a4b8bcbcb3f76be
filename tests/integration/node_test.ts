// One node end to end: start, status, a second start refused, clean stop.
import assert from "node:assert/strict";
import { Agent, expectCode, FIXTURES, herd } from "./_harness.ts";

Deno.test("herd up starts a node; status reports it; a second up on the same data dir is refused", async () => {
  const agent = await Agent.start({ args: ["--name", "alpha", "--label", "zone=lab"] });
  try {
    assert.match(agent.stdout, /herd node [0-9a-z]{16} \(alpha\) is up/);
    assert.match(agent.stdout, /class\s+(DataCenter|Workstation|Laptop|Edge)/);
    const st = await agent.herd(["status", "--json"]);
    expectCode(st, 0, "status");
    const s = JSON.parse(st.stdout);
    assert.equal(s.name, "alpha");
    assert.equal(s.emulated, false);
    assert.deepEqual(s.labels, { zone: "lab" });
    assert.equal(s.capacity.cpu, navigator.hardwareConcurrency);
    assert.equal(s.arch, Deno.build.arch);

    const human = await agent.herd(["status"]);
    expectCode(human, 0);
    assert.match(human.stdout, /node\s+[0-9a-z]{16} \(alpha\)/);

    const second = await herd(agent.dataDir, ["up", "--api-port", "0"]);
    expectCode(second, 1, "second up");
    assert.match(second.stderr, /already running on .* \(pid \d+/);
  } finally {
    const status = await agent.stop("SIGTERM");
    assert.equal(status.code, 0, agent.stderr);
  }
  assert.match(agent.stderr, /stopping \(received SIGTERM\)/);
  // Stopped cleanly: the CLI says so, and how to start one.
  const after = await herd(agent.dataDir, ["status"]);
  expectCode(after, 3, "status after stop");
  assert.match(after.stderr, /no herd node is running on .*\n.*herd up/);
});

Deno.test("the node keeps its id across restarts", async () => {
  const a = await Agent.start();
  const id1 = JSON.parse((await a.herd(["status", "--json"])).stdout).id;
  await a.stop("SIGINT");
  const b = await Agent.start({ dataDir: a.dataDir });
  try {
    assert.equal(JSON.parse((await b.herd(["status", "--json"])).stdout).id, id1);
  } finally {
    await b.stop();
  }
});

Deno.test("--profile-from runs an emulated node with a recorded machine", async () => {
  const agent = await Agent.start({
    args: ["--profile-from", `${FIXTURES}machines/raspberry-pi-4.json`],
  });
  try {
    const s = JSON.parse((await agent.herd(["status", "--json"])).stdout);
    assert.equal(s.emulated, true);
    assert.deepEqual(s.class, { kind: "Edge", deviceType: "RaspberryPi" });
    assert.equal(s.arch, "aarch64");
    assert.equal(s.capacity.cpu, 4);
    const human = await agent.herd(["status"]);
    assert.match(human.stdout, /EMULATED from .*raspberry-pi-4\.json/);
    const p = JSON.parse((await agent.herd(["profile", "--json"])).stdout);
    assert.equal(p.emulated, true);
    assert.equal(p.profile.cpu.arch, "aarch64");
  } finally {
    await agent.stop();
  }
});

Deno.test("herd profile probes this machine when no node runs; --record replays to the same profile", async () => {
  const dir = await Deno.makeTempDir();
  const r = await herd(dir, ["profile", "--json"]);
  expectCode(r, 0, "profile");
  const p = JSON.parse(r.stdout);
  assert.equal(p.profile.cpu.threads, navigator.hardwareConcurrency);
  assert.ok(["DataCenter", "Workstation", "Laptop", "Edge"].includes(p.class.kind));
  const rec = await herd(dir, ["profile", "--record"]);
  expectCode(rec, 0, "record");
  const file = `${dir}/me.json`;
  await Deno.writeTextFile(file, rec.stdout);
  const agent = await Agent.start({ args: ["--profile-from", file] });
  try {
    const replayed = JSON.parse((await agent.herd(["profile", "--json"])).stdout);
    assert.deepEqual(replayed.class, p.class);
    assert.equal(replayed.profile.cpu.model, p.profile.cpu.model);
    assert.equal(replayed.profile.memory.totalBytes, p.profile.memory.totalBytes);
  } finally {
    await agent.stop();
  }
});
