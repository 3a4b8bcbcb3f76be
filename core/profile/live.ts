// The live load vector a resident agent refreshes every few seconds. Only /proc and /sys
// reads, through the same parsers as the profile: no command is spawned.

import { MEMINFO_PATH, parseMeminfo } from "./meminfo.ts";
import { readPower } from "./power.ts";
import { readTemperature } from "./thermal.ts";
import { toFloat } from "./_text.ts";
import type { Probe } from "./types.ts";

export const LOADAVG_PATH = "/proc/loadavg";

export interface LiveLoad {
  memAvailableBytes: number;
  /** One-minute load average; 0 when unreadable. */
  load1: number;
  batteryPercent?: number;
  onBattery: boolean;
  temperatureC?: number;
}

/** The first field of /proc/loadavg ("0.18 0.14 0.06 1/80 3478"), or undefined. */
export function parseLoad1(text: string | undefined): number | undefined {
  const load = toFloat(text?.trim().split(/\s+/)[0]);
  return load !== undefined && load >= 0 ? load : undefined;
}

export async function liveLoad(probe: Probe): Promise<LiveLoad> {
  const [meminfo, loadavg, power, temperatureC] = await Promise.all([
    probe.readText(MEMINFO_PATH),
    probe.readText(LOADAVG_PATH),
    readPower(probe),
    readTemperature(probe),
  ]);
  const load: LiveLoad = {
    memAvailableBytes: parseMeminfo(meminfo).availableBytes,
    load1: parseLoad1(loadavg) ?? 0,
    onBattery: power.source === "battery",
  };
  if (power.batteryPercent !== undefined) load.batteryPercent = power.batteryPercent;
  if (temperatureC !== undefined) load.temperatureC = temperatureC;
  return load;
}
