// `herd status`, `herd profile`, `herd config`: what this node is and how it is set.

import type { NodeStatus } from "../core/api/app.ts";
import {
  describeSource,
  formatValue,
  type ResolvedConfig,
  type SettingKey,
  SETTINGS,
} from "../core/config.ts";
import { NotRunningError, UsageError } from "../core/errors.ts";
import { classify, classLabel } from "../core/profile/classify.ts";
import { collectProfile } from "../core/profile/profile.ts";
import { LiveProbe, RecordingProbe } from "../core/profile/probe.ts";
import type { HardwareProfile } from "../core/profile/types.ts";
import { formatBytes, formatDuration } from "../core/units.ts";
import { Client, CONFIG_OPTIONS, dataDir, loadConfig, parse, printJson } from "./common.ts";
import { table } from "./table.ts";

export const STATUS_HELP = `Usage: herd status [--json]

Shows the running node: id, class, resources (capacity, reserved, free), live load.
`;

export const PROFILE_HELP = `Usage: herd profile [--json] [--probe] [--record]

Prints the node's hardware profile and class. Asks the running node (which may run
an emulated profile); with no node running, or with --probe, probes this machine.
--record prints a probe recording of this machine: every file and tool output the
profile is read from, for 'herd up --profile-from' and for test fixtures.
`;

export const CONFIG_HELP =
  `Usage: herd config [--json] [--config FILE] [--profile NAME] [--set K=V]...

Prints the effective configuration: every setting, its value, its unit and where
the value came from (default, profile, file, env or flag).
`;

export async function status(args: string[]): Promise<number> {
  const { values } = parse("status", args, { json: { type: "boolean" } });
  if (values.help) return (console.log(STATUS_HELP), 0);
  const client = await Client.connect(dataDir(values["data-dir"]).path);
  const s = await client.json<NodeStatus>("GET", "/v1/status");
  if (values.json) return (printJson(s), 0);
  const res = (r: { cpu: number; memBytes: number; gpus: number }) =>
    `${Number(r.cpu.toFixed(3))} CPUs, ${formatBytes(r.memBytes)}, ${r.gpus} GPUs`;
  const load = [
    s.load.load1 !== undefined ? `load ${s.load.load1.toFixed(2)}` : "",
    s.load.memAvailableBytes !== undefined
      ? `${formatBytes(s.load.memAvailableBytes)} available`
      : "",
    s.load.batteryPercent !== undefined
      ? `battery ${s.load.batteryPercent}%${s.load.onBattery ? " (discharging)" : ""}`
      : "",
    s.load.temperatureC !== undefined ? `${s.load.temperatureC} °C` : "",
  ].filter(Boolean).join(", ");
  const rows: Array<[string, string]> = [
    ["node", `${s.id} (${s.name})${s.emulated ? "  EMULATED from " + s.profileSource : ""}`],
    ["class", s.classLabel],
    ["arch", s.arch],
    ["capacity", res(s.capacity)],
    ["reserved", res(s.allocated)],
    ["free", res(s.free)],
    ["load", load || (s.emulated ? "(emulated: from the profile)" : "-")],
    ["jobs", `${s.jobs.running} running`],
    ["labels", Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(", ") || "-"],
    ["executors", s.executors.join(", ")],
    [
      "cluster",
      `${s.cluster.fingerprint.slice(0, 16)}${s.cluster.caHolder ? " (holds the CA)" : ""}: ${
        Object.entries(s.cluster.members).map(([k, v]) => `${v} ${k}`).join(", ")
      }`,
    ],
    ["mesh", s.cluster.address],
    ["uptime", formatDuration(s.uptimeMs)],
    ["api", s.apiUrl],
    ["data dir", s.dataDir],
    ["version", `herd ${s.version} (pid ${s.pid}, profile ${s.configProfile})`],
  ];
  for (const [k, v] of rows) console.log(`${k.padEnd(10)} ${v}`);
  return 0;
}

