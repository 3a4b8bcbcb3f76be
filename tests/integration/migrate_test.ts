// `herd migrate` with real agents: the job stops on its node and its next attempt starts
// on the other, after its output so far and its checkpoint dir were copied there; a
// counter the job keeps in $HERD_CHECKPOINT_DIR goes on from where it was, and
// `herd logs` shows both attempts' output. Refusals leave the job running.
import assert from "node:assert/strict";
import { Agent, expectCode, FIXTURES, until } from "./_harness.ts";

interface Job {
  id: string;
  state: string;
  nodeId: string;
  nodeName: string;
  attempt: number;
  history?: Array<{ attempt: number; nodeId: string; state: string; reason?: string }>;
  spec: { name: string };
}

const COUNTER = [
  'n=$(cat "$HERD_CHECKPOINT_DIR/count" 2>/dev/null || echo 0)',
  'while true; do n=$((n+1)); echo $n > "$HERD_CHECKPOINT_DIR/count"; echo "tick $n on $HERD_NODE_ID"; sleep 0.1; done',
].join("; ");

async function twoNodes(): Promise<{ a: Agent; b: Agent; stop(): Promise<void> }> {
  const profile = `${FIXTURES}machines/workstation-rtx.json`;
  const a = await Agent.start({ args: ["--name", "a", "--profile-from", profile] });
  const token = (await a.herd(["token"])).stdout.trim();
  const seed = JSON.parse((await a.herd(["status", "--json"])).stdout).cluster.address;
  const b = await Agent.start({
    args: ["--name", "b", "--profile-from", profile, "--join", token, "--peer", seed],
  });
  await until("both members with their meta", async () => {
    const r = await a.herd(["run", "--dry-run", "--json", "--", "true"]);
    return r.code === 0 && JSON.parse(r.stdout).feasible === 2;
  });
  return { a, b, stop: async () => void await Promise.all([a.stop(), b.stop()]) };
}

const jobOf = async (n: Agent, key: string): Promise<Job> => {
  const r = await n.herd(["ps", "--all", "--json"]);
  expectCode(r, 0, "ps");
  return (JSON.parse(r.stdout) as Job[]).find((j) => j.id.startsWith(key) || j.spec.name === key)!;
};
const ticks = (text: string) =>
  [...text.matchAll(/tick (\d+) on (\w+)/g)].map((m) => [Number(m[1]), m[2]] as const);

