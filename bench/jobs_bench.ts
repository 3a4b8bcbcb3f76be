// Jobs across a real loopback cluster: N agents (emulated workstations, `local` profile),
// then
//  - placements per second end to end: jobs submitted through every node's HTTP API at
//    once (decision, offer, atomic admission on the target, the process started), until
//    `--jobs` have been admitted;
//  - the placement round trip as one client sees it (submit → admitted), p50/p99;
//  - time from `kill -9` of the node running a job to the job running again elsewhere.
//
//   deno run -A --unstable-kv --unstable-net --unstable-worker-options bench/jobs_bench.ts \
//     --nodes 10 --jobs 1000 --concurrency 32 --kills 5

import { parseArgs } from "node:util";
import { benchArgs } from "./_args.ts";
import { Agent, FIXTURES } from "../tests/integration/_harness.ts";
import { files } from "../core/datadir.ts";

const { values } = parseArgs({
  args: benchArgs(),
  options: {
    nodes: { type: "string", default: "10" },
    jobs: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "32" },
    kills: { type: "string", default: "5" },
    // Jobs per request (`herd run --replicas R`): their offers and admissions share messages.
    replicas: { type: "string", default: "1" },
  },
});
const N = Number(values.nodes), JOBS = Number(values.jobs), CONC = Number(values.concurrency);
const KILLS = Number(values.kills);
const REPLICAS = Number(values.replicas);

