import assert from "node:assert/strict";
import {
  addReservation,
  type Admission,
  EMPTY_ALLOCATION,
  fit,
  Ledger,
  MAX_ADMIT_BATCH,
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

const one = (ledger: Ledger, id: string, want: Resources, fence?: Admission["fence"]) =>
  ledger.admit([{ id, makeRecord: (r) => record(id, r), want, fence }]).then((a) => a[0]);

async function withKv(f: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const path = await Deno.makeTempFile({ suffix: ".kv" });
  const kv = await Deno.openKv(path);
  try {
    await f(kv);
  } finally {
    kv.close();
    await Deno.remove(path);
  }
}

Deno.test("concurrent admissions never overcommit; their records are stored before the answer", async () => {
  await withKv(async (kv) => {
    const { ledger } = await Ledger.open(kv, cap);
    // 20 submissions of 1 CPU each race for 4 CPUs: exactly 4 must win.
    const results = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => one(ledger, `job${i}`, { cpu: 1, memBytes: 0, gpus: 0 }),
      ),
    );
    const won = results.filter((r) => r.ok);
    assert.equal(won.length, 4);
    assert.deepEqual([ledger.allocation.cpuMilli, ledger.allocation.jobs], [4000, 4]);
    for (const w of won) {
      assert.equal((await kv.get<JobRecord>(keys.job(w.record.id))).value?.state, "running");
    }
    const lost = results.find((r) => !r.ok)!;
    assert.ok(!lost.ok && /needs 1 CPUs; 0 of 4 are free \(4 jobs running\)/.test(lost.reason));
    assert.ok(won[0].ok);
    await ledger.release([{ ...won[0].record, state: "succeeded" }]);
    assert.equal(ledger.allocation.cpuMilli, 3000);
    assert.equal((await kv.get<JobRecord>(keys.job(won[0].record.id))).value!.state, "succeeded");
    assert.ok((await one(ledger, "next", { cpu: 1, memBytes: 0, gpus: 0 })).ok, "freed: fits");
  });
});

Deno.test("a reopened ledger reserves nothing, returns the unfinished records, and fences by stored attempts", async () => {
  await withKv(async (kv) => {
    await kv.set(keys.alloc(), { cpuMilli: 4000, memBytes: 0, gpus: [], jobs: 4 });
    await kv.set(keys.job("done"), {
      ...record("done", EMPTY_RES),
      state: "succeeded",
      attempt: 2,
    });
    await kv.set(keys.job("was-running"), { ...record("was-running", EMPTY_RES), attempt: 5 });
    const { ledger, unfinished } = await Ledger.open(kv, cap);
    assert.deepEqual(unfinished.map((r) => r.id), ["was-running"]);
    assert.deepEqual(ledger.allocation, EMPTY_ALLOCATION);
    assert.equal((await kv.get(keys.alloc())).value, null, "the stored ledger of old is gone");
    const fence: Admission["fence"] = (seen) =>
      seen !== undefined && seen >= 2 ? `seen attempt ${seen}` : undefined;
    const stale = await one(ledger, "done", { cpu: 1, memBytes: 0, gpus: 0 }, fence);
    assert.ok(!stale.ok && stale.fenced && stale.reason === "seen attempt 2");
    const later = await one(ledger, "was-running", { cpu: 1, memBytes: 0, gpus: 0 }, fence);
    assert.ok(!later.ok && later.reason === "seen attempt 5");
    assert.ok((await one(ledger, "new", { cpu: 1, memBytes: 0, gpus: 0 }, fence)).ok);
    // What it admitted fences too, and a pruned record no longer does.
    const again = await one(
      ledger,
      "new",
      { cpu: 1, memBytes: 0, gpus: 0 },
      (seen) => seen !== undefined ? `seen attempt ${seen}` : undefined,
    );
    assert.ok(!again.ok && again.reason === "seen attempt 1");
    ledger.forget("done");
    assert.ok((await one(ledger, "done", { cpu: 1, memBytes: 0, gpus: 0 }, fence)).ok);
  });
});

Deno.test("a commit that fails admits nothing: the reservations and attempts are taken back", async () => {
  const path = await Deno.makeTempFile({ suffix: ".kv" });
  const kv = await Deno.openKv(path);
  const { ledger } = await Ledger.open(kv, cap);
  assert.ok((await one(ledger, "a", { cpu: 1, memBytes: 0, gpus: 0 })).ok);
  kv.close();
  await assert.rejects(
    () => one(ledger, "b", { cpu: 2, memBytes: 0, gpus: 0 }),
    /recording admitted jobs failed/,
  );
  assert.deepEqual([ledger.allocation.cpuMilli, ledger.allocation.jobs], [1000, 1]);
  await Deno.remove(path);
});

Deno.test("a batch is admitted in order in one commit: what fits, up to capacity; fenced ones refused", async () => {
  await withKv(async (kv) => {
    await kv.set(keys.job("old"), {
      ...record("old", { cpuMilli: 0, memBytes: 0, gpus: [] }),
      state: "succeeded",
      attempt: 3,
    });
    const { ledger } = await Ledger.open(kv, cap);
    const batch: Admission[] = ["a", "old", "b", "c", "d", "e"].map((id) => ({
      id,
      makeRecord: (r) => record(id, r),
      want: { cpu: 1, memBytes: 0, gpus: 0 },
      fence: (seen) => seen !== undefined && seen >= 1 ? `seen attempt ${seen}` : undefined,
    }));
    const out = await ledger.admit(batch);
    assert.deepEqual(out.map((o) => o.ok), [true, false, true, true, true, false]);
    assert.ok(!out[1].ok && out[1].fenced && /seen attempt 3/.test(out[1].reason));
    assert.ok(!out[5].ok && !out[5].fenced && /needs 1 CPUs; 0 of 4 are free/.test(out[5].reason));
    assert.deepEqual([ledger.allocation.cpuMilli, ledger.allocation.jobs], [4000, 4]);
    assert.equal((await kv.get<JobRecord>(keys.job("old"))).value!.attempt, 3, "fenced: untouched");
    assert.equal((await kv.get<JobRecord>(keys.job("e"))).value, null, "refused: not recorded");
    await assert.rejects(
      () =>
        ledger.admit(
          Array.from({ length: MAX_ADMIT_BATCH + 1 }, (_, i) => ({ ...batch[0], id: `x${i}` })),
        ),
      RangeError,
    );
  });
});

const EMPTY_RES: Reservation = { cpuMilli: 0, memBytes: 0, gpus: [] };
