// State survives the agent: finished jobs and their logs stay; a job that was
// running when the agent died is reported lost, never forgotten.
import assert from "node:assert/strict";
import { Agent, expectCode, until } from "./_harness.ts";

Deno.test("after kill -9 and restart: finished jobs and logs kept, the running one lost", async () => {
  const a = await Agent.start();
  const done = await a.herd([
    "run",
    "-d",
    "--name",
    "finished",
    // Exit 4 is a failure: on-failure (the default) would run it again, and print again.
    "--restart",
    "never",
    "--",
    "sh",
    "-c",
    "echo kept-output; exit 4",
  ]);
  expectCode(done, 0);
  const doneId = done.stdout.trim();
  // `never`: the job stays lost (with on-failure it would run again: the test below).
  const running = await a.herd([
    "run",
    "-d",
    "--name",
    "victim",
    "--restart",
    "never",
    "--",
    "sleep",
    "300",
  ]);
  expectCode(running, 0);
  const runId = running.stdout.trim();
  await new Promise((r) => setTimeout(r, 800));
  await a.stop("SIGKILL");

  const b = await Agent.start({ dataDir: a.dataDir });
  try {
    assert.match(
      b.stderr,
      new RegExp(`job ${runId} \\(victim\\) was running when the agent stopped: marked lost`),
    );
    const jobs = JSON.parse((await b.herd(["ps", "--all", "--json"])).stdout) as Array<
      { id: string; state: string; exitCode?: number; reason?: string }
    >;
    const fin = jobs.find((j) => j.id === doneId)!;
    assert.equal(fin.state, "failed");
    assert.equal(fin.exitCode, 4);
    const lost = jobs.find((j) => j.id === runId)!;
    assert.equal(lost.state, "lost");
    assert.match(lost.reason!, /agent stopped while the job was running/);
    const logs = await b.herd(["logs", doneId]);
    assert.equal(logs.stdout, "kept-output\n");
    // The lost job's reservation was given back.
    const s = JSON.parse((await b.herd(["status", "--json"])).stdout);
    assert.equal(s.allocated.cpu, 0);
  } finally {
    await b.stop();
    // The orphaned `sleep 300` from the killed agent.
    await new Deno.Command("pkill", { args: ["-f", "sleep 300"] }).output();
  }
});

Deno.test("a clean stop records running jobs as lost with the reason", async () => {
  const a = await Agent.start();
  const r = await a.herd(["run", "-d", "--", "sleep", "120"]);
  const id = r.stdout.trim();
  await new Promise((res) => setTimeout(res, 300));
  const st = await a.stop("SIGTERM");
  assert.equal(st.code, 0);
  const b = await Agent.start({ dataDir: a.dataDir });
  try {
    const jobs = JSON.parse((await b.herd(["ps", "--all", "--json"])).stdout) as Array<
      { id: string; state: string; reason: string }
    >;
    const j = jobs.find((x) => x.id === id)!;
    assert.equal(j.state, "lost");
    assert.match(j.reason, /node stopped \(received SIGTERM\)/);
  } finally {
    await b.stop();
  }
});

Deno.test("a job that was running when its agent died runs again after the restart (on-failure)", async () => {
  const a = await Agent.start();
  const r = await a.herd([
    "run",
    "-d",
    "--name",
    "again",
    "--",
    "sh",
    "-c",
    "echo attempt $HERD_ATTEMPT; exec sleep 301",
  ]);
  expectCode(r, 0);
  const id = r.stdout.trim();
  type Job = { id: string; state: string; attempt: number; history?: Array<{ state: string }> };
  const job = async (agent: Agent) =>
    (JSON.parse((await agent.herd(["ps", "--all", "--json"])).stdout) as Job[]).find((j) =>
      j.id === id
    );
  await until(
    "attempt 1 printed",
    async () => /attempt 1/.test((await a.herd(["logs", id])).stdout),
  );
  await a.stop("SIGKILL");
  // The killed agent's attempt outlives it (its own process group): end it, as a reboot would.
  await new Deno.Command("pkill", { args: ["-f", "sleep 301"] }).output();

  const b = await Agent.start({ dataDir: a.dataDir });
  try {
    await until("attempt 2 runs", async () => {
      const j = await job(b);
      return j?.state === "running" && j.attempt === 2;
    }, 30_000);
    const j = (await job(b))!;
    assert.equal(j.history?.[0]?.state, "lost");
    await until(
      "attempt 2 printed",
      async () => /attempt 2/.test((await b.herd(["logs", id])).stdout),
    );
    assert.equal((await b.herd(["logs", id])).stdout, "attempt 1\nattempt 2\n");
  } finally {
    await b.stop();
    await new Deno.Command("pkill", { args: ["-f", "sleep 301"] }).output();
  }
});
