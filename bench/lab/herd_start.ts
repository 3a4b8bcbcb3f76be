// What a herd agent's start costs, one at a time on a quiet lab (formation's parts): the
// runtime alone (`deno run` of an empty module with the agent's flags), an agent creating a
// cluster, and an agent joining it (the join's certificate exchange, then membership's
// push-pull), each from spawn until its API answers, and until it lists the others alive.
// Serf's agent beside it, the same way.
//
//   deno run -A bench/lab/herd_start.ts [--runs 5]

import { parseArgs } from "node:util";
import { benchArgs } from "../_args.ts";
import { DENO_FLAGS } from "../../tests/integration/_harness.ts";
import { Lab } from "../../tests/lab/_netns.ts";
import { HerdSystem } from "./herd_system.ts";
import { SerfSystem } from "./serf_system.ts";
import type { System } from "./system.ts";

const { values } = parseArgs({
  args: benchArgs(),
  options: { runs: { type: "string", default: "5" } },
});
const runs = Number(values.runs);
const now = () => performance.now();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function untilAlive(sys: System, lab: Lab, i: number, n: number): Promise<void> {
  for (;;) {
    const alive = (await sys.members(lab, i)).filter((m) => m.status === "alive").length;
    if (alive === n) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

const rows: Record<string, number[]> = {};
const add = (k: string, v: number) => (rows[k] ??= []).push(v);
const empty = await Deno.makeTempFile({ suffix: ".ts" });
for (let r = 0; r < runs; r++) {
  const t0 = now();
  const p = new Deno.Command(Deno.execPath(), { args: [...DENO_FLAGS, empty] }).outputSync();
  if (!p.success) throw new Error("deno run of an empty module failed");
  add("deno run, empty module", now() - t0);
  for (
    const [name, make] of [["herd", () => new HerdSystem()], [
      "serf",
      () => new SerfSystem(),
    ]] as const
  ) {
    const lab = await Lab.create({ hosts: 2 });
    const sys: System = make();
    try {
      await sys.prepare?.(lab, 2);
      let t = now();
      await sys.start(lab, 1, null);
      add(`${name}: first agent answers`, now() - t);
      t = now();
      await sys.start(lab, 2, lab.host(1).ip);
      add(`${name}: joiner answers`, now() - t);
      await untilAlive(sys, lab, 2, 2);
      add(`${name}: joiner lists 2 alive`, now() - t);
      await untilAlive(sys, lab, 1, 2);
      add(`${name}: first lists 2 alive`, now() - t);
    } finally {
      await sys.stopAll();
      await lab.destroy();
    }
  }
}
await Deno.remove(empty);
console.log(
  `median of ${runs} runs, ms (load ${Deno.readTextFileSync("/proc/loadavg").split(" ")[0]}):`,
);
for (const [k, xs] of Object.entries(rows)) {
  console.log(
    `  ${k.padEnd(34)} ${median(xs).toFixed(0).padStart(6)}   (${
      xs.map((x) => x.toFixed(0)).join(", ")
    })`,
  );
}
