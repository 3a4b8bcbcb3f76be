// Test helpers: the recorded machines, and small inline probes.

import { RecordedProbe } from "../../../core/profile/probe.ts";
import { parseProbeRecord } from "../../../core/profile/probe_record.ts";
import type { CommandOutput, ProbeRecord } from "../../../core/profile/types.ts";

export const FIXTURE_DIR = new URL("../../fixtures/machines/", import.meta.url);

export const FIXTURES = [
  "raspberry-pi-4",
  "jetson-nano",
  "laptop-battery",
  "workstation-rtx",
  "server-8xh100",
  "intel-nuc",
  "cpu-only-vm",
] as const;
export type FixtureName = typeof FIXTURES[number];

export async function loadRecord(name: FixtureName): Promise<ProbeRecord> {
  return parseProbeRecord(
    JSON.parse(await Deno.readTextFile(new URL(`${name}.json`, FIXTURE_DIR))),
  );
}

export async function fixtureProbe(name: FixtureName): Promise<RecordedProbe> {
  return new RecordedProbe(await loadRecord(name));
}

export interface InlineMachine {
  arch?: string;
  files?: Record<string, string>;
  dirs?: Record<string, string[]>;
  commands?: Record<string, CommandOutput>;
  addresses?: Record<string, string[]>;
}

/** A probe over a handful of files, for parser-level tests. */
export function inlineProbe(m: InlineMachine): RecordedProbe {
  return new RecordedProbe({
    kind: "herd-probe-record",
    version: 1,
    arch: m.arch ?? "x86_64",
    hostname: "test",
    files: m.files ?? {},
    dirs: m.dirs ?? {},
    commands: m.commands ?? {},
    addresses: m.addresses ?? {},
  });
}

/** Deterministic junk (a seeded xorshift), for "never throws on garbage" tests. */
export function garbage(seed: number, length: number): string {
  let x = seed | 1;
  let out = "";
  const alphabet = "abc:=\t \n\0,.-0123456789[]\"'xyzé\u00ff\\/";
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out += alphabet[Math.abs(x) % alphabet.length];
  }
  return out;
}

export const GiB = 1024 ** 3;
