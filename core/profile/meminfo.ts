// Memory from /proc/meminfo ("MemTotal:       16303788 kB").

import { KiB, toInt } from "./_text.ts";
import type { MemoryInfo, Probe } from "./types.ts";

export const MEMINFO_PATH = "/proc/meminfo";

/** Fields of /proc/meminfo in bytes; lines without a "kB" number are ignored. */
export function meminfoFields(text: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? "").split("\n")) {
    const m = line.match(/^([\w()]+):\s+(\d+)(?:\s+kB)?\s*$/);
    const n = toInt(m?.[2]);
    // Every size field is in kB; the unitless ones (HugePages_Total) are counts.
    if (m && n !== undefined) out.set(m[1], line.trimEnd().endsWith("kB") ? n * KiB : n);
  }
  return out;
}

export function parseMeminfo(text: string | undefined): MemoryInfo {
  const f = meminfoFields(text);
  const totalBytes = f.get("MemTotal") ?? 0;
  // MemAvailable exists since Linux 3.14; before it, free + reclaimable caches approximate it.
  const availableBytes = f.get("MemAvailable") ??
    (f.get("MemFree") ?? 0) + (f.get("Buffers") ?? 0) + (f.get("Cached") ?? 0);
  return { totalBytes, availableBytes: Math.min(availableBytes, totalBytes) };
}

export async function readMemory(probe: Probe): Promise<MemoryInfo> {
  return parseMeminfo(await probe.readText(MEMINFO_PATH));
}
