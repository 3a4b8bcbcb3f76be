// "No job lost" with real agents, where a job's owner is not its node: the first owner is
// killed -9 (the job keeps running; the next owner re-places it when its node dies after),
// the owner and the running node are killed -9 together (the job runs again elsewhere,
// once), and a spread replica set is kept at N as a node dies and another joins (one given
// the node id that makes it the group's new primary owner: it must learn the group from
// the other holders' copies).
//
// A killed agent's job processes are killed with it (they are detached process groups that
// would outlive it): the machine died, not just the agent.
import assert from "node:assert/strict";
import { Agent, expectCode, FIXTURES, until } from "./_harness.ts";
import { ownersOf } from "../../core/jobs/owners.ts";
import { newNodeId } from "../../core/ids.ts";
import { cryptoRandom } from "../../core/clock.ts";
import { files } from "../../core/datadir.ts";
import { keys, openStore, type SelfRecord } from "../../core/store.ts";

interface Job {
  id: string;
  state: string;
  nodeId: string;
  nodeName: string;
  attempt: number;
  reason?: string;
  spec: { group?: string };
}

interface Cluster {
  agents: Map<string, Agent>;
  /** Node id by name. */
  ids: Map<string, string>;
  /** Starts another node that joins the cluster (with node id `id`, when given). */
  join(name: string, id?: string): Promise<Agent>;
  /** kill -9 of the agent and of the job processes it started; it leaves `agents`. */
  kill(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** `names[0]` creates the cluster, the others join it; all are alike (intel-nuc). */
async function cluster(names: string[]): Promise<Cluster> {
  const agents = new Map<string, Agent>();
  const ids = new Map<string, string>();
  const start = async (name: string, extra: string[], id?: string) => {
    const dataDir = await Deno.makeTempDir({ prefix: "herd-test-" });
    if (id) {
      // The node id is kept in the store from the first start on: chosen before it.
      const kv = await openStore(files(dataDir).kv);
      await kv.set(keys.self(), { id, createdAt: Date.now() } satisfies SelfRecord);
      kv.close();
    }
    const a = await Agent.start({
      dataDir,
      args: ["--name", name, "--profile-from", `${FIXTURES}machines/intel-nuc.json`, ...extra],
    });
    agents.set(name, a);
    ids.set(name, JSON.parse((await a.herd(["status", "--json"])).stdout).id);
    return a;
  };
  const first = await start(names[0], []);
  const token = (await first.herd(["token"])).stdout.trim();
  const seed = JSON.parse((await first.herd(["status", "--json"])).stdout).cluster.address;
  const join = (name: string, id?: string) => start(name, ["--join", token, "--peer", seed], id);
  const c: Cluster = {
    agents,
    ids,
    join,
    kill: async (name) => {
      await agents.get(name)!.stop("SIGKILL");
      agents.delete(name);
      killJobProcesses({ HERD_NODE_ID: ids.get(name)! });
    },
    stop: async () => {
      for (const a of agents.values()) await a.stop().catch(() => {});
      for (const id of ids.values()) killJobProcesses({ HERD_NODE_ID: id });
    },
  };
  try {
    for (const n of names.slice(1)) await join(n);
    await untilMembers(first, names);
  } catch (e) {
    await c.stop();
    throw e;
  }
  return c;
}

/** Until `from` sees exactly `names` alive, each with its meta (so placement can use them). */
async function untilMembers(from: Agent, names: string[]): Promise<void> {
  await until(`members ${names.join(", ")} alive`, async () => {
    const n = JSON.parse((await from.herd(["nodes", "--json"])).stdout) as Array<
      { name: string; state: string; class?: string }
    >;
    const alive = n.filter((m) => m.state === "alive" && m.class).map((m) => m.name).sort();
    return JSON.stringify(alive) === JSON.stringify([...names].sort());
  }, 30_000);
}

async function ps(a: Agent, all = false): Promise<Job[]> {
  const r = await a.herd(["ps", "--json", ...(all ? ["--all"] : [])]);
  expectCode(r, 0, "ps");
  return JSON.parse(r.stdout) as Job[];
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
      continue; // exited meanwhile, or not ours to read
    }
    if (want.every((w) => vars.includes(w))) out.push(Number(e.name));
  }
  return out;
}

