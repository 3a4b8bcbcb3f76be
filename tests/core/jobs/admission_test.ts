import assert from "node:assert/strict";
import {
  addReservation,
  type Admission,
  admit,
  EMPTY_ALLOCATION,
  fit,
  MAX_ADMIT_BATCH,
  release,
  removeReservation,
} from "../../../core/jobs/admission.ts";
import type { JobRecord, Reservation } from "../../../core/jobs/job.ts";
import { keys } from "../../../core/store.ts";
import type { Resources } from "../../../plugins/sdk.ts";

const GiB = 1024 ** 3;
const cap = { cpuMilli: 4000, memBytes: 8 * GiB, gpus: [0, 1] };

Deno.test("fit reserves what is asked and picks free GPUs", () => {
  const f = fit({ cpu: 1.5, memBytes: GiB, gpus: 1 }, cap, { ...EMPTY_ALLOCATION, gpus: [0] });
  assert.ok(f.ok);
  assert.deepEqual(f.reservation, { cpuMilli: 1500, memBytes: GiB, gpus: [1] });
});

Deno.test("fit refuses with the reason", () => {
  const alloc = { cpuMilli: 3500, memBytes: 7 * GiB, gpus: [0, 1], jobs: 2 };
  const cpu = fit({ cpu: 1, memBytes: 0, gpus: 0 }, cap, alloc);
  assert.ok(
    !cpu.ok && cpu.reason === "needs 1 CPUs; 0.5 of 4 are free (2 jobs running)",
    !cpu.ok ? cpu.reason : "",
  );
  const mem = fit({ cpu: 0, memBytes: 2 * GiB, gpus: 0 }, cap, alloc);
  assert.ok(!mem.ok && /needs 2 GiB of memory; 1 GiB of 8 GiB are free/.test(mem.reason));
  const gpu = fit({ cpu: 0, memBytes: 0, gpus: 1 }, cap, alloc);
  assert.ok(!gpu.ok && /needs 1 GPUs; 0 of 2 are free/.test(gpu.reason));
  const none = fit({ cpu: 0, memBytes: 0, gpus: 1 }, { ...cap, gpus: [] }, EMPTY_ALLOCATION);
  assert.ok(!none.ok && /this node has none/.test(none.reason));
  const live = fit({ cpu: 0, memBytes: 2 * GiB, gpus: 0 }, cap, EMPTY_ALLOCATION, GiB);
  assert.ok(!live.ok && /available now/.test(live.reason));
});

Deno.test("add and remove reservations are inverse", () => {
  const r: Reservation = { cpuMilli: 250, memBytes: 100, gpus: [1] };
  const a = addReservation(EMPTY_ALLOCATION, r);
  assert.deepEqual(removeReservation(a, r), EMPTY_ALLOCATION);
});

function record(id: string, reservation: Reservation): JobRecord {
  return {
    id,
    spec: {
      name: id,
      executor: "exec",
      task: {},
      resources: { cpu: reservation.cpuMilli / 1000, memBytes: reservation.memBytes, gpus: 0 },
      timeoutMs: 0,
    },
    state: "running",
    nodeId: "n",
    attempt: 1,
    submittedAt: 0,
    reservation,
    logBytes: 0,
    logDroppedBytes: 0,
  };
}

const one = async (kv: Deno.Kv, id: string, want: Resources, fence?: Admission["fence"]) =>
  (await admit(kv, cap, [{ id, makeRecord: (r) => record(id, r), want, fence }]))[0];

Deno.test("concurrent admissions never overcommit (real KV, atomic checks)", async () => {
  const path = await Deno.makeTempFile({ suffix: ".kv" });
  const kv = await Deno.openKv(path);
  try {
    // 20 submissions of 1 CPU each race for 4 CPUs: exactly 4 must win.
    const results = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => one(kv, `job${i}`, { cpu: 1, memBytes: 0, gpus: 0 }),
      ),
    );
    assert.equal(results.filter((r) => r.ok).length, 4);
    const alloc = (await kv.get<{ cpuMilli: number; jobs: number }>(keys.alloc())).value!;
    assert.equal(alloc.cpuMilli, 4000);
    assert.equal(alloc.jobs, 4);
    // A second KV handle on the same file is another writer: it must see the same ledger.
    const kv2 = await Deno.openKv(path);
    const other = await one(kv2, "other", { cpu: 1, memBytes: 0, gpus: 0 });
    kv2.close();
    assert.ok(!other.ok);
    const won = results.find((r) => r.ok)!;
    assert.ok(won.ok);
    await release(kv, [{ ...won.record, state: "succeeded" }]);
    assert.equal((await kv.get<{ cpuMilli: number }>(keys.alloc())).value!.cpuMilli, 3000);
    assert.equal((await kv.get<JobRecord>(keys.job(won.record.id))).value!.state, "succeeded");
  } finally {
    kv.close();
    await Deno.remove(path);
  }
});

Deno.test("a batch is admitted in order in one commit: what fits, up to capacity; fenced ones refused", async () => {
  const path = await Deno.makeTempFile({ suffix: ".kv" });
  const kv = await Deno.openKv(path);
  try {
    await kv.set(keys.job("old"), {
      ...record("old", { cpuMilli: 0, memBytes: 0, gpus: [] }),
      attempt: 3,
    });
    const batch: Admission[] = ["a", "old", "b", "c", "d", "e"].map((id) => ({
      id,
      makeRecord: (r) => record(id, r),
      want: { cpu: 1, memBytes: 0, gpus: 0 },
      fence: (stored) =>
        stored && stored.attempt >= 1 ? `seen attempt ${stored.attempt}` : undefined,
    }));
    const out = await admit(kv, cap, batch);
    assert.deepEqual(out.map((o) => o.ok), [true, false, true, true, true, false]);
    assert.ok(!out[1].ok && out[1].fenced && /seen attempt 3/.test(out[1].reason));
    assert.ok(!out[5].ok && !out[5].fenced && /needs 1 CPUs; 0 of 4 are free/.test(out[5].reason));
    const alloc = (await kv.get<{ cpuMilli: number; jobs: number }>(keys.alloc())).value!;
    assert.deepEqual([alloc.cpuMilli, alloc.jobs], [4000, 4]);
    assert.equal((await kv.get<JobRecord>(keys.job("old"))).value!.attempt, 3, "fenced: untouched");
    assert.equal((await kv.get<JobRecord>(keys.job("e"))).value, null, "refused: not recorded");
    await assert.rejects(
      () =>
        admit(
          kv,
          cap,
          Array.from({ length: MAX_ADMIT_BATCH + 1 }, (_, i) => ({ ...batch[0], id: `x${i}` })),
        ),
      RangeError,
    );
  } finally {
    kv.close();
    await Deno.remove(path);
  }
});
