// `deno task bench`: herd's figures for one node.
//
//  1. micro (deno bench): classification per recorded machine, full profile of this machine
//  2. placement: one decision per scheduling policy over 1,000 and 10,000 synthetic nodes
//     (bench/placement_bench.ts, also `deno task bench:placement`)
//  3. a job end to end: `herd run -- true` (a CLI process) against spawning `true`
//     directly, alternated pair by pair in the same run; plus the CLI's own start-up
//     (`herd version`) and the agent-side round trip (API submit → end, no CLI)
//  4. idle agent RSS: after start, after 200 jobs, and after the jobs with the
//     agent idle again
//
// Flags: --runs N (default 30), --skip-micro, --skip-placement.

import { parseArgs } from "node:util";
import { benchArgs } from "./_args.ts";
import { FLAGS as AGENT_FLAGS } from "../scripts/compile.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;
// The agent runs as `deno task start` and the compiled binary run it.
const FLAGS = ["run", ...AGENT_FLAGS];

const { values } = parseArgs({
  // `deno task bench -- --runs 10` hands the task its "--" too.
  args: benchArgs(),
  options: {
    runs: { type: "string", default: "30" },
    "skip-micro": { type: "boolean" },
    "skip-placement": { type: "boolean" },
  },
});
const RUNS = Number(values.runs);

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { min: s[0], p50: q(0.5), p90: q(0.9), max: s[s.length - 1] };
}
const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)} ms`;

async function timed(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(cmd, { args, env, stdout: "null", stderr: "null" }).output();
  const t = performance.now() - t0;
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed with ${out.code}`);
  return t;
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m ? Number(m[1]) : NaN;
}

async function waitForAgent(dir: string): Promise<{ apiUrl: string; pid: number; token: string }> {
  for (let i = 0; i < 300; i++) {
    try {
      const info = JSON.parse(await Deno.readTextFile(`${dir}/agent.json`));
      const token = (await Deno.readTextFile(`${dir}/api.token`)).trim();
      return { ...info, token };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error("agent did not start");
}

if (!values["skip-micro"]) {
  console.log("## micro: deno bench bench/profile_bench.ts\n");
  const b = await new Deno.Command(Deno.execPath(), {
    args: ["bench", "-A", "--unstable-kv", `${ROOT}bench/profile_bench.ts`],
    env: { NO_COLOR: "1" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!b.success) Deno.exit(b.code);
}

if (!values["skip-placement"]) {
  console.log("\n## placement: one decision per policy (bench/placement_bench.ts)\n");
  const b = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}bench/placement_bench.ts`],
    env: { NO_COLOR: "1" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!b.success) Deno.exit(b.code);
}

console.log(`\n## a job end to end (${RUNS} runs each, alternated)\n`);
const dir = await Deno.makeTempDir({ prefix: "herd-bench-" });
const env = { HERD_DATA_DIR: dir, NO_COLOR: "1" };
// The agent runs from its own copy of the runtime, as the herd binary would on a Pi: this
// bench's own deno maps the same file, and the kernel does not page out shared pages
// (core/page_release.ts), so a shared binary would overstate the agent's RSS.
// Written back to disk before the agent starts: an installed binary's page cache is clean,
// and the kernel cannot page out the dirty pages of a file just written (they would stay
// mapped, ~3.5 MiB more RSS, until writeback some 30 s later).
const runtime = `${dir}/deno-runtime`;
await Deno.copyFile(Deno.execPath(), runtime);
{
  using f = await Deno.open(runtime, { read: true });
  await f.sync();
}
// Every module the agent can load, resolved (deno.lock) and transpiled beforehand, as in the
// compiled binary: an agent that has to transpile or resolve npm packages while starting
// keeps 5–17 MiB more (the 59 MiB outliers after sources or deno.json had changed).
{
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["install", "--entrypoint", MAIN],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}
const agentProc = new Deno.Command(runtime, {
  args: [...FLAGS, MAIN, "up", "--api-port", "0"],
  env,
  stdout: "null",
  stderr: "null",
}).spawn();
try {
  const agent = await waitForAgent(dir);
  await new Promise((r) => setTimeout(r, 2000));
  const rssStart = rssKiB(agent.pid);
  // agent.releasePagesAfter (10 s) has passed: start-up pages are handed back.
  await new Promise((r) => setTimeout(r, 13_000));
  const rssSettled = rssKiB(agent.pid);

  const direct: number[] = [];
  const cli: number[] = [];
  const version: number[] = [];
  const api: number[] = [];
  const submit = async () => {
    const t0 = performance.now();
    const res = await fetch(`${agent.apiUrl}/v1/jobs?attach=1`, {
      method: "POST",
      headers: { authorization: `Bearer ${agent.token}`, "content-type": "application/json" },
      body: JSON.stringify({ executor: "exec", task: { command: ["true"] } }),
    });
    const text = await res.text();
    if (!text.includes('"state":"succeeded"')) throw new Error(`job failed: ${text}`);
    return performance.now() - t0;
  };
  // Warm-up, then alternate so drift hits all the same.
  await timed("true", []);
  await timed(Deno.execPath(), [...FLAGS, MAIN, "run", "--", "true"], env);
  await submit();
  for (let i = 0; i < RUNS; i++) {
    direct.push(await timed("true", []));
    cli.push(await timed(Deno.execPath(), [...FLAGS, MAIN, "run", "--", "true"], env));
    version.push(await timed(Deno.execPath(), [...FLAGS, MAIN, "version"], env));
    api.push(await submit());
  }
  const rows: Array<[string, number[]]> = [
    ["spawn `true` directly", direct],
    ["`herd run -- true` (CLI process)", cli],
    ["`herd version` (CLI start-up only)", version],
    ["API submit → end (agent side, no CLI)", api],
  ];
  console.log("| what | min | p50 | p90 | max |\n|---|---|---|---|---|");
  for (const [name, xs] of rows) {
    const s = stats(xs);
    console.log(`| ${name} | ${ms(s.min)} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.max)} |`);
  }
  const ratios = cli.map((c, i) => c / direct[i]);
  const apiRatios = api.map((a, i) => a / direct[i]);
  console.log(
    `\nratio herd run / direct, pair by pair: p50 ${stats(ratios).p50.toFixed(1)}×` +
      ` (min ${stats(ratios).min.toFixed(1)}×, max ${stats(ratios).max.toFixed(1)}×)`,
  );
  console.log(`ratio API round trip / direct: p50 ${stats(apiRatios).p50.toFixed(1)}×`);

  console.log("\n## idle agent RSS\n");
  for (let i = 0; i < 200; i++) await submit();
  const rssAfterJobs = rssKiB(agent.pid);
  await new Promise((r) => setTimeout(r, 15_000));
  const rssIdle = rssKiB(agent.pid);
  console.log("| when | RSS |\n|---|---|");
  console.log(`| 2 s after start | ${(rssStart / 1024).toFixed(1)} MiB |`);
  console.log(`| 15 s after start, idle | ${(rssSettled / 1024).toFixed(1)} MiB |`);
  console.log(
    `| right after ${RUNS * 2 + 2 + 200} jobs | ${(rssAfterJobs / 1024).toFixed(1)} MiB |`,
  );
  console.log(`| 15 s idle after the jobs | ${(rssIdle / 1024).toFixed(1)} MiB |`);
  console.log(
    `\nbudget: 50 MiB (the seed's Raspberry Pi limit): ${rssIdle / 1024 < 50 ? "within" : "OVER"}`,
  );
} finally {
  agentProc.kill("SIGTERM");
  await agentProc.status;
}
