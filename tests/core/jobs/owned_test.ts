import assert from "node:assert/strict";
import { fences, newer, OwnedJobs, prevails } from "../../../core/jobs/owned.ts";
import type { JobRecord, JobState } from "../../../core/jobs/job.ts";

const A = "aaaaaaaaaaaaaaaa";
const B = "bbbbbbbbbbbbbbbb";

function rec(attempt: number, nodeId: string, state: JobState, rev?: number): JobRecord {
  return {
    id: "1m85aejaf48sx1r0",
    spec: {
      name: "j",
      executor: "exec",
      task: { command: ["true"] },
      resources: { cpu: 1, memBytes: 0, gpus: 0 },
      timeoutMs: 0,
    },
    state,
    nodeId,
    attempt,
    submittedAt: 0,
    reservation: { cpuMilli: 0, memBytes: 0, gpus: [] },
    logBytes: 0,
    logDroppedBytes: 0,
    ...(rev !== undefined ? { rev } : {}),
  };
}

Deno.test("newer: a later attempt, else the prevailing node of one attempt, else rev, else final", () => {
  assert.ok(prevails(A, B) && !prevails(B, A));
  const table: Array<[JobRecord, JobRecord, boolean, string]> = [
    [rec(2, A, "running", 1), rec(1, B, "running", 9), true, "later attempt"],
    [rec(1, B, "running", 9), rec(2, A, "running", 1), false, "earlier attempt"],
    [rec(2, A, "running", 1), rec(2, B, "running", 9), true, "same attempt: A prevails"],
    [rec(2, B, "running", 9), rec(2, A, "running", 1), false, "same attempt: B does not"],
    [rec(2, A, "running", 1), rec(2, B, "killed", 9), true, "a prevailing run over a loser's end"],
    [rec(2, A, "running", 3), rec(2, A, "running", 2), true, "same node: higher rev"],
    [rec(2, "", "pending", 3), rec(2, A, "running", 2), true, "pending (no node): rev decides"],
    [rec(2, A, "failed", 2), rec(2, A, "running", 2), true, "same rev: final"],
    [rec(2, A, "running", 2), rec(2, A, "running", 2), false, "equal"],
  ];
  for (const [a, b, want, why] of table) assert.equal(newer(a, b), want, why);
});

Deno.test("fences: a later attempt, the same attempt on a prevailing node, or the same one killed", () => {
  const table: Array<[JobRecord, number, string, boolean, string]> = [
    [rec(2, B, "running"), 1, A, true, "an earlier attempt"],
    [rec(1, A, "killed"), 2, B, false, "a later attempt than the copy's (the copy is behind)"],
    [rec(1, A, "running"), 1, A, false, "the current attempt on its node"],
    [rec(1, A, "running"), 1, B, true, "the same attempt on a node that does not prevail"],
    [rec(1, B, "running"), 1, A, false, "the same attempt on the prevailing node"],
    [rec(1, B, "killed"), 1, A, false, "a loser's killed run does not fence the winner"],
    [rec(1, A, "killed"), 1, A, true, "killed at that attempt"],
    [rec(1, "", "killed"), 1, A, true, "killed while pending at that attempt"],
    [rec(1, "", "pending"), 1, A, false, "pending at that attempt (an offer that timed out)"],
  ];
  for (const [r, attempt, node, want, why] of table) {
    assert.equal(fences(r, attempt, node), want, why);
  }
});

const copy = (id: string, attempt: number, rev: number, state: JobRecord["state"]): JobRecord => ({
  id,
  spec: {
    name: id,
    executor: "exec",
    task: { command: ["true"] },
    resources: { cpu: 0.1, memBytes: 0, gpus: 0 },
    timeoutMs: 0,
  },
  state,
  nodeId: "n1",
  attempt,
  submittedAt: 0,
  reservation: { cpuMilli: 0, memBytes: 0, gpus: [] },
  logBytes: 0,
  logDroppedBytes: 0,
  rev,
});

Deno.test("owned: mergeAll keeps the newest copy of each job; the active ones survive a reopen", async () => {
  const path = await Deno.makeTempFile({ suffix: ".kv" });
  let kv = await Deno.openKv(path);
  try {
    const owned = new OwnedJobs(kv);
    // Written before the active set is first read: still in it after.
    await owned.merge(copy("a", 1, 1, "running"));
    const first = owned.list(false);
    await owned.mergeAll([
      copy("b", 1, 2, "running"),
      copy("b", 1, 1, "pending"), // older than the one before it: ignored
      ...Array.from({ length: 12 }, (_, i) => copy(`c${i}`, 1, 1, "succeeded")),
      copy("a", 1, 3, "failed"), // a ends
    ]);
    await first;
    await owned.mergeAll([copy("b", 1, 1, "succeeded")]); // older rev: ignored
    const active = (await owned.list(false)).map((r) => `${r.id}:${r.state}`).sort();
    assert.deepEqual(active, ["b:running"]);
    assert.equal((await owned.list(true)).length, 14);
    assert.equal((await owned.get("a"))!.state, "failed");
    await owned.mergeAll([copy("b", 2, 1, "pending")]); // a later attempt wins whatever its rev
    assert.equal((await owned.get("b"))!.attempt, 2);

    kv.close();
    kv = await Deno.openKv(path);
    const again = new OwnedJobs(kv);
    assert.deepEqual((await again.list(false)).map((r) => [r.id, r.attempt, r.state]), [
      ["b", 2, "pending"],
    ]);
  } finally {
    kv.close();
    await Deno.remove(path);
  }
});
