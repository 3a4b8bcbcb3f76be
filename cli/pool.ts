// `herd pool`: the whole cluster as one pool of resources, by node class and in total.

import type { ClusterPool, PoolTotals } from "../core/mesh/pool.ts";
import { formatBytes } from "../core/units.ts";
import { Client, dataDir, parse, printJson } from "./common.ts";
import { table } from "./table.ts";

export const POOL_HELP = `Usage: herd pool [--json]

Shows what the whole cluster has and has free (free of total), by node class and in
total: nodes, CPUs, memory, GPUs (and by model), architectures, and power (nodes on
AC or on battery, the lowest battery, the hottest node). Only alive and suspect
members count; the members line says how many are down.
`;

const HEAD = ["CLASS", "NODES", "CPU", "MEMORY", "GPU", "ARCH"];

function row(name: string, t: PoolTotals): string[] {
  return [
    name,
    String(t.nodes),
    `${t.cpu.free}/${t.cpu.total}`,
    `${formatBytes(t.memBytes.free)}/${formatBytes(t.memBytes.total)}`,
    t.gpus.total ? `${t.gpus.free}/${t.gpus.total}` : "-",
    t.arches.join(",") || "-",
  ];
}

/** The human form: classes and total, GPUs by model, then power and membership lines. */
export function poolText(p: ClusterPool): string {
  const present = Object.entries(p.classes).filter(([, t]) => t.nodes > 0);
  const out = [table(HEAD, [...present.map(([k, t]) => row(k, t)), row("TOTAL", p.total)])];
  const models = p.total.gpus.byModel;
  if (models.length) {
    out.push(
      "",
      table(
        ["GPU MODEL", "FREE/TOTAL", "MEMORY EACH", "NODES"],
        models.map((m) => [
          m.model,
          `${m.free}/${m.count}`,
          m.memBytes !== undefined ? formatBytes(m.memBytes) : "-",
          String(m.nodes),
        ]),
      ),
    );
  }
  const pw = p.total.power;
  let power = `power: ${pw.onAc} on AC, ${pw.onBattery} on battery`;
  if (pw.lowestBattery) {
    power += ` (lowest ${pw.lowestBattery.percent}% ${pw.lowestBattery.node})`;
  }
  if (pw.hottest) power += `; hottest ${pw.hottest.celsius} °C ${pw.hottest.node}`;
  const members = Object.entries(p.members).filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`).join(", ");
  out.push("", power, `members: ${members || "none"}`);
  return out.join("\n");
}

export async function pool(args: string[]): Promise<number> {
  // parse() refuses positional arguments (a UsageError, exit 2): pool takes none.
  const { values } = parse("pool", args, { json: { type: "boolean" } });
  if (values.help) {
    console.log(POOL_HELP);
    return 0;
  }
  const client = await Client.connect(dataDir(values["data-dir"]).path);
  const p = await client.json<ClusterPool>("GET", "/v1/pool");
  if (values.json) printJson(p);
  else console.log(poolText(p));
  return 0;
}
