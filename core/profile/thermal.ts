// The hottest thermal zone, from /sys/class/thermal/thermal_zone*/{temp,type}.

import { clean, naturalCompare, toInt } from "./_text.ts";
import type { Probe } from "./types.ts";

export const THERMAL_DIR = "/sys/class/thermal";
/** Readings outside (0, 150] °C are sensor faults or placeholders, not temperatures. */
export const MAX_PLAUSIBLE_C = 150;

/**
 * Zones that print a constant instead of a measurement: Tegra's PMIC-Die always reads
 * 100 °C (NVIDIA says to ignore it), which would make every Jetson look overheated.
 */
const PLACEHOLDER_ZONES = new Set(["PMIC-Die"]);

export interface ThermalZone {
  type?: string;
  /** °C */
  celsius?: number;
}

/** A zone's `temp` (millidegrees) in °C to one decimal, or undefined when implausible. */
export function parseMillidegrees(text: string | undefined): number | undefined {
  const milli = toInt(text);
  if (milli === undefined) return undefined;
  const c = milli / 1000;
  return c > 0 && c <= MAX_PLAUSIBLE_C ? Math.round(c * 10) / 10 : undefined;
}

/** The hottest plausible zone, or undefined when none is readable. */
export function hottest(zones: ThermalZone[]): number | undefined {
  let max: number | undefined;
  for (const z of zones) {
    if (z.celsius === undefined || PLACEHOLDER_ZONES.has(z.type ?? "")) continue;
    max = max === undefined ? z.celsius : Math.max(max, z.celsius);
  }
  return max;
}

export async function readThermalZones(probe: Probe): Promise<ThermalZone[]> {
  const names = (await probe.list(THERMAL_DIR) ?? []).filter((n) => /^thermal_zone\d+$/.test(n));
  return Promise.all(
    names.sort(naturalCompare).map(async (name) => {
      const [temp, type] = await Promise.all([
        probe.readText(`${THERMAL_DIR}/${name}/temp`),
        probe.readText(`${THERMAL_DIR}/${name}/type`),
      ]);
      return { type: clean(type), celsius: parseMillidegrees(temp) };
    }),
  );
}

export async function readTemperature(probe: Probe): Promise<number | undefined> {
  return hottest(await readThermalZones(probe));
}