function printProfile(p: HardwareProfile, emulated: boolean): void {
  const c = classify(p);
  const line = (k: string, v: string) => console.log(`${k.padEnd(12)} ${v}`);
  line(
    "host",
    `${p.hostname} (${p.os}${p.kernel ? ", kernel " + p.kernel : ""})${
      emulated ? "  EMULATED" : ""
    }`,
  );
  line("class", classLabel(c));
  line(
    "cpu",
    `${p.cpu.model} — ${p.cpu.cores} cores, ${p.cpu.threads} threads, ${
      p.cpu.mhz || "?"
    } MHz, ${p.cpu.arch}`,
  );
  line(
    "memory",
    `${formatBytes(p.memory.totalBytes)} (${formatBytes(p.memory.availableBytes)} available)`,
  );
  if (p.gpus.length === 0) line("gpu", "none");
  for (const g of p.gpus) {
    line(
      "gpu",
      `#${g.index} ${g.model}, ${formatBytes(g.memoryBytes)}${
        g.computeCapability ? ", compute " + g.computeCapability : ""
      }` +
        `${g.integrated ? ", integrated" : ""}${g.schedulable ? "" : " (not schedulable)"}`,
    );
  }
  for (const d of p.storage) {
    line(
      "storage",
      `${d.name} ${d.kind} ${formatBytes(d.sizeBytes)}${d.model ? " " + d.model : ""}`,
    );
  }
  for (const n of p.network) {
    line(
      "network",
      `${n.name} ${n.kind} ${n.up ? "up" : "down"}${n.speedMbps ? ` ${n.speedMbps} Mb/s` : ""}${
        n.addresses.length ? " " + n.addresses.join(" ") : ""
      }`,
    );
  }
  const pw = p.power;
  line(
    "power",
    pw.hasBattery
      ? `${pw.source}, battery ${pw.batteryPercent ?? "?"}%${pw.charging ? " charging" : ""}`
      : pw.source,
  );
  line("temperature", p.temperatureC !== undefined ? `${p.temperatureC} °C` : "unknown");
  const dev = [
    p.device.vendor,
    p.device.product,
    p.device.model,
    p.device.chassis,
    p.device.virtualization && `virtualized (${p.device.virtualization})`,
  ]
    .filter(Boolean).join(", ");
  if (dev) line("device", dev);
}

export async function profile(args: string[]): Promise<number> {
  const { values } = parse("profile", args, {
    json: { type: "boolean" },
    probe: { type: "boolean" },
    record: { type: "boolean" },
  });
  if (values.help) return (console.log(PROFILE_HELP), 0);
  if (values.record) {
    if (values.json || values.probe) {
      throw new UsageError("profile: --record prints JSON of its own; give it alone");
    }
    const rec = new RecordingProbe(new LiveProbe());
    await collectProfile(rec);
    printJson(rec.record(`recorded by herd profile --record on ${new Date().toISOString()}`));
    return 0;
  }
  let p: HardwareProfile | undefined;
  let emulated = false;
  if (!values.probe) {
    try {
      const client = await Client.connect(dataDir(values["data-dir"]).path);
      p = await client.json<HardwareProfile>("GET", "/v1/profile");
      emulated = (await client.json<NodeStatus>("GET", "/v1/status")).emulated;
    } catch (e) {
      if (!(e instanceof NotRunningError)) throw e;
    }
  }
  const prof = p ?? await collectProfile(new LiveProbe());
  const c = classify(prof);
  if (values.json) {
    return (printJson({ class: c, classLabel: classLabel(c), emulated, profile: prof }), 0);
  }
  printProfile(prof, emulated);
  return 0;
}

export async function config(args: string[]): Promise<number> {
  const { values } = parse("config", args, { ...CONFIG_OPTIONS, json: { type: "boolean" } });
  if (values.help) return (console.log(CONFIG_HELP), 0);
  const resolved: ResolvedConfig = await loadConfig(dataDir(values["data-dir"]).path, values);
  if (values.json) return (printJson(resolved), 0);
  console.log(`profile = ${resolved.profile}  (${describeSource(resolved.profileSource)})\n`);
  const rows = (Object.keys(SETTINGS) as SettingKey[]).map((k) => [
    k,
    formatValue(k, resolved.values[k]) || '""',
    SETTINGS[k].unit,
    describeSource(resolved.sources[k]),
  ]);
  console.log(table(["SETTING", "VALUE", "UNIT", "FROM"], rows));
  return 0;
}
