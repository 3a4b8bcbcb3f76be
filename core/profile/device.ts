// What the machine is: DMI identity, device-tree model, and the Jetson release file.

import { clean } from "./_text.ts";
import { type Dmi, DMI_DIR, DMI_FIELDS, type DmiField, parseDmi } from "./dmi.ts";
import { parseCompatible, parseTegraRelease, TEGRA_RELEASE_PATH } from "./jetson.ts";
import type { DeviceInfo, Probe } from "./types.ts";

/** /proc/device-tree links to /sys/firmware/devicetree/base on ARM boards. */
export const DEVICE_TREE_MODEL_PATH = "/proc/device-tree/model";
export const DEVICE_TREE_COMPATIBLE_PATH = "/proc/device-tree/compatible";

export interface DeviceReading {
  /** Everything but `virtualization`, which needs the CPU flags too. */
  device: DeviceInfo;
  dmi: Dmi;
  /** Device-tree compatible strings, most specific first ("nvidia,p3450-0000", ...). */
  compatible: string[];
}

export async function readDevice(probe: Probe): Promise<DeviceReading> {
  const [dmiValues, model, compatible, tegra] = await Promise.all([
    Promise.all(DMI_FIELDS.map((f) => probe.readText(`${DMI_DIR}/${f}`))),
    probe.readText(DEVICE_TREE_MODEL_PATH),
    probe.readText(DEVICE_TREE_COMPATIBLE_PATH),
    probe.readText(TEGRA_RELEASE_PATH),
  ]);
  const fields: Partial<Record<DmiField, string>> = {};
  DMI_FIELDS.forEach((f, i) => {
    if (dmiValues[i] !== undefined) fields[f] = dmiValues[i];
  });
  const dmi = parseDmi(fields);
  const device: DeviceInfo = {};
  if (dmi.vendor !== undefined) device.vendor = dmi.vendor;
  if (dmi.product !== undefined) device.product = dmi.product;
  const dtModel = clean(model);
  if (dtModel !== undefined) device.model = dtModel;
  if (dmi.chassis !== undefined) device.chassis = dmi.chassis;
  const tegraRelease = parseTegraRelease(tegra);
  if (tegraRelease !== undefined) device.tegraRelease = tegraRelease;
  return { device, dmi, compatible: parseCompatible(compatible) };
}