interface Api {
  url: string;
  token: string;
}
const apiOf = async (a: Agent): Promise<Api> => ({
  url: JSON.parse(await Deno.readTextFile(files(a.dataDir).agent)).apiUrl,
  token: (await Deno.readTextFile(files(a.dataDir).token)).trim(),
});
const call = async (api: Api, method: string, path: string, body?: unknown) => {
  const res = await fetch(api.url + path, {
    method,
    headers: { authorization: `Bearer ${api.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
};
/** CPU seconds of the agents and the jobs they reaped (utime+stime+cutime+cstime). */
const cpuSeconds = async (agents: Agent[]) => {
  let ticks = 0;
  for (const a of agents) {
    const stat = await Deno.readTextFile(`/proc/${a.child.pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks / 100; // USER_HZ
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function until(ok: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (await ok()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

const profile = `${FIXTURES}machines/workstation-rtx.json`;
const agents: Agent[] = [];
try {
  const first = await Agent.start({ args: ["--name", "n0", "--profile-from", profile] });
  agents.push(first);
  const token = (await first.herd(["token"])).stdout.trim();
  const seed = JSON.parse((await first.herd(["status", "--json"])).stdout).cluster.address;
  for (let i = 1; i < N; i++) {
    agents.push(
      await Agent.start({
        args: ["--name", `n${i}`, "--profile-from", profile, "--join", token, "--peer", seed],
      }),
    );
  }
  const apis = await Promise.all(agents.map(apiOf));
  const ready = await until(async () => {
    const r = await call(apis[0], "POST", "/v1/placements/explain", {});
    return r.body.feasible === N;
  }, 30_000);
  if (!ready) throw new Error(`the ${N} members did not all see each other in 30 s`);

  // What the idle cluster costs, to tell apart from what the jobs cost.
  const idle0 = await cpuSeconds(agents);
  await new Promise((r) => setTimeout(r, 3000));
  const idlePerSec = (await cpuSeconds(agents) - idle0) / 3;
  console.log(
    `idle cluster: ${(idlePerSec * 1000).toFixed(0)} ms of CPU per second, all ${N} agents`,
  );

  // Throughput: CONC clients, round-robin over the nodes' APIs, short jobs.
  const job = {
    executor: "exec",
    task: { command: ["true"] },
    resources: { cpu: 0.01 },
    ...(REPLICAS > 1 ? { replicas: REPLICAS } : {}),
  };
  let next = 0, admitted = 0, refused = 0;
  const rtts: number[] = [];
  const cpu0 = await cpuSeconds(agents);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONC }, async (_, c) => {
    for (;;) {
      const i = next;
      next += REPLICAS;
      if (i >= JOBS) return;
      const s = performance.now();
      const r = await call(apis[(i + c) % N], "POST", "/v1/jobs", job);
      rtts.push(performance.now() - s);
      const placed = REPLICAS > 1
        ? (r.body as Array<{ state: string }>).filter((j) => j.state === "running").length
        : 1;
      if (r.status === 201) admitted += placed;
      else refused += REPLICAS;
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1000)); // the last jobs end and are reported
  const cpu = await cpuSeconds(agents) - cpu0;
  console.log(
    `placements end to end, ${N} nodes, ${CONC} clients, ${REPLICAS} per request: ${admitted} admitted (${refused} refused) in ${
      secs.toFixed(2)
    } s = ${(admitted / secs).toFixed(0)}/s; submit → admitted p50 ${
      pct(rtts, 50).toFixed(2)
    } ms, p99 ${pct(rtts, 99).toFixed(2)} ms; agents' CPU ${
      (cpu * 1000 / admitted).toFixed(1)
    } ms per job (${cpu.toFixed(1)} s on ${navigator.hardwareConcurrency} cores)`,
  );

  // One idle-cluster placement at a time: the offer's round trip as the placer measures it.
  for (let i = 0; i < 200; i++) {
    const r = await call(apis[0], "POST", "/v1/jobs", {
      ...job,
      replicas: undefined,
      placement: { policy: "round-robin" },
    });
    if (r.status !== 201) throw new Error(`a sequential placement was refused: ${r.status}`);
  }
  const metrics = await (await fetch(`${apis[0].url}/metrics`, {
    headers: { authorization: `Bearer ${apis[0].token}` },
  })).text();
  const q = (x: string) =>
    Number(
      new RegExp(`herd_placement_round_trip_seconds\\{quantile="${x}"\\} (\\S+)`).exec(metrics)
        ?.[1],
    ) *
    1000;
  console.log(
    `placement round trip (offer → admitted, remote targets, the last 1024 of n0), one at a time after the load: p50 ${
      q("0.5").toFixed(2)
    } ms, p90 ${q("0.9").toFixed(2)} ms, p99 ${q("0.99").toFixed(2)} ms`,
  );

  // Kill -9 → running again elsewhere.
  const rerun: number[] = [];
  const detected: number[] = [];
  for (let k = 0; k < KILLS && agents.length > 2; k++) {
    const r = await call(apis[0], "POST", "/v1/jobs", {
      executor: "exec",
      task: { command: ["sleep", "600"] },
      resources: { cpu: 1 },
      placement: { policy: "round-robin" },
    });
    const id = r.body.id as string;
    const where = r.body.nodeId as string;
    const victim = await (async () => {
      for (const [i, a] of agents.entries()) {
        const st = JSON.parse((await a.herd(["status", "--json"])).stdout);
        if (st.id === where) return i;
      }
      return -1;
    })();
    if (victim < 0) throw new Error(`job ${id} runs on no agent the bench knows`);
    // Watched from a node that is not the victim.
    const wApi = apis[victim === 0 ? 1 : 0];
    const t = performance.now();
    await agents[victim].stop("SIGKILL");
    let failedAt: number | undefined;
    const ok = await until(async () => {
      if (failedAt === undefined) {
        const nodes = (await call(wApi, "GET", "/v1/nodes")).body as Array<
          { id: string; state: string }
        >;
        if (nodes.find((n) => n.id === where)?.state === "dead") failedAt = performance.now();
      }
      const j = await call(wApi, "GET", `/v1/jobs/${id}`);
      return j.body.state === "running" && j.body.attempt > r.body.attempt;
    }, 30_000);
    if (ok) {
      rerun.push(performance.now() - t);
      if (failedAt !== undefined) detected.push(failedAt - t);
    }
    agents.splice(victim, 1);
    apis.splice(victim, 1);
    await call(wApi, "POST", `/v1/jobs/${id}/kill`);
  }
  if (rerun.length) {
    console.log(
      `kill -9 → running again elsewhere (${rerun.length} kills): p50 ${
        pct(rerun, 50).toFixed(0)
      } ms, max ${Math.max(...rerun).toFixed(0)} ms; the watcher marked the node failed after p50 ${
        detected.length ? pct(detected, 50).toFixed(0) : "?"
      } ms`,
    );
  }
} finally {
  await Promise.all(agents.map((a) => a.stop().catch(() => {})));
}
