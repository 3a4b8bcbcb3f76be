// A job's node cut off by a partition, on network-namespace hosts: the others mark it failed
// and run the job's next attempt; when the partition heals, the old attempt, still running
// on the cut-off node, is fenced (stopped), and one attempt runs cluster-wide. The cut-off
// node is also the job's first owner, so while cut off it sees itself in charge of the job
// (the only member it can reach); that must not make attempt 1 current again, then or after.
// Root only: elsewhere the test says why it did not run.

import assert from "node:assert/strict";
import { DENO_FLAGS, FIXTURES, MAIN } from "../integration/_harness.ts";
import { ownersOf } from "../../core/jobs/owners.ts";
import { prevails } from "../../core/jobs/owned.ts";
import { REPORT_INTERVAL_MS } from "../../core/jobs/service.ts";
import type { Lab } from "./_netns.ts";
import { withLab } from "./_with_lab.ts";
import type { LabProcess } from "./_process.ts";
import { waitFor } from "./_process.ts";

const SUBNET = "10.97.0.0/16";
const HOSTS = 4;

interface Node {
  proc: LabProcess;
  dir: string;
  id: string;
  /** Lines the agent logged about fencing ("stopped an old attempt"). */
  fenced: string[];
}

interface Job {
  id: string;
  state: string;
  nodeId: string;
  nodeName: string;
  attempt: number;
}

/** `herd up` on host i: lan timings, alike emulated machines, static peers, quick reconnect. */
function up(lab: Lab, i: number, args: string[]): Node {
  const h = lab.host(i);
  const dir = `${lab.dir}/${h.name}-herd`;
  const fenced: string[] = [];
  const proc = lab.spawn(i, Deno.execPath(), [
    ...DENO_FLAGS,
    MAIN,
    "up",
    "--data-dir",
    dir,
    "--name",
    h.name,
    "--bind",
    h.ip,
    "--api-port",
    "0",
    "--profile",
    "lan",
    "--profile-from",
    `${FIXTURES}machines/intel-nuc.json`,
    "--set",
    "discovery.methods=static,peer-exchange",
    "--set",
    "membership.reconnectInterval=2s",
    ...args,
  ], {
    onLine: (line) => {
      if (/stopped an old attempt/.test(line)) fenced.push(line);
    },
  });
  return { proc, dir, id: "", fenced };
}

async function herd(lab: Lab, i: number, node: Node, args: string[]): Promise<string> {
  const r = await lab.exec(i, Deno.execPath(), [
    "run",
    "-A",
    "--unstable-kv",
    "--unstable-net",
    MAIN,
    ...args,
  ], { env: { HERD_DATA_DIR: node.dir } });
  if (r.code !== 0) throw new Error(`herd ${args.join(" ")} on h${i}: exit ${r.code}\n${r.stderr}`);
  return r.stdout;
}

async function ready(i: number, node: Node): Promise<void> {
  await waitFor(`herd on h${i} to be up`, () => {
    if (node.proc.exited) throw new Error(`herd exited\n${node.proc.describe()}`);
    return /api\s+http/.test(node.proc.stdout) ? true : undefined;
  }, { timeoutMs: 60_000, everyMs: 100 });
}

async function ps(lab: Lab, i: number, node: Node): Promise<Job[]> {
  return JSON.parse(await herd(lab, i, node, ["ps", "--json"])) as Job[];
}

/** Polls `ok` (true when it holds) until it does; the error shows `last()` and h1's log. */
async function until(
  what: string,
  ok: () => Promise<boolean>,
  last: () => unknown,
  timeoutMs = 60_000,
): Promise<void> {
  await waitFor(what, async () => (await ok()) ? true : undefined, { timeoutMs, everyMs: 500 })
    .catch((e) => {
      throw new Error(`${e.message}; last seen ${JSON.stringify(last())}`);
    });
}

/** Pids of the processes whose environment holds all of `env` (the runner sets HERD_*). */
function jobPids(env: Record<string, string>): number[] {
  const want = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    let vars: string[];
    try {
      vars = Deno.readTextFileSync(`/proc/${e.name}/environ`).split("\0");
    } catch {
      continue; // exited meanwhile
    }
    if (want.every((w) => vars.includes(w))) out.push(Number(e.name));
  }
  return out;
}

interface CutOff {
  nodes: Node[];
  job: Job;
  /** The host the job ran on, cut off from the others. */
  x: number;
  /** The others; and the one attempt 2 runs on. */
  rest: number[];
  y: number;
  attempt1: Record<string, string>;
  attempt2: Record<string, string>;
}

