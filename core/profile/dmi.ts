// DMI/SMBIOS identity from /sys/class/dmi/id (x86 and ARM servers; absent on a Raspberry Pi).

import { clean, toInt } from "./_text.ts";

export const DMI_DIR = "/sys/class/dmi/id";
export const DMI_FIELDS = ["sys_vendor", "product_name", "board_name", "chassis_type"] as const;
export type DmiField = typeof DMI_FIELDS[number];

/** SMBIOS 3.x system enclosure types (DSP0134, table 17). */
const CHASSIS_TYPES: Record<number, string> = {
  1: "Other",
  2: "Unknown",
  3: "Desktop",
  4: "Low Profile Desktop",
  5: "Pizza Box",
  6: "Mini Tower",
  7: "Tower",
  8: "Portable",
  9: "Laptop",
  10: "Notebook",
  11: "Hand Held",
  12: "Docking Station",
  13: "All in One",
  14: "Sub Notebook",
  15: "Space-saving",
  16: "Lunch Box",
  17: "Main Server Chassis",
  18: "Expansion Chassis",
  19: "SubChassis",
  20: "Bus Expansion Chassis",
  21: "Peripheral Chassis",
  22: "RAID Chassis",
  23: "Rack Mount Chassis",
  24: "Sealed-case PC",
  25: "Multi-system chassis",
  26: "Compact PCI",
  27: "Advanced TCA",
  28: "Blade",
  29: "Blade Enclosure",
  30: "Tablet",
  31: "Convertible",
  32: "Detachable",
  33: "IoT Gateway",
  34: "Embedded PC",
  35: "Mini PC",
  36: "Stick PC",
};

/** The chassis type's name; undefined for a number outside the table or garbage. */
export function chassisName(text: string | undefined): string | undefined {
  // Bit 7 is the "chassis lock present" flag, not part of the type.
  const n = toInt(text);
  return n === undefined ? undefined : CHASSIS_TYPES[n & 0x7f];
}

/** Strings firmware vendors leave in unset DMI fields ("To Be Filled By O.E.M."). */
const PLACEHOLDERS = new Set(
  [
    "to be filled by o.e.m.",
    "system product name",
    "system manufacturer",
    "default string",
    "not applicable",
    "not specified",
    "none",
    "n/a",
    "0123456789",
    "type1productconfigid",
    "x.x",
  ],
);

/** A DMI string, or undefined when it is empty or a placeholder. */
export function dmiString(text: string | undefined): string | undefined {
  const s = clean(text)?.replace(/\s+/g, " ");
  return s === undefined || PLACEHOLDERS.has(s.toLowerCase()) ? undefined : s;
}

export interface Dmi {
  vendor?: string;
  /** product_name, or board_name when the product is unset (common on DIY desktops). */
  product?: string;
  board?: string;
  chassis?: string;
}

export function parseDmi(fields: Partial<Record<DmiField, string>>): Dmi {
  const product = dmiString(fields.product_name);
  const board = dmiString(fields.board_name);
  return {
    vendor: dmiString(fields.sys_vendor),
    product: product ?? board,
    board,
    chassis: chassisName(fields.chassis_type),
  };
}
