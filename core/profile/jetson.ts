// NVIDIA Jetson modules: the GPU is part of the Tegra SoC, shares system memory, and has no
// nvidia-smi on most L4T releases, so it is described from the module's identity.

import { clean } from "./_text.ts";
import type { GpuInfo } from "./types.ts";

export const TEGRA_RELEASE_PATH = "/etc/nv_tegra_release";

interface TegraGpu {
  /** Matches the device-tree model ("NVIDIA Jetson Xavier NX Developer Kit"). */
  model: RegExp;
  /** The SoC in the device-tree compatible list ("nvidia,tegra194"). */
  soc: string;
  name: string;
  capability: string;
}

/** Orin before Nano: "Jetson Orin Nano" is an Orin. Capabilities from NVIDIA's CUDA GPUs table. */
const TEGRA_GPUS: TegraGpu[] = [
  { model: /\bOrin\b/i, soc: "nvidia,tegra234", name: "NVIDIA Orin", capability: "8.7" },
  { model: /\bXavier\b/i, soc: "nvidia,tegra194", name: "NVIDIA Xavier", capability: "7.2" },
  { model: /\bTX2\b/i, soc: "nvidia,tegra186", name: "NVIDIA Tegra X2", capability: "6.2" },
  { model: /\b(Nano|TX1)\b/i, soc: "nvidia,tegra210", name: "NVIDIA Tegra X1", capability: "5.3" },
];

/** "# R32 (release), REVISION: 7.1, GCID: ..." -> its first line, or undefined. */
export function parseTegraRelease(text: string | undefined): string | undefined {
  return clean(clean(text)?.split("\n")[0]);
}

/** The device-tree compatible list ("a\0b\0c\0") as strings. */
export function parseCompatible(text: string | undefined): string[] {
  return (text ?? "").split("\0").map((s) => s.trim()).filter((s) => s !== "");
}

export function isJetson(tegraRelease: string | undefined, model: string | undefined): boolean {
  return tegraRelease !== undefined || /\bJetson\b/i.test(model ?? "");
}

/**
 * The Jetson's integrated GPU, or undefined when this is not a Jetson. It is always
 * schedulable: CUDA runs on it, with the system RAM as its memory.
 */
export function jetsonGpu(
  tegraRelease: string | undefined,
  model: string | undefined,
  compatible: string[],
  systemMemoryBytes: number,
): GpuInfo | undefined {
  if (!isJetson(tegraRelease, model)) return undefined;
  // The SoC is the surest sign; the model text covers device trees without it.
  const known = TEGRA_GPUS.find((g) => compatible.includes(g.soc)) ??
    TEGRA_GPUS.find((g) => g.model.test(model ?? ""));
  const gpu: GpuInfo = {
    index: 0,
    vendor: "nvidia",
    model: known?.name ?? "NVIDIA Tegra",
    memoryBytes: systemMemoryBytes,
    integrated: true,
    schedulable: true,
  };
  if (known !== undefined) gpu.computeCapability = known.capability;
  return gpu;
}
