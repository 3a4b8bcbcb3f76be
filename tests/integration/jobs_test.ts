// Local jobs through the CLI: output, exit codes, detach, ps, logs, kill, timeouts.
import assert from "node:assert/strict";
import { findAgent } from "../../core/datadir.ts";
import { Agent, expectCode } from "./_harness.ts";

const agent = await Agent.start();
// One agent for the file's tests; stopped by the last one.

Deno.test("herd run streams stdout and stderr and exits with the job's code", async () => {
  const ok = await agent.herd(["run", "--", "sh", "-c", "echo out; echo err >&2; exit 0"]);
  expectCode(ok, 0);
  assert.equal(ok.stdout, "out\n");
  assert.equal(ok.stderr, "err\n");
  const three = await agent.herd(["run", "--", "sh", "-c", "exit 3"]);
  expectCode(three, 3);
  const env = await agent.herd([
    "run",
    "--env",
    "GREETING=hi there",
    "--",
    "sh",
    "-c",
    'echo "$GREETING $HERD_JOB_ID"',
  ]);
  expectCode(env, 0);
  assert.match(env.stdout, /^hi there [0-9a-z]{16}\n$/);
});

Deno.test("the job runs in the caller's directory", async () => {
  const dir = await Deno.makeTempDir();
  const r = await agent.herd(["run", "--", "pwd"], { cwd: dir });
  expectCode(r, 0);
  assert.equal(r.stdout.trim(), await Deno.realPath(dir));
});

Deno.test("a command that does not exist fails with 127 and says so", async () => {
  const r = await agent.herd(["run", "--", "no-such-command-herd"]);
  expectCode(r, 127);
  assert.match(r.stderr, /command not found: no-such-command-herd/);
});

Deno.test("binary output survives the stream byte for byte", async () => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-kv",
      "--unstable-net",
      "--unstable-worker-options",
      new URL("../../main.ts", import.meta.url).pathname,
      "run",
      "--",
      "head",
      "-c",
      "300000",
      "/dev/urandom",
    ],
    env: { HERD_DATA_DIR: agent.dataDir },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0);
  assert.equal(r.stdout.length, 300000);
});

/** Runs a shell pipeline with `herd` as a command (the CLI under deno). */
async function pipeline(script: string): Promise<{ code: number; stdout: string }> {
  const herdCmd =
    `${Deno.execPath()} run -A --unstable-kv --unstable-net --unstable-worker-options ${
      new URL("../../main.ts", import.meta.url).pathname
    }`;
  const child = new Deno.Command("sh", {
    args: ["-c", script.replaceAll("HERD", herdCmd)],
    env: { HERD_DATA_DIR: agent.dataDir },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // A hang is a failure, not a stuck CI run.
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill("SIGKILL");
  }, 60_000);
  const out = await child.output();
  clearTimeout(timer);
  if (hung) throw new Error(`'${script}' did not finish in 60 s`);
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

Deno.test("a slow reader gets every byte: the job waits for it, nothing is dropped", async () => {
  const want = await pipeline("seq 1 400000 | md5sum");
  const got = await pipeline("HERD run -- seq 1 400000 | (sleep 2; cat) | md5sum");
  assert.equal(got.stdout, want.stdout);
  const big = await pipeline("HERD run -- head -c 50000000 /dev/zero | wc -c");
  assert.equal(big.stdout.trim(), "50000000");
});

Deno.test("when the reader goes away (| head), the job is stopped", async () => {
  const r = await pipeline("HERD run --name yes-pipe -- yes | head -n 2");
  assert.equal(r.stdout, "y\ny\n");
  await new Promise((res) => setTimeout(res, 500));
  const jobs = JSON.parse((await agent.herd(["ps", "--all", "--json"])).stdout) as Array<
    { spec: { name: string }; state: string }
  >;
  const j = jobs.find((x) => x.spec.name === "yes-pipe");
  assert.equal(j?.state, "killed");
});

Deno.test("an attached reader that stops reading does not hold up a kill", async () => {
  const { info, token } = await findAgent(agent.dataDir);
  const auth = { authorization: `Bearer ${token}` };
  const res = await fetch(`${info.apiUrl}/v1/jobs?attach=1`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ name: "stalled-reader", executor: "exec", task: { command: ["yes"] } }),
  });
  assert.equal(res.status, 201);
  const reader = res.body!.getReader();
  const first = JSON.parse(new TextDecoder().decode((await reader.read()).value).split("\n")[0]);
  const id = first.job.id as string;
  // Let the job fill the reader's queue, so it is waiting on the reader when killed.
  await new Promise((r) => setTimeout(r, 1000));
  const kill = fetch(`${info.apiUrl}/v1/jobs/${id}/kill`, { method: "POST", headers: auth });
  const answer = await Promise.race([
    kill.then(async (r) => ({ status: r.status, body: await r.json() })),
    new Promise<undefined>((r) => setTimeout(() => r(undefined), 15_000)),
  ]);
  await reader.cancel();
  assert.ok(answer, "the kill did not answer in 15 s");
  assert.equal(answer.status, 200);
  assert.equal(answer.body.state, "killed");
});