/**
 * Four nodes; a job on host X, which is also its first owner; X cut off from the others
 * until they run the job's attempt 2 on host Y.
 */
async function cutOff(lab: Lab): Promise<CutOff> {
  const nodes: Node[] = [];
  nodes[1] = up(lab, 1, []);
  await ready(1, nodes[1]);
  const token = (await herd(lab, 1, nodes[1], ["token"])).trim();
  for (let i = 2; i <= HOSTS; i++) {
    nodes[i] = up(lab, i, ["--join", token, "--peer", `${lab.host(1).ip}:7946`]);
  }
  for (let i = 2; i <= HOSTS; i++) await ready(i, nodes[i]);
  for (let i = 1; i <= HOSTS; i++) {
    nodes[i].id = JSON.parse(await herd(lab, i, nodes[i], ["status", "--json"])).id;
  }
  const hostOf = new Map(nodes.slice(1).map((n, k) => [n.id, k + 1]));
  let feasible = 0;
  await until("every member with its meta", async () => {
    const r = JSON.parse(
      await herd(lab, 1, nodes[1], ["run", "--dry-run", "--json", "--", "true"]),
    );
    feasible = r.feasible;
    return feasible === HOSTS;
  }, () => feasible);

  // A job whose node is its first owner (others submitted on the way are killed).
  let found: Job | undefined;
  for (let k = 0; k < 16 && !found; k++) {
    const id = (await herd(lab, 1, nodes[1], [
      "run",
      "-d",
      "--cpu",
      "1",
      "--restart",
      "on-failure",
      "--",
      "sleep",
      "600",
    ])).trim();
    const j = (await ps(lab, 1, nodes[1])).find((x) => x.id === id)!;
    assert.equal(j.state, "running");
    if (ownersOf(id, nodes.slice(1).map((n) => n.id))[0] === j.nodeId) found = j;
    else await herd(lab, 1, nodes[1], ["kill", id]);
  }
  assert.ok(found, "a job run by its first owner in 16 tries");
  const job = found;
  const x = hostOf.get(job.nodeId)!;
  const rest = [1, 2, 3, 4].filter((i) => i !== x);
  const w = rest[0];
  const attempt1 = { HERD_JOB_ID: job.id, HERD_ATTEMPT: "1", HERD_NODE_ID: job.nodeId };
  assert.equal(jobPids(attempt1).length, 1, "attempt 1 runs on its node");

  await lab.partition([x], rest);
  // The others re-place it: attempt 2 on one of them.
  let seen: Job | undefined;
  await until(`the others run attempt 2 of job ${job.id}`, async () => {
    seen = (await ps(lab, w, nodes[w])).find((j) => j.id === job.id);
    return seen?.state === "running" && seen.attempt === 2 && seen.nodeId !== job.nodeId;
  }, () => seen);
  const y = hostOf.get(seen!.nodeId)!;
  const attempt2 = { HERD_JOB_ID: job.id, HERD_ATTEMPT: "2", HERD_NODE_ID: seen!.nodeId };
  assert.equal(jobPids(attempt2).length, 1, "attempt 2 runs on its node");
  return { nodes, job, x, rest, y, attempt1, attempt2 };
}