function killJobProcesses(env: Record<string, string>): void {
  for (const pid of jobPids(env)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // exited meanwhile
    }
  }
}

/**
 * Submits `sleep 600` jobs from `via` until one runs on a node that is not its first owner;
 * the others are killed. Returns it with its first owner's name.
 */
async function jobOwnedElsewhere(
  c: Cluster,
  via: Agent,
): Promise<{ job: Job; owner: string; owners: string[] }> {
  const names = new Map([...c.ids].map(([n, id]) => [id, n]));
  for (let i = 0; i < 12; i++) {
    const r = await via.herd([
      "run",
      "-d",
      "--cpu",
      "1",
      "--restart",
      "on-failure",
      "--name",
      `owned-${i}`,
      "--",
      "sleep",
      "600",
    ]);
    expectCode(r, 0, "submit");
    const id = r.stdout.trim();
    const job = (await ps(via)).find((j) => j.id === id)!;
    assert.equal(job.state, "running");
    const owners = ownersOf(id, [...c.ids.values()]).map((o) => names.get(o)!);
    if (owners[0] !== job.nodeName) return { job, owner: owners[0], owners };
    expectCode(await via.herd(["kill", id]), 0, "kill");
  }
  throw new Error("no job owned by a node other than its own in 12 tries");
}

/** The job's record in `via`'s ps, once it runs attempt `attempt` on a node not in `not`. */
async function untilRunningAgain(
  via: Agent,
  id: string,
  attempt: number,
  not: string[],
): Promise<Job> {
  let last: Job | undefined;
  await until(`job ${id} runs attempt ${attempt} outside ${not.join(", ")}`, async () => {
    last = (await ps(via)).find((j) => j.id === id);
    return last?.state === "running" && last.attempt === attempt && !not.includes(last.nodeName);
  }, 45_000).catch((e) => {
    throw new Error(`${e.message}; last seen ${JSON.stringify(last)}`);
  });
  return last!;
}

/** Every survivor lists the job once, running `attempt` on `node`; one process runs it. */
async function exactlyOneCurrent(c: Cluster, id: string, attempt: number, node: string) {
  await until(
    `one process runs job ${id}`,
    () => Promise.resolve(jobPids({ HERD_JOB_ID: id }).length === 1),
  );
  assert.deepEqual(
    jobPids({ HERD_JOB_ID: id }),
    jobPids({ HERD_JOB_ID: id, HERD_ATTEMPT: String(attempt), HERD_NODE_ID: c.ids.get(node)! }),
    "the one process is the current attempt on its node",
  );
}

Deno.test("kill -9 of a job's first owner: the job keeps running; when its node dies after, the next owner re-places it", async () => {
  const c = await cluster(["a", "b", "c", "d"]);
  try {
    const a = c.agents.get("a")!;
    const { job, owner } = await jobOwnedElsewhere(c, a);
    const running = job.nodeName;
    const watcher = [...c.agents.keys()].find((n) => n !== owner && n !== running)!;
    const w = c.agents.get(watcher)!;

    await c.kill(owner);
    await untilMembers(w, [...c.agents.keys()]);
    // The owner's death changes nothing for the job: same attempt, same node, listed.
    const seen = (await ps(w)).find((j) => j.id === job.id);
    assert.equal(seen?.state, "running", JSON.stringify(seen));
    assert.equal(seen?.attempt, job.attempt);
    assert.equal(seen?.nodeName, running);
    assert.equal(jobPids({ HERD_JOB_ID: job.id }).length, 1);

    await c.kill(running);
    const again = await untilRunningAgain(w, job.id, job.attempt + 1, [owner, running]);
    await exactlyOneCurrent(c, job.id, again.attempt, again.nodeName);
    for (const x of c.agents.values()) {
      const j = (await ps(x)).filter((r) => r.id === job.id);
      assert.equal(j.length, 1);
      assert.equal(j[0].attempt, again.attempt);
      assert.equal(j[0].nodeName, again.nodeName);
    }
  } finally {
    await c.stop();
  }
});

