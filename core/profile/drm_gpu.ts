// AMD, Intel (and, without nvidia-smi, NVIDIA) GPUs from /sys/class/drm, named by lspci.
// Only PCI cards of those three vendors count: a VM's virtio/bochs/cirrus/QXL adapter and a
// server's ASPEED or Matrox BMC display are display outputs, not GPUs, and SoC display
// engines (Raspberry Pi vc4, Tegra) have no PCI vendor at all.

import { GiB, hexId, naturalCompare, toInt } from "./_text.ts";
import type { GpuInfo, GpuVendor, Probe } from "./types.ts";

export const DRM_DIR = "/sys/class/drm";
export const LSPCI = "lspci";
export const LSPCI_ARGS = ["-mm", "-nn"];

/** A non-NVIDIA GPU needs this much dedicated memory to take jobs (`--gpu N`). */
export const MIN_SCHEDULABLE_VRAM_BYTES = 1 * GiB;

const GPU_VENDORS: Record<string, GpuVendor> = {
  "1002": "amd",
  "8086": "intel",
  "10de": "nvidia",
};

const VENDOR_NAMES: Record<GpuVendor, string> = {
  amd: "AMD",
  intel: "Intel",
  nvidia: "NVIDIA",
  apple: "Apple",
  other: "Unknown",
};

export interface DrmCard {
  /** "card0" */
  card: string;
  vendor: GpuVendor;
  /** PCI ids, four lower-case hex digits: "1002", "744c". */
  vendorId: string;
  deviceId: string;
  /** amdgpu's mem_info_vram_total; absent for i915, nouveau and the NVIDIA driver. */
  vramBytes?: number;
}

/** The DRM cards of GPU vendors, in card order. */
export async function readDrmCards(probe: Probe): Promise<DrmCard[]> {
  const names = (await probe.list(DRM_DIR) ?? []).filter((n) => /^card\d+$/.test(n));
  const cards = await Promise.all(
    names.sort(naturalCompare).map(async (card) => {
      const base = `${DRM_DIR}/${card}/device`;
      const [vendor, device, vram] = await Promise.all([
        probe.readText(`${base}/vendor`),
        probe.readText(`${base}/device`),
        probe.readText(`${base}/mem_info_vram_total`),
      ]);
      return parseDrmCard(card, vendor, device, vram);
    }),
  );
  return cards.filter((c) => c !== undefined);
}

/** One card from its sysfs attributes; undefined when it is not a GPU vendor's PCI device. */
export function parseDrmCard(
  card: string,
  vendorText: string | undefined,
  deviceText: string | undefined,
  vramText: string | undefined,
): DrmCard | undefined {
  const vendorId = hexId(vendorText), deviceId = hexId(deviceText);
  if (vendorId === undefined || deviceId === undefined) return undefined;
  const vendor = GPU_VENDORS[vendorId];
  if (vendor === undefined) return undefined;
  const vram = toInt(vramText);
  const out: DrmCard = { card, vendor, vendorId, deviceId };
  if (vram !== undefined && vram > 0) out.vramBytes = vram;
  return out;
}

/**
 * `lspci -mm -nn` lines to device names by "vendor:device" id, e.g.
 * `03:00.0 "VGA compatible controller [0300]" "Advanced Micro Devices, Inc. [AMD/ATI] [1002]"
 * "Navi 31 [Radeon RX 7900 XT/7900 XTX/7900M] [744c]" -rc8 ...` -> "1002:744c" ->
 * "Navi 31 [Radeon RX 7900 XT/7900 XTX/7900M]".
 */
export function parseLspci(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of (text ?? "").split("\n")) {
    const quoted = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    if (quoted.length < 3) continue;
    const vendor = quoted[1].match(/\[([0-9a-fA-F]{4})\]$/)?.[1];
    const device = quoted[2].match(/^(.*?)\s*\[([0-9a-fA-F]{4})\]$/);
    if (vendor === undefined || device === null) continue;
    const key = `${vendor.toLowerCase()}:${device[2].toLowerCase()}`;
    if (!out.has(key) && device[1] !== "") out.set(key, device[1]);
  }
  return out;
}

/** PCI device names from lspci; empty when lspci is missing or fails. */
export async function readPciNames(probe: Probe): Promise<Map<string, string>> {
  const out = await probe.run(LSPCI, LSPCI_ARGS);
  return out?.code === 0 ? parseLspci(out.stdout) : new Map();
}

/**
 * GpuInfo for DRM cards, indexed from `firstIndex`. NVIDIA cards seen only here have no
 * working CUDA driver (nvidia-smi did not list them), so they are not schedulable.
 */
export function drmGpus(
  cards: DrmCard[],
  names: Map<string, string>,
  firstIndex: number,
): GpuInfo[] {
  return cards.map((c, i) => {
    const vram = c.vramBytes;
    const bigEnough = vram !== undefined && vram >= MIN_SCHEDULABLE_VRAM_BYTES;
    return {
      index: firstIndex + i,
      vendor: c.vendor,
      model: names.get(`${c.vendorId}:${c.deviceId}`) ??
        `${VENDOR_NAMES[c.vendor]} GPU [${c.vendorId}:${c.deviceId}]`,
      memoryBytes: vram ?? 0,
      // An APU's small VRAM carve-out, or an Intel iGPU (i915 reports none), shares system RAM.
      integrated: vram === undefined ? c.vendor === "intel" : !bigEnough,
      schedulable: c.vendor !== "nvidia" && bigEnough,
    };
  });
}
