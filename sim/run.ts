// `deno task sim -- --nodes 1000 --seed 1 --loss 0.1 --minutes 10 --scenario kill`
// Runs one scenario of the membership protocol in virtual time and prints its figures.

import { parseArgs } from "node:util";
import {
  detectionBoundMs,
  type Figures,
  profileTimings,
  runScenario,
  type ScenarioName,
  SCENARIOS,
} from "./scenarios.ts";

const USAGE = `usage: deno task sim -- [--scenario ${SCENARIOS.join("|")}] [--nodes N] [--seed S]
                      [--loss P] [--minutes M] [--profile lan|wan|local] [--json]`;

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: "string", default: "converge" },
      nodes: { type: "string", default: "100" },
      seed: { type: "string", default: "1" },
      loss: { type: "string" },
      minutes: { type: "string" },
      profile: { type: "string", default: "lan" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const scenario = values.scenario as ScenarioName;
  const profile = values.profile as "lan" | "wan" | "local";
  const nodes = Number(values.nodes);
  const seed = Number(values.seed);
  const loss = Number(values.loss ?? (scenario === "loss" ? 0.1 : 0));
  const minutes = Number(
    values.minutes ?? { loss: 10, partition: 1, converge: 5, kill: 5 }[scenario],
  );
  const bad = !SCENARIOS.includes(scenario) || !["lan", "wan", "local"].includes(profile) ||
    !(Number.isInteger(nodes) && nodes >= 2) || !Number.isInteger(seed) ||
    !(loss >= 0 && loss < 1) || !(minutes >= 0);
  if (bad) {
    console.error(USAGE);
    return 2;
  }
  const figures = runScenario(scenario, {
    nodes,
    seed,
    loss,
    minutes,
    timings: profileTimings(profile),
  });
  console.log(values.json ? JSON.stringify(figures, null, 2) : format(figures, profile));
  return 0;
}

const secs = (
  ms?: number,
) => (ms === undefined ? "never (limit reached)" : `${(ms / 1000).toFixed(2)} s`);

function format(f: Figures, profile: string): string {
  const rows: [string, string][] = [
    ["scenario", `${f.scenario} (profile ${profile}, seed ${f.seed}, loss ${f.loss * 100} %)`],
    ["nodes", String(f.nodes)],
    ["converged (all see all alive)", secs(f.convergeMs)],
  ];
  if (f.scenario === "kill") {
    rows.push(["killed node: first detection", secs(f.detectFirstMs)]);
    rows.push(["killed node: all live nodes detect", secs(f.detectAllMs)]);
    rows.push([
      "  documented bound",
      secs(detectionBoundMs(f.nodes, profileTimings(profile as "lan"))),
    ]);
  }
  if (f.scenario === "partition") {
    rows.push(["partition: each side marks the other failed", secs(f.partitionDetectMs)]);
    rows.push(["healed: all see all alive again", secs(f.healMs)]);
  }
  rows.push(
    ["false failures", String(f.falseFailures)],
    ["suspicions started / refutes", `${f.suspicions} / ${f.refutes}`],
    [
      `per node per second (over ${secs(f.measuredMs)})`,
      `${f.msgsPerNodeSec.toFixed(1)} messages, ${(f.bytesPerNodeSec / 1024).toFixed(2)} KiB`,
    ],
    ["simulated", `${secs(f.simulatedMs)}, ${f.events} events`],
    ["wall time", secs(f.wallMs)],
    ["trace hash", f.traceHash],
  );
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n");
}

// `deno task sim -- …` passes the `--` along: drop it.
if (import.meta.main) Deno.exit(main(Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args));
