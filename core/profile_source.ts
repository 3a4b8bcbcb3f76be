// Where a node's profile comes from: this machine (probed), or a file given with
// `--profile-from` — a probe recording (`herd profile --record`, the test
// fixtures) replayed through the same parsers, or a profile (`herd profile --json`).

import * as v from "valibot";
import { ProfileError } from "./errors.ts";
import { collectProfile } from "./profile/profile.ts";
import { parseProbeRecord, RecordedProbe } from "./profile/probe.ts";
import type { HardwareProfile, Probe } from "./profile/types.ts";

const n = v.pipe(v.number(), v.minValue(0));
const ProfileSchema = v.looseObject({
  schema: v.literal(1),
  hostname: v.string(),
  os: v.string(),
  cpu: v.looseObject({
    model: v.string(),
    vendor: v.string(),
    arch: v.picklist(["x86_64", "aarch64", "arm", "riscv64", "other"]),
    cores: v.pipe(v.number(), v.integer(), v.minValue(1)),
    threads: v.pipe(v.number(), v.integer(), v.minValue(1)),
    mhz: n,
  }),
  memory: v.looseObject({ totalBytes: v.pipe(v.number(), v.minValue(1)), availableBytes: n }),
  gpus: v.array(v.looseObject({
    index: v.pipe(v.number(), v.integer(), v.minValue(0)),
    vendor: v.string(),
    model: v.string(),
    memoryBytes: n,
    integrated: v.boolean(),
    schedulable: v.boolean(),
  })),
  storage: v.array(v.looseObject({ name: v.string(), kind: v.string(), sizeBytes: n })),
  network: v.array(v.looseObject({ name: v.string(), kind: v.string(), up: v.boolean() })),
  power: v.looseObject({
    source: v.picklist(["ac", "battery", "unknown"]),
    hasBattery: v.boolean(),
  }),
  device: v.looseObject({}),
});

export function parseProfile(value: unknown, where: string): HardwareProfile {
  const r = v.safeParse(ProfileSchema, value);
  if (!r.success) {
    const issue = r.issues[0];
    const path = issue.path?.map((p) => p.key).join(".") ?? "(top)";
    throw new ProfileError(`${where} is not a valid herd profile: ${path}: ${issue.message}`);
  }
  return r.output as unknown as HardwareProfile;
}

export async function loadProfile(
  from: string | undefined,
  live: Probe,
): Promise<{ profile: HardwareProfile; source: string }> {
  if (from === undefined) return { profile: await collectProfile(live), source: "probed" };
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(from));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new ProfileError(`profile file ${from} does not exist`);
    }
    if (e instanceof SyntaxError) {
      throw new ProfileError(`profile file ${from} is not JSON: ${e.message}`);
    }
    throw new ProfileError(`cannot read profile file ${from}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const obj = json as Record<string, unknown>;
  if (obj && obj.kind === "herd-probe-record") {
    let record;
    try {
      record = parseProbeRecord(json);
    } catch (e) {
      throw new ProfileError(`${from}: ${(e as Error).message}`, { cause: e });
    }
    return { profile: await collectProfile(new RecordedProbe(record)), source: from };
  }
  // `herd profile --json` prints { profile, class, … }; a bare profile works too.
  const candidate = obj && typeof obj === "object" && "profile" in obj ? obj.profile : json;
  return { profile: parseProfile(candidate, from), source: from };
}