Deno.test("lab: a partition heals with the old attempt still running: it is fenced, one attempt runs", async () => {
  await withLab("jobs partition", { hosts: HOSTS, subnet: SUBNET }, async (lab) => {
    const { nodes, job, x, rest, y, attempt1, attempt2 } = await cutOff(lab);
    // Cut off, X still runs attempt 1 and, seeing no one else, holds itself the job's
    // owner; the others hold attempt 2 current. Nothing X does can reach them.
    let onX: Job | undefined;
    await until(`h${x} sees the others gone`, async () => {
      const view = JSON.parse(await herd(lab, x, nodes[x], ["nodes", "--json"])) as Array<
        { state: string; self: boolean }
      >;
      return view.filter((m) => !m.self).every((m) => m.state !== "alive" && m.state !== "suspect");
    }, () => undefined);
    onX = (await ps(lab, x, nodes[x])).find((j) => j.id === job.id);
    assert.equal(onX?.attempt, 1, JSON.stringify(onX));
    assert.equal(onX?.state, "running");
    assert.equal(jobPids(attempt1).length, 1, "attempt 1 still runs on the cut-off node");
    for (const i of rest) {
      const j = (await ps(lab, i, nodes[i])).find((r) => r.id === job.id);
      assert.equal(j?.attempt, 2, `h${i}: ${JSON.stringify(j)}`);
      assert.equal(j?.nodeId, attempt2.HERD_NODE_ID);
    }

    await lab.heal();
    // X's attempt 1 is told it is stale and stopped; attempt 2 goes on.
    await until(
      `attempt 1 on h${x} stopped`,
      () => Promise.resolve(jobPids(attempt1).length === 0),
      () => nodes[x].fenced,
    );
    assert.ok(nodes[x].fenced.some((l) => l.includes(job.id)), nodes[x].fenced.join("\n"));
    await until(
      "every member lists attempt 2 running on its node",
      async () => {
        for (let i = 1; i <= HOSTS; i++) {
          const j = (await ps(lab, i, nodes[i])).find((r) => r.id === job.id);
          onX = j;
          if (j?.state !== "running" || j.attempt !== 2 || j.nodeId !== attempt2.HERD_NODE_ID) {
            return false;
          }
        }
        return true;
      },
      () => onX,
      90_000,
    );
    // Through a full round of reports (each node tells the owners what it runs), nothing
    // X kept from its time alone fences attempt 2 or brings attempt 1 back.
    const until2 = Date.now() + REPORT_INTERVAL_MS + 5_000;
    while (Date.now() < until2) {
      assert.equal(jobPids(attempt1).length, 0, "attempt 1 runs again");
      assert.deepEqual(jobPids({ HERD_JOB_ID: job.id }), jobPids(attempt2), "one attempt runs");
      assert.equal(jobPids(attempt2).length, 1, `attempt 2 on h${y} stopped`);
      for (const i of [x, y]) {
        const j = (await ps(lab, i, nodes[i])).find((r) => r.id === job.id);
        assert.equal(j?.attempt, 2, `h${i}: ${JSON.stringify(j)}`);
        assert.equal(j?.state, "running", `h${i}: ${JSON.stringify(j)}`);
      }
    }
    assert.deepEqual(nodes[y].fenced, [], "attempt 2 was fenced");
  });
});

Deno.test("lab: the old attempt fails while its node is cut off and the node restarts it: after the heal, one attempt runs", async () => {
  await withLab(
    "jobs partition, old attempt fails",
    { hosts: HOSTS, subnet: SUBNET },
    async (lab) => {
      const { nodes, job, x, attempt1, attempt2 } = await cutOff(lab);
      await until(`h${x} sees the others gone`, async () => {
        const view = JSON.parse(await herd(lab, x, nodes[x], ["nodes", "--json"])) as Array<
          { state: string; self: boolean }
        >;
        return view.filter((m) => !m.self).every((m) =>
          m.state !== "alive" && m.state !== "suspect"
        );
      }, () => undefined);
      // Attempt 1 dies on X. X, alone and the job's first owner, applies the restart policy
      // and runs attempt 2 itself: while the partition lasts, each side runs an attempt 2.
      for (const pid of jobPids(attempt1)) Deno.kill(pid, "SIGKILL");
      const mine = { HERD_JOB_ID: job.id, HERD_ATTEMPT: "2", HERD_NODE_ID: job.nodeId };
      let onX: Job | undefined;
      await until(`h${x} runs attempt 2 itself`, async () => {
        onX = (await ps(lab, x, nodes[x])).find((j) => j.id === job.id);
        return onX?.state === "running" && onX.attempt === 2 && onX.nodeId === job.nodeId;
      }, () => onX);
      assert.equal(jobPids(mine).length, 1);
      assert.equal(jobPids(attempt2).length, 1);

      // Healed: the two runs of attempt 2 meet; the one on the node that prevails goes on.
      await lab.heal();
      const winner = prevails(job.nodeId, attempt2.HERD_NODE_ID) ? mine : attempt2;
      const loser = winner === mine ? attempt2 : mine;
      let views: unknown[] = [];
      const converged = async () => {
        if (jobPids(loser).length !== 0 || jobPids(winner).length !== 1) return false;
        views = [];
        for (let i = 1; i <= HOSTS; i++) {
          const j = (await ps(lab, i, nodes[i])).find((r) => r.id === job.id);
          views.push(j && { state: j.state, attempt: j.attempt, nodeId: j.nodeId });
        }
        return views.every((v) =>
          JSON.stringify(v) ===
            JSON.stringify({ state: "running", attempt: 2, nodeId: winner.HERD_NODE_ID })
        );
      };
      await until("one run of attempt 2, listed by every member", converged, () => ({
        pids: jobPids({ HERD_JOB_ID: job.id }),
        views,
      }), 90_000);
      // And it stays so through a full round of reports.
      const end = Date.now() + REPORT_INTERVAL_MS + 5_000;
      while (Date.now() < end) assert.ok(await converged(), JSON.stringify(views));
    },
  );
});
