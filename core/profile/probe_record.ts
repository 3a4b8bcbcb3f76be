// Validation of a ProbeRecord read from JSON (a fixture, or `herd up --profile-from`): a
// record with a wrong field fails loudly, naming the field, instead of profiling a machine
// that does not exist.

import type { CommandOutput, ProbeRecord } from "./types.ts";

/** Checks that `json` is a ProbeRecord; throws an Error naming the first bad field. */
export function parseProbeRecord(json: unknown): ProbeRecord {
  const o = object(json, "record");
  if (o.kind !== "herd-probe-record") {
    fail("kind", `must be "herd-probe-record"`, o.kind);
  }
  if (o.version !== 1) fail("version", "must be 1", o.version);
  if (o.description !== undefined && typeof o.description !== "string") {
    fail("description", "must be a string when present", o.description);
  }
  const record: ProbeRecord = {
    kind: "herd-probe-record",
    version: 1,
    arch: string(o.arch, "arch"),
    hostname: string(o.hostname, "hostname"),
    files: mapOf(o.files, "files", string),
    dirs: mapOf(o.dirs, "dirs", stringArray),
    commands: mapOf(o.commands, "commands", commandOutput),
    addresses: mapOf(o.addresses, "addresses", stringArray),
  };
  return typeof o.description === "string" ? { ...record, description: o.description } : record;
}

function fail(field: string, rule: string, got: unknown): never {
  throw new Error(`probe record: '${field}' ${rule}: got ${describe(got)}`);
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing (the field is missing)";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "\u2026" : v);
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}

function object(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(field, "must be an object", v);
  return v as Record<string, unknown>;
}

function string(v: unknown, field: string): string {
  if (typeof v !== "string") fail(field, "must be a string", v);
  return v;
}

function stringArray(v: unknown, field: string): string[] {
  if (!Array.isArray(v)) fail(field, "must be an array of strings", v);
  return v.map((item, i) => string(item, `${field}[${i}]`));
}

function commandOutput(v: unknown, field: string): CommandOutput {
  const o = object(v, field);
  if (typeof o.code !== "number" || !Number.isInteger(o.code)) {
    fail(`${field}.code`, "must be an integer", o.code);
  }
  return { code: o.code, stdout: string(o.stdout, `${field}.stdout`) };
}

function mapOf<T>(
  v: unknown,
  field: string,
  item: (v: unknown, field: string) => T,
): Record<string, T> {
  const o = object(v, field);
  // fromEntries defines own properties, so a "__proto__" path stays a plain key.
  return Object.fromEntries(
    Object.entries(o).map(([k, value]) => [k, item(value, `${field}[${JSON.stringify(k)}]`)]),
  );
}
