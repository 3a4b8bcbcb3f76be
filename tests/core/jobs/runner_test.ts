import assert from "node:assert/strict";
import { JobRunner } from "../../../core/jobs/runner.ts";
import { LogHub } from "../../../core/jobs/logs.ts";
import type { JobRecord } from "../../../core/jobs/job.ts";
import { resolveConfig } from "../../../core/config.ts";
import { seededRandom } from "../../../core/clock.ts";
import { PluginSet } from "../../../plugins/loader.ts";
import type { ExecutorPlugin } from "../../../plugins/sdk.ts";

Deno.test("when the job's end cannot be recorded, its followers still hear that it ended", async () => {
  const kv = await Deno.openKv(":memory:");
  let finish!: () => void;
  const gate = new Promise<void>((r) => finish = r);
  const waiting: ExecutorPlugin = {
    kind: "executor",
    name: "waiting",
    sdk: 1,
    validate: () => undefined,
    run: async () => {
      await gate;
      return { status: "exited", exitCode: 0 };
    },
  };
  const hub = new LogHub();
  const logged: string[] = [];
  const runner = new JobRunner({
    kv,
    nodeId: "n",
    config: resolveConfig({ env: {} }).values,
    plugins: new PluginSet([waiting]),
    capacity: { cpuMilli: 1000, memBytes: 1 << 30, gpus: [] },
    liveMemAvailable: () => undefined,
    clock: { now: () => 1 },
    random: seededRandom(1),
    hub,
    checkpointRoot: "/nonexistent/checkpoints",
    log: (l) => logged.push(l),
  });
  await runner.recover();
  const sub = await runner.submit({ executor: "waiting", task: {} });
  assert.ok(sub.ok);
  const ended = new Promise<JobRecord>((resolve) =>
    hub.subscribe(sub.record.id, { chunk: () => {}, end: resolve })
  );
  kv.close(); // the store goes away while the job runs
  finish();
  const rec = await ended;
  assert.equal(rec.state, "lost");
  assert.match(rec.reason!, /could not record the job's end/);
  assert.ok(logged.some((l) => /recording its end failed/.test(l)));
  assert.equal(runner.runningCount, 0);
});
