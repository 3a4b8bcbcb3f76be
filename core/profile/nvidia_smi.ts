// NVIDIA GPUs from `nvidia-smi --query-gpu=... --format=csv,noheader,nounits`.

import { MiB, toInt } from "./_text.ts";
import type { GpuInfo, Probe } from "./types.ts";

export const NVIDIA_SMI = "nvidia-smi";
export const NVIDIA_SMI_FIELDS = "index,name,memory.total,compute_cap,uuid";
/** Drivers before ~510 do not know compute_cap and refuse the whole query (exit 2). */
export const NVIDIA_SMI_FIELDS_OLD_DRIVER = "index,name,memory.total,uuid";

export function nvidiaSmiArgs(fields: string): string[] {
  return [`--query-gpu=${fields}`, "--format=csv,noheader,nounits"];
}

/**
 * CUDA compute capability by product name, for drivers too old to report it. First match
 * wins, so specific names come before the families that contain them. Source: NVIDIA's
 * "CUDA GPUs" table (developer.nvidia.com/cuda-gpus).
 */
const CAPABILITY_BY_NAME: [RegExp, string][] = [
  [/\b(GB200|B200|B100)\b/, "10.0"],
  [/\bRTX 50\d0\b|\bRTX PRO \d+ Blackwell\b/, "12.0"],
  [/\b(GH200|H100|H200|H800|H20)\b/, "9.0"],
  [/\b(L4|L20|L40S?)\b|\bRTX 40\d0\b|\bRTX \d+ Ada\b/, "8.9"],
  [/\b(A100|A800|A30)\b/, "8.0"],
  [/\b(A10G?|A16|A2|A40)\b|\bRTX 30\d0\b|\bRTX A\d{3,4}\b/, "8.6"],
  [/\bT4\b|\bRTX 20\d0\b|\bGTX 16\d0\b|\bQuadro RTX\b|\bTITAN RTX\b/, "7.5"],
  [/\bV100\b|\bTITAN V\b/, "7.0"],
  [/\bP100\b/, "6.0"],
  [/\b(P40|P4)\b|\bGTX 10\d0\b|\bTITAN Xp\b|\bTITAN X \(Pascal\)|\bQuadro P\d+\b/, "6.1"],
  [/\bK80\b/, "3.7"],
];

export function capabilityFromName(name: string): string | undefined {
  return CAPABILITY_BY_NAME.find(([re]) => re.test(name))?.[1];
}

/**
 * Parses CSV rows of `index, name, memory.total[, compute_cap], uuid` (memory in MiB). Rows
 * that do not have that shape (error messages nvidia-smi prints on stdout) are skipped.
 */
export function parseNvidiaSmiCsv(text: string | undefined, withCapability: boolean): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of (text ?? "").split("\n")) {
    const cols = line.split(",").map((c) => c.trim());
    if (cols.length !== (withCapability ? 5 : 4)) continue;
    const [indexText, name, memText] = cols;
    const index = toInt(indexText);
    if (index === undefined || index < 0 || name === "") continue;
    const capText = withCapability ? cols[3] : undefined;
    const uuid = cols[cols.length - 1];
    const gpu: GpuInfo = {
      index,
      vendor: "nvidia",
      model: name,
      // "[N/A]" on some boards (e.g. integrated Grace parts): unknown, not an error.
      memoryBytes: Math.max(0, toInt(memText) ?? 0) * MiB,
      integrated: false,
      schedulable: true,
    };
    const capability = capText !== undefined && /^\d+\.\d+$/.test(capText)
      ? capText
      : capabilityFromName(name);
    if (capability !== undefined) gpu.computeCapability = capability;
    if (/^(GPU|MIG)-[\w-]+$/.test(uuid)) gpu.uuid = uuid;
    gpus.push(gpu);
  }
  return gpus;
}

/** The NVIDIA GPUs nvidia-smi reports; [] when it is not installed or the driver is not loaded. */
export async function readNvidiaGpus(probe: Probe): Promise<GpuInfo[]> {
  const out = await probe.run(NVIDIA_SMI, nvidiaSmiArgs(NVIDIA_SMI_FIELDS));
  if (out === undefined) return [];
  if (out.code === 0) return parseNvidiaSmiCsv(out.stdout, true);
  const old = await probe.run(NVIDIA_SMI, nvidiaSmiArgs(NVIDIA_SMI_FIELDS_OLD_DRIVER));
  return old?.code === 0 ? parseNvidiaSmiCsv(old.stdout, false) : [];
}
