// `herd run --dry-run`: a placement explanation (core/scheduler/explain.ts) as text.

import { formatBytes } from "../core/units.ts";
import type { Explanation } from "../core/scheduler/explain.ts";
import { table } from "./table.ts";

/** A score as people read it: four significant digits, no exponent for usual values. */
export function formatScore(s: number): string {
  return Math.abs(s) >= 1e-3 && Math.abs(s) < 1e6
    ? String(Number(s.toPrecision(4)))
    : s.toPrecision(3);
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The explanation as text: two tables and a line above each. */
export function explainText(e: Explanation): string {
  const out: string[] = [];
  const total = e.feasible + e.refused;
  if (e.feasible === 0) {
    out.push(`No node can take the job (${plural(total, "node")} considered).`);
  } else {
    const shown = e.ranked.length < e.feasible ? `; the first ${e.ranked.length}` : "";
    out.push(`${e.feasible} of ${plural(total, "node")} can take the job, best first${shown}:`);
    out.push(table(
      ["RANK", "NODE", "SCORE", "CPU FREE", "MEM FREE", "GPUS FREE"],
      e.ranked.map((r) => [
        String(r.rank),
        r.name === r.id ? r.id : `${r.name} (${r.id})`,
        formatScore(r.score),
        String(Number(r.free.cpu.toFixed(3))),
        formatBytes(r.free.memBytes),
        String(r.free.gpus),
      ]),
    ));
  }
  if (e.refused > 0) {
    const counts = Object.entries(e.byFilter).map(([f, n]) => `${f} ${n}`).join(", ");
    const shown = e.rejected.length < e.refused ? `; the first ${e.rejected.length}` : "";
    out.push("");
    out.push(`${plural(e.refused, "node")} cannot (${counts})${shown}:`);
    out.push(table(
      ["NODE", "FILTER", "REASON"],
      e.rejected.map((r) => [r.name === r.id ? r.id : `${r.name} (${r.id})`, r.filter, r.reason]),
    ));
  }
  return out.join("\n");
}
