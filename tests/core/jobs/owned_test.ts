import assert from "node:assert/strict";
import { fences, newer, prevails } from "../../../core/jobs/owned.ts";
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