Deno.test("herd migrate moves a running job with its checkpoint and output; refusals leave it running", async () => {
  const { a, b, stop } = await twoNodes();
  try {
    const ids = {
      a: JSON.parse((await a.herd(["status", "--json"])).stdout).id as string,
      b: JSON.parse((await b.herd(["status", "--json"])).stdout).id as string,
    };
    const r = await a.herd([
      "run",
      "-d",
      "--name",
      "mover",
      "--checkpoint-dir",
      "state",
      "--",
      "sh",
      "-c",
      COUNTER,
    ]);
    expectCode(r, 0, "run -d");
    const id = r.stdout.trim();
    await until("the job ticked a few times", async () => {
      const l = await a.herd(["logs", id]);
      return ticks(l.stdout).length >= 5;
    });
    const before = await jobOf(a, id);
    const from = before.nodeId;
    const other = from === ids.a ? "b" : "a";

    // Refusals: the node it is on, a node that does not exist. Still running after.
    const same = await a.herd(["migrate", id, "--to", from === ids.a ? "a" : "b"]);
    expectCode(same, 1, "migrate to its own node");
    assert.match(same.stderr, /already runs there/);
    const nowhere = await a.herd(["migrate", id, "--to", "nosuchnode"]);
    expectCode(nowhere, 1, "migrate to nothing");
    assert.match(nowhere.stderr, /no live member 'nosuchnode'/);
    assert.equal((await jobOf(a, id)).state, "running");

    // Moved (no --to: the only other member), from the node it does not run on.
    const asker = from === ids.a ? b : a;
    const m = await asker.herd(["migrate", "mover"]);
    expectCode(m, 0, "migrate");
    assert.match(m.stdout, new RegExp(`${id} running on ${other} \\(attempt 2\\)`));
    const moved = await jobOf(a, id);
    assert.equal(moved.state, "running");
    assert.equal(moved.attempt, 2);
    assert.notEqual(moved.nodeId, from);
    assert.deepEqual(
      moved.history?.map((h) => [h.attempt, h.nodeId, h.state]),
      [[1, from, "killed"]],
    );
    assert.match(moved.history?.[0].reason ?? "", new RegExp(`migrated to ${other}`));

    // The counter went on from the checkpoint; the logs hold both attempts, in order.
    await until("the moved job ticked on the new node", async () => {
      const l = await b.herd(["logs", id]);
      return ticks(l.stdout).filter(([, node]) => node === moved.nodeId).length >= 3;
    });
    const all = ticks((await a.herd(["logs", id])).stdout);
    const onOld = all.filter(([, n]) => n === from);
    const onNew = all.filter(([, n]) => n === moved.nodeId);
    assert.ok(onOld.length >= 5, `old attempt's output kept: ${onOld.length} ticks`);
    assert.equal(all.indexOf(onNew[0]), onOld.length, "old output first, then the new");
    // The new attempt read the count its predecessor left: it goes on past the last tick.
    assert.ok(
      onNew[0][0] > onOld.at(-1)![0],
      `counter carried: ${onNew[0][0]} after ${onOld.at(-1)![0]}`,
    );

    // And back again, by name; then a job that is not running cannot move.
    const back = await a.herd(["migrate", "mover", "--to", from === ids.a ? "a" : "b", "--json"]);
    expectCode(back, 0, "migrate back");
    const j3 = JSON.parse(back.stdout) as Job;
    assert.deepEqual([j3.nodeId, j3.attempt], [from, 3]);
    expectCode(await a.herd(["kill", id]), 0, "kill");
    const dead = await a.herd(["migrate", id]);
    expectCode(dead, 1, "migrate a killed job");
    assert.match(dead.stderr, /is not running \(it is killed\)/);
    const escape = await a.herd(["run", "--checkpoint-dir", "state/../../x", "--", "true"]);
    expectCode(escape, 2, "a checkpoint dir outside the job's");
    assert.match(escape.stderr, /--checkpoint-dir: a directory without '\.\.'/);
  } finally {
    await stop();
  }
});

Deno.test("an attached herd run follows its job through a migration, each line once", async () => {
  const { a, b, stop } = await twoNodes();
  try {
    const attached = a.herd([
      "run",
      "--name",
      "follower",
      "--checkpoint-dir",
      "state",
      "--",
      "sh",
      "-c",
      COUNTER,
    ]);
    let id = "";
    await until("the attached job ticked", async () => {
      const r = await b.herd(["logs", "follower"]);
      id = (await jobOf(b, "follower"))?.id ?? "";
      return ticks(r.stdout).length >= 3;
    });
    const from = (await jobOf(a, id)).nodeId;
    expectCode(await b.herd(["migrate", "follower"]), 0, "migrate");
    await until("the moved job ticked on its new node", async () => {
      const r = await a.herd(["logs", "follower"]);
      return ticks(r.stdout).filter(([, n]) => n !== from).length >= 3;
    });
    expectCode(await a.herd(["kill", "follower"]), 0, "kill");
    const r = await attached;
    const seen = ticks(r.stdout);
    const counts = seen.map(([n]) => n);
    assert.deepEqual(counts, [...counts].sort((x, y) => x - y), "in order");
    assert.equal(new Set(counts).size, counts.length, "no line twice");
    assert.ok(seen.some(([, n]) => n === from) && seen.some(([, n]) => n !== from), r.stdout);
    assert.match(r.stderr, /migrated to \w+; attempt 2 runs there/);
    assert.match(r.stderr, /killed/);
  } finally {
    await stop();
  }
});