Deno.test("kill -9 of a job's first owner and its node together: the job runs again elsewhere, once", async () => {
  const c = await cluster(["a", "b", "c", "d"]);
  try {
    const a = c.agents.get("a")!;
    const { job, owner } = await jobOwnedElsewhere(c, a);
    const running = job.nodeName;
    const watcher = [...c.agents.keys()].find((n) => n !== owner && n !== running)!;
    const w = c.agents.get(watcher)!;

    await Promise.all([c.kill(owner), c.kill(running)]);
    const again = await untilRunningAgain(w, job.id, job.attempt + 1, [owner, running]);
    await exactlyOneCurrent(c, job.id, again.attempt, again.nodeName);
    for (const x of c.agents.values()) {
      const j = (await ps(x)).filter((r) => r.id === job.id);
      assert.equal(j.length, 1);
      assert.equal(j[0].attempt, again.attempt);
      assert.equal(j[0].nodeName, again.nodeName);
    }
  } finally {
    await c.stop();
  }
});

Deno.test("--replicas 3 --spread: a node killed -9 leaves its replica pending (spread); a node that joins takes it", async () => {
  const c = await cluster(["a", "b", "c"]);
  try {
    const a = c.agents.get("a")!;
    const r = await a.herd([
      "run",
      "-d",
      "--replicas",
      "3",
      "--spread",
      "--cpu",
      "1",
      "--name",
      "trio",
      "--",
      "sleep",
      "600",
    ]);
    expectCode(r, 0, "submit");
    const ids = r.stdout.trim().split("\n");
    assert.equal(ids.length, 3);
    // Never two running replicas on one node, whenever they are looked at.
    const mine = async (via: Agent) => {
      const jobs = (await ps(via)).filter((j) => ids.includes(j.id));
      const nodes = jobs.filter((j) => j.state === "running").map((j) => j.nodeName);
      assert.equal(new Set(nodes).size, nodes.length, `spread: ${JSON.stringify(jobs)}`);
      return jobs;
    };
    const first = await mine(a);
    assert.ok(first.every((j) => j.state === "running"), JSON.stringify(first));
    assert.equal(new Set(first.map((j) => j.nodeName)).size, 3, "one replica per node");

    const victim = first.find((j) => j.nodeName !== "a")!;
    await c.kill(victim.nodeName);
    let last: Job[] = [];
    await until("the lost replica waits, pending, for a node without one", async () => {
      last = await mine(a);
      const j = last.find((x) => x.id === victim.id);
      return j?.state === "pending" && j.attempt === victim.attempt &&
        /already holds a replica/.test(j.reason ?? "");
    }, 30_000).catch((e) => {
      throw new Error(`${e.message}; last seen ${JSON.stringify(last)}`);
    });
    // The two others go on where they were.
    for (const j of first.filter((x) => x.id !== victim.id)) {
      const now = last.find((x) => x.id === j.id);
      assert.equal(now?.state, "running");
      assert.equal(now?.nodeName, j.nodeName);
      assert.equal(now?.attempt, j.attempt);
    }

    // The new node comes first in the group's rendezvous order: it becomes the primary
    // owner, and knows the replicas only from the copies the others hand on to it.
    const group = last.find((j) => j.id === victim.id)!.spec.group!;
    const live = [...c.agents.keys()].map((n) => c.ids.get(n)!);
    let id = newNodeId(cryptoRandom);
    while (ownersOf(group, [...live, id])[0] !== id) id = newNodeId(cryptoRandom);
    await c.join("e", id);
    await until("three replicas run on three nodes again", async () => {
      last = await mine(a);
      return last.length === 3 && last.every((j) => j.state === "running") &&
        new Set(last.map((j) => j.nodeName)).size === 3;
    }, 30_000).catch((e) => {
      const logs = [...c.agents].map(([n, x]) => `--- ${n}\n${x.stderr}`).join("\n");
      throw new Error(`${e.message}; last seen ${JSON.stringify(last)}\n${logs}`);
    });
    assert.equal(last.find((j) => j.id === victim.id)?.nodeName, "e");
    for (const id of ids) {
      await until(
        `one process runs replica ${id}`,
        () => Promise.resolve(jobPids({ HERD_JOB_ID: id }).length === 1),
      );
    }
  } finally {
    await c.stop();
  }
});
