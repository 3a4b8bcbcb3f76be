// The CPU from /proc/cpuinfo (x86 and ARM layouts) and cpufreq.

import { ARM_IMPLEMENTERS, armPartName } from "./arm_parts.ts";
import { normaliseArch } from "./arch.ts";
import { clean, toFloat, toInt } from "./_text.ts";
import type { CpuInfo, Probe } from "./types.ts";

export const CPUINFO_PATH = "/proc/cpuinfo";
/** kHz; present where the cpufreq driver runs (not in most VMs). */
export const CPU_MAX_FREQ_PATH = "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq";
/** "0-3": the fallback count of logical CPUs when cpuinfo is unreadable. */
export const CPU_ONLINE_PATH = "/sys/devices/system/cpu/online";

/** What cpuinfo says, beyond CpuInfo's fields. */
export interface CpuinfoFacts {
  model: string;
  vendor: string;
  /** `processor` entries; 0 when there are none. */
  threads: number;
  /** Distinct (physical id, core id) pairs; equal to threads when the kernel does not say. */
  cores: number;
  /** Highest "cpu MHz" (current clock, x86 only); 0 when absent. */
  mhz: number;
  /** The x86 `hypervisor` flag: this kernel runs in a virtual machine. */
  hypervisor: boolean;
  /** Raspberry Pi kernels print the board ("Model : Raspberry Pi 4 Model B Rev 1.4"). */
  boardModel?: string;
  /** ARM "Hardware" line (e.g. "BCM2835", which Pi kernels print for every SoC). */
  hardware?: string;
}

const X86_VENDORS: Record<string, string> = {
  GenuineIntel: "Intel",
  AuthenticAMD: "AMD",
  HygonGenuine: "Hygon",
  CentaurHauls: "Centaur",
  Shanghai: "Zhaoxin",
};

/** `key : value` lines of one blank-line separated block; the first occurrence wins. */
function fields(block: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of block.split("\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim();
    if (key !== "" && !out.has(key)) out.set(key, line.slice(colon + 1).trim());
  }
  return out;
}

export function parseCpuinfo(text: string | undefined): CpuinfoFacts {
  const blocks = (text ?? "").split(/\n[ \t]*\n/).map(fields);
  const cpus = blocks.filter((b) => toInt(b.get("processor")) !== undefined);
  const global = (key: string) => {
    for (const b of blocks) if (b.get(key)) return b.get(key);
    return undefined;
  };

  const coreIds = new Set<string>();
  let mhz = 0;
  for (const b of cpus) {
    const pkg = b.get("physical id"), core = b.get("core id");
    if (pkg !== undefined && core !== undefined) coreIds.add(`${pkg}:${core}`);
    mhz = Math.max(mhz, toFloat(b.get("cpu MHz")) ?? 0);
  }
  const flags = (global("flags") ?? "").split(/\s+/);
  const { model, vendor } = identify(cpus.length > 0 ? cpus : blocks);
  return {
    model,
    vendor,
    threads: cpus.length,
    cores: coreIds.size > 0 ? coreIds.size : cpus.length,
    mhz: Math.round(mhz),
    hypervisor: flags.includes("hypervisor"),
    boardModel: clean(global("Model")),
    hardware: clean(global("Hardware")),
  };
}

/** Model and vendor: x86 names itself; ARM gives implementer/part codes (several for big.LITTLE). */
function identify(cpus: Map<string, string>[]): { model: string; vendor: string } {
  const first = (key: string) => cpus.find((b) => b.get(key))?.get(key);
  const modelName = first("model name")?.replace(/\s+/g, " ");
  const implementer = first("CPU implementer")?.toLowerCase();
  if (implementer !== undefined) {
    const parts: string[] = [];
    for (const b of cpus) {
      const name = armPartName(implementer, b.get("CPU part") ?? "");
      if (name !== undefined && !parts.includes(name)) parts.push(name);
    }
    return {
      model: parts.length > 0 ? parts.join(" + ") : modelName ?? "unknown",
      vendor: ARM_IMPLEMENTERS[implementer] ?? "unknown",
    };
  }
  const vendorId = first("vendor_id");
  const riscv = first("uarch"); // "sifive,u74-mc"
  return {
    model: modelName ?? riscv ?? first("cpu") ?? "unknown",
    vendor: (vendorId !== undefined ? X86_VENDORS[vendorId] ?? vendorId.trim() : undefined) ??
      riscv?.split(",")[0] ?? "unknown",
  };
}

/** cpuinfo_max_freq (kHz) in MHz, or undefined. */
export function parseMaxFreqKHz(text: string | undefined): number | undefined {
  const khz = toInt(text);
  return khz !== undefined && khz > 0 ? Math.round(khz / 1000) : undefined;
}

/** Counts the CPUs of a kernel cpu list such as "0-3,6,8-9"; undefined when unparseable. */
export function countCpuList(text: string | undefined): number | undefined {
  const t = clean(text);
  if (t === undefined) return undefined;
  let n = 0;
  for (const part of t.split(",")) {
    const m = part.trim().match(/^(\d+)(?:-(\d+))?$/);
    if (!m) return undefined;
    const lo = Number(m[1]), hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) return undefined;
    n += hi - lo + 1;
  }
  return n > 0 ? n : undefined;
}

export interface CpuReading {
  cpu: CpuInfo;
  hypervisor: boolean;
  boardModel?: string;
}

export async function readCpu(probe: Probe): Promise<CpuReading> {
  const [cpuinfo, maxFreq, online] = await Promise.all([
    probe.readText(CPUINFO_PATH),
    probe.readText(CPU_MAX_FREQ_PATH),
    probe.readText(CPU_ONLINE_PATH),
  ]);
  const facts = parseCpuinfo(cpuinfo);
  // The scheduler counts threads: never report fewer than one CPU.
  const threads = facts.threads || countCpuList(online) || 1;
  return {
    cpu: {
      model: facts.model,
      vendor: facts.vendor,
      arch: normaliseArch(probe.arch),
      cores: Math.min(facts.cores || threads, threads),
      threads,
      mhz: parseMaxFreqKHz(maxFreq) ?? facts.mhz,
    },
    hypervisor: facts.hypervisor,
    boardModel: facts.boardModel,
  };
}
