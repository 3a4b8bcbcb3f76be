// Admission against the node's resources, with real concurrent `herd run`s.
import assert from "node:assert/strict";
import { Agent, expectCode, FIXTURES } from "./_harness.ts";

Deno.test("two concurrent runs that together exceed the node never both start", async () => {
  // The emulated Pi has 4 CPUs: two jobs of 3 cannot run at once.
  const agent = await Agent.start({
    args: ["--profile-from", `${FIXTURES}machines/raspberry-pi-4.json`],
  });
  try {
    for (let round = 0; round < 3; round++) {
      const [a, b] = await Promise.all([
        agent.herd(["run", "--cpu", "3", "--", "sleep", "3"]),
        agent.herd(["run", "--cpu", "3", "--", "sleep", "3"]),
      ]);
      const codes = [a.code, b.code].sort();
      assert.deepEqual(codes, [0, 125], `round ${round}: ${a.stderr} ${b.stderr}`);
      const refused = a.code === 125 ? a : b;
      assert.match(
        refused.stderr,
        /does not fit this node: needs 3 CPUs; 1 (of 4 are )?free/,
      );
    }
    const big = await agent.herd(["run", "--mem", "64G", "--", "true"]);
    expectCode(big, 125);
    assert.match(
      big.stderr,
      /does not fit this node: needs 64 GiB of memory; 3\.\d+ GiB (of 3\.\d+ GiB are )?free/,
    );
    const gpu = await agent.herd(["run", "--gpu", "1", "--", "true"]);
    expectCode(gpu, 125);
    assert.match(gpu.stderr, /does not fit this node: needs 1 GPU; (this|the) node has none/);
    // Nothing is left reserved after the jobs ended.
    const s = JSON.parse((await agent.herd(["status", "--json"])).stdout);
    assert.deepEqual(s.allocated, { cpu: 0, memBytes: 0, gpus: 0 });
  } finally {
    await agent.stop();
  }
});

Deno.test("GPUs are reserved one job each and exported as CUDA_VISIBLE_DEVICES", async () => {
  const agent = await Agent.start({
    args: ["--profile-from", `${FIXTURES}machines/server-8xh100.json`],
  });
  try {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await agent.herd([
        "run",
        "-d",
        "--gpu",
        "3",
        "--",
        "sh",
        "-c",
        'echo "$CUDA_VISIBLE_DEVICES"; sleep 5',
      ]);
      if (i < 2) expectCode(r, 0, `gpu job ${i}`);
      else {
        expectCode(r, 125, "third 3-GPU job on 8 GPUs");
        assert.match(r.stderr, /does not fit this node: needs 3 GPUs; 2 (of 8 are )?free/);
      }
      if (r.code === 0) ids.push(r.stdout.trim());
    }
    await new Promise((r) => setTimeout(r, 500));
    const seen = await Promise.all(
      ids.map(async (id) => (await agent.herd(["logs", id])).stdout.trim()),
    );
    assert.deepEqual(seen.sort(), ["0,1,2", "3,4,5"]);
    const none = await agent.herd(["run", "--", "sh", "-c", 'echo "[$CUDA_VISIBLE_DEVICES]"']);
    assert.equal(none.stdout, "[]\n", "a job without --gpu sees no GPU");
    for (const id of ids) await agent.herd(["kill", id]);
  } finally {
    await agent.stop();
  }
});
