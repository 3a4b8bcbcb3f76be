import assert from "node:assert/strict";
import type { JobRecord } from "../../../core/jobs/job.ts";
import { OwnedJobs } from "../../../core/jobs/owned.ts";

const rec = (id: string, attempt: number, rev: number, state: JobRecord["state"]): JobRecord => ({
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
    await owned.merge(rec("a", 1, 1, "running"));
    const first = owned.list(false);
    await owned.mergeAll([
      rec("b", 1, 2, "running"),
      rec("b", 1, 1, "pending"), // older than the one before it: ignored
      ...Array.from({ length: 12 }, (_, i) => rec(`c${i}`, 1, 1, "succeeded")),
      rec("a", 1, 3, "failed"), // a ends
    ]);
    await first;
    await owned.mergeAll([rec("b", 1, 1, "succeeded")]); // older rev: ignored
    const active = (await owned.list(false)).map((r) => `${r.id}:${r.state}`).sort();
    assert.deepEqual(active, ["b:running"]);
    assert.equal((await owned.list(true)).length, 14);
    assert.equal((await owned.get("a"))!.state, "failed");
    await owned.mergeAll([rec("b", 2, 1, "pending")]); // a later attempt wins whatever its rev
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
