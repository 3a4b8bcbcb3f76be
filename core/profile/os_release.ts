// Operating system and kernel: /etc/os-release PRETTY_NAME and /proc/sys/kernel/osrelease.

import { assignments, clean } from "./_text.ts";
import type { Probe } from "./types.ts";

export const OS_RELEASE_PATHS = ["/etc/os-release", "/usr/lib/os-release"];
export const KERNEL_RELEASE_PATH = "/proc/sys/kernel/osrelease";

/** PRETTY_NAME, else "NAME VERSION", else undefined. */
export function parseOsRelease(text: string | undefined): string | undefined {
  const f = assignments(text);
  const pretty = clean(f.get("PRETTY_NAME"));
  if (pretty !== undefined) return pretty;
  const name = clean(f.get("NAME"));
  return name === undefined ? undefined : clean(`${name} ${f.get("VERSION") ?? ""}`);
}

export interface OsInfo {
  os: string;
  kernel?: string;
}

export async function readOs(probe: Probe): Promise<OsInfo> {
  const [etc, kernel] = await Promise.all([
    probe.readText(OS_RELEASE_PATHS[0]),
    probe.readText(KERNEL_RELEASE_PATH),
  ]);
  // os-release(5): /etc/os-release takes precedence; /usr/lib/os-release is the fallback.
  const os = parseOsRelease(etc) ??
    parseOsRelease(etc === undefined ? await probe.readText(OS_RELEASE_PATHS[1]) : undefined) ??
    "Linux";
  const k = clean(kernel);
  return k === undefined ? { os } : { os, kernel: k };
}