Deno.test("-d detaches; ps, logs, logs -f and kill work on the job", async () => {
  const d = await agent.herd([
    "run",
    "-d",
    "--name",
    "ticker",
    "--",
    "sh",
    "-c",
    "for i in 1 2 3 4 5 6 7 8 9 10; do echo tick $i; sleep 0.3; done; sleep 60",
  ]);
  expectCode(d, 0, "run -d");
  const id = d.stdout.trim();
  assert.match(id, /^[0-9a-z]{16}$/);

  const ps = await agent.herd(["ps"]);
  expectCode(ps, 0);
  assert.match(ps.stdout, new RegExp(`${id}\\s+ticker\\s+sh -c .*running`));
  const psJson = JSON.parse((await agent.herd(["ps", "--json"])).stdout);
  assert.ok(
    psJson.some((j: { id: string; state: string }) => j.id === id && j.state === "running"),
  );

  await new Promise((r) => setTimeout(r, 1200));
  const logs = await agent.herd(["logs", "ticker"]);
  expectCode(logs, 0, "logs by name");
  assert.match(logs.stdout, /^tick 1\ntick 2\n/);

  // Follow from another process while killing: -f ends when the job ends.
  const follow = agent.herd(["logs", "-f", id.slice(0, 10)]);
  // Killed once the last tick is out (on a loaded machine the ticks run late).
  for (let i = 0; i < 100; i++) {
    const l = await agent.herd(["logs", id]);
    if (l.stdout.includes("tick 10\n")) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const k = await agent.herd(["kill", id]);
  expectCode(k, 0, "kill");
  assert.match(k.stdout, new RegExp(`${id} killed`));
  const f = await follow;
  expectCode(f, 0, "logs -f");
  assert.match(f.stdout, /tick 1\n[^]*tick 10\n$/);
  assert.equal((f.stdout.match(/tick 1\n/g) ?? []).length, 1, "each line once");

  const all = await agent.herd(["ps", "--all"]);
  assert.match(all.stdout, new RegExp(`${id}\\s+ticker.*killed`));
  const none = await agent.herd(["ps"]);
  assert.doesNotMatch(none.stdout, new RegExp(id));
  const again = await agent.herd(["kill", id]);
  expectCode(again, 1, "kill a finished job");
  assert.match(again.stderr, /is not running \(it is killed\)/);
});

Deno.test("--timeout stops the job: exit 124 and the reason", async () => {
  const t0 = Date.now();
  const r = await agent.herd(["run", "--timeout", "1s", "--", "sleep", "30"]);
  expectCode(r, 124);
  assert.match(r.stderr, /timed out after 1000 ms/);
  assert.ok(Date.now() - t0 < 15_000);
});

Deno.test("a job that ignores SIGTERM is killed after the grace period, with its children", async () => {
  const r = await agent.herd([
    "run",
    "--timeout",
    "500ms",
    "--",
    "sh",
    "-c",
    "trap '' TERM; sleep 37 & wait; sleep 37",
  ]);
  expectCode(r, 124);
  const ps = await new Deno.Command("pgrep", { args: ["-f", "sleep 37"], stdout: "piped" })
    .output();
  // The local profile's kill grace is 2 s; the job's process group must be gone.
  assert.equal(new TextDecoder().decode(ps.stdout).trim(), "", "no sleep left behind");
});

Deno.test("unknown job ids get a clear error", async () => {
  for (const cmd of [["logs", "zzzzzzzz"], ["kill", "zzzzzzzz"], ["logs", "not/an/id"]]) {
    const r = await agent.herd(cmd);
    expectCode(r, 1, cmd.join(" "));
    assert.match(r.stderr, /herd: (no job 'zzzzzzzz'|'not\/an\/id' is not a job id|no route)/);
  }
});

Deno.test("stop the shared agent", async () => {
  const status = await agent.stop();
  assert.equal(status.code, 0, agent.stderr);
});
