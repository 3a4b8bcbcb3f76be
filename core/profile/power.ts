// Power source and battery from /sys/class/power_supply/*/uevent.

import { assignments, naturalCompare, toInt } from "./_text.ts";
import type { PowerInfo, Probe } from "./types.ts";

export const POWER_SUPPLY_DIR = "/sys/class/power_supply";

/** One supply's uevent, reduced to what decides the power source. */
export interface PowerSupply {
  name: string;
  type: string;
  /** "System" or "Device" (a mouse's or a headset's battery). */
  scope?: string;
  online?: boolean;
  present?: boolean;
  status?: string;
  capacity?: number;
  /** energy_now/energy_full (µWh) or charge_now/charge_full (µAh), for several batteries. */
  now?: number;
  full?: number;
}

/** External supplies: mains adapters and USB / USB-C (PD) chargers. */
const EXTERNAL_TYPES = new Set([
  "Mains",
  "USB",
  "USB_C",
  "USB_PD",
  "USB_PD_DRP",
  "USB_DCP",
  "USB_CDP",
]);

export function parseUevent(name: string, text: string | undefined): PowerSupply {
  const f = assignments(text);
  const get = (k: string) => f.get(`POWER_SUPPLY_${k}`);
  const flag = (k: string) => {
    const n = toInt(get(k));
    return n === undefined ? undefined : n !== 0;
  };
  const energyNow = toInt(get("ENERGY_NOW")), energyFull = toInt(get("ENERGY_FULL"));
  const chargeNow = toInt(get("CHARGE_NOW")), chargeFull = toInt(get("CHARGE_FULL"));
  const byEnergy = energyNow !== undefined && energyFull !== undefined && energyFull > 0;
  const byCharge = chargeNow !== undefined && chargeFull !== undefined && chargeFull > 0;
  const capacity = toInt(get("CAPACITY"));
  return {
    name,
    type: get("TYPE") ?? "Unknown",
    scope: get("SCOPE"),
    online: flag("ONLINE"),
    present: flag("PRESENT"),
    status: get("STATUS"),
    capacity: capacity === undefined ? undefined : Math.min(100, Math.max(0, capacity)),
    now: byEnergy ? energyNow : byCharge ? chargeNow : undefined,
    full: byEnergy ? energyFull : byCharge ? chargeFull : undefined,
  };
}

/** A battery that powers this machine: not a peripheral's, and not an empty bay. */
export function isSystemBattery(s: PowerSupply): boolean {
  return s.type === "Battery" && s.scope !== "Device" && s.present !== false;
}

/**
 * The rules, in order:
 * 1. an external supply (Mains/USB) online -> "ac";
 * 2. a system battery discharging (and no external supply online) -> "battery";
 * 3. a battery charging, full or "Not charging" (held at a charge threshold) -> "ac";
 * 4. no battery at all -> "ac": nothing else can power the machine;
 * 5. otherwise (status Unknown, say) -> "unknown".
 * `supplies` undefined means the power_supply class could not be read: "unknown".
 */
export function powerInfo(supplies: PowerSupply[] | undefined): PowerInfo {
  if (supplies === undefined) return { source: "unknown", hasBattery: false };
  const batteries = supplies.filter(isSystemBattery);
  const acOnline = supplies.some((s) => EXTERNAL_TYPES.has(s.type) && s.online === true);
  const statuses = batteries.map((b) => b.status ?? "Unknown");
  const source = acOnline
    ? "ac"
    : statuses.includes("Discharging")
    ? "battery"
    : batteries.length === 0 ||
        statuses.some((s) => ["Charging", "Full", "Not charging"].includes(s))
    ? "ac"
    : "unknown";
  const info: PowerInfo = { source, hasBattery: batteries.length > 0 };
  const percent = batteryPercent(batteries);
  if (percent !== undefined) info.batteryPercent = percent;
  if (batteries.length > 0) info.charging = statuses.includes("Charging");
  return info;
}

/** One battery: its CAPACITY. Several (ThinkPads with two): the charge left over the total. */
function batteryPercent(batteries: PowerSupply[]): number | undefined {
  if (batteries.length === 1 && batteries[0].capacity !== undefined) return batteries[0].capacity;
  if (batteries.length > 0 && batteries.every((b) => b.now !== undefined && b.full !== undefined)) {
    const now = batteries.reduce((sum, b) => sum + (b.now ?? 0), 0);
    const full = batteries.reduce((sum, b) => sum + (b.full ?? 0), 0);
    return Math.min(100, Math.round((100 * now) / full));
  }
  const capacities = batteries.map((b) => b.capacity).filter((c) => c !== undefined);
  if (capacities.length === 0) return undefined;
  return Math.round(capacities.reduce((a, b) => a + b, 0) / capacities.length);
}

export async function readPowerSupplies(probe: Probe): Promise<PowerSupply[] | undefined> {
  const names = await probe.list(POWER_SUPPLY_DIR);
  if (names === undefined) return undefined;
  return Promise.all(
    [...names].sort(naturalCompare).map(async (name) =>
      parseUevent(name, await probe.readText(`${POWER_SUPPLY_DIR}/${name}/uevent`))
    ),
  );
}

export async function readPower(probe: Probe): Promise<PowerInfo> {
  return powerInfo(await readPowerSupplies(probe));
}
