// Private helpers shared by the profile parsers. Every parser reads text the kernel or a tool
// printed, which may be missing, truncated or garbage: these helpers never throw.

/** Trims whitespace and the trailing NULs device-tree strings carry; undefined when empty. */
export function clean(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const t = text.replace(/\0+$/g, "").trim();
  return t === "" ? undefined : t;
}

/** A decimal integer, or undefined when `text` is not one (no partial parses like "12abc"). */
export function toInt(text: string | undefined): number | undefined {
  const t = text?.trim();
  if (t === undefined || !/^[+-]?\d+$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A decimal number such as "2596.120", or undefined. */
export function toFloat(text: string | undefined): number | undefined {
  const t = text?.trim();
  if (t === undefined || !/^[+-]?(\d+\.?\d*|\.\d+)$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** A hexadecimal id such as "0x10de" (sysfs PCI ids), lower-cased without "0x", or undefined. */
export function hexId(text: string | undefined): string | undefined {
  const m = text?.trim().match(/^(?:0x)?([0-9a-fA-F]{1,8})$/);
  return m ? m[1].toLowerCase().padStart(4, "0") : undefined;
}

/**
 * `KEY=VALUE` lines (uevent, os-release) into a map; quotes around a value are removed and
 * lines that are not assignments are ignored.
 */
export function assignments(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of (text ?? "").split("\n")) {
    const m = line.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/);
    if (!m) continue;
    let value = m[2].trim();
    const quoted = value.match(/^"(.*)"$/) ?? value.match(/^'(.*)'$/);
    if (quoted) value = quoted[1].replace(/\\(["\\$`])/g, "$1");
    out.set(m[1], value);
  }
  return out;
}

/** Orders device names as people do: card2 before card10, nvme1n1 before nvme10n1. */
export function naturalCompare(a: string, b: string): number {
  const pa = a.split(/(\d+)/), pb = b.split(/(\d+)/);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    // Odd indexes hold the digit runs.
    if (i % 2 === 1) return Number(pa[i]) - Number(pb[i]) || (pa[i] < pb[i] ? -1 : 1);
    return pa[i] < pb[i] ? -1 : 1;
  }
  return pa.length - pb.length;
}

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
