// Sizes and durations as users write them: `512M`, `1.5GiB`, `30s`, `1h30m`.
// Strict: anything that is not fully understood is an error, never a guess.

import { UsageError } from "./errors.ts";

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/** Largest size accepted anywhere: 1 PiB. Past that a value is a typo. */
export const MAX_SIZE_BYTES = 1024 ** 5;

/**
 * Parses a size in bytes. Units are binary (as Docker's `--memory`): `512M` = 512 MiB.
 * @throws UsageError naming `what` and the value.
 */
export function parseSize(text: string, what = "size"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(
      `${what} must be a size such as 512M, 2G or 1.5GiB: got '${text}'`,
    );
  }
  const bytes = Math.round(Number(m[1]) * unit);
  if (bytes > MAX_SIZE_BYTES) {
    throw new UsageError(`${what} is larger than 1 PiB: got '${text}'`);
  }
  return bytes;
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Longest duration accepted: 365 days. */
export const MAX_DURATION_MS = 365 * 86_400_000;

/**
 * Parses a duration in milliseconds: `250ms`, `30s`, `5m`, `1h30m`, `2d`. A bare `0` is zero.
 * @throws UsageError naming `what` and the value.
 */
export function parseDuration(text: string, what = "duration"): number {
  const trimmed = text.trim();
  if (trimmed === "0") return 0;
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
  let total = 0;
  let pos = 0;
  while (pos < trimmed.length) {
    part.lastIndex = pos;
    const m = part.exec(trimmed);
    if (!m) break;
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    pos = part.lastIndex;
  }
  if (trimmed.length === 0 || pos !== trimmed.length) {
    throw new UsageError(`${what} must be a duration such as 30s, 5m or 1h30m: got '${text}'`);
  }
  if (total > MAX_DURATION_MS) {
    throw new UsageError(`${what} is longer than 365 days: got '${text}'`);
  }
  return Math.round(total);
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const digits = i === 0 || v >= 100 ? 0 : 1;
  return `${v.toFixed(digits).replace(/\.0$/, "")} ${units[i]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1).replace(/\.0$/, "") : Math.round(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${Math.round(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60}m`;
  return `${Math.floor(h / 24)}d${h % 24}h`;
}
