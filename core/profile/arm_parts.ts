// ARM "CPU implementer" / "CPU part" codes from /proc/cpuinfo to names. ARM kernels print
// only these codes (no "model name" on most aarch64 kernels). Source: the MIDR values in
// Linux arch/arm64/include/asm/cputype.h and the vendors' technical reference manuals.

export const ARM_IMPLEMENTERS: Record<string, string> = {
  "0x41": "ARM",
  "0x42": "Broadcom",
  "0x43": "Cavium",
  "0x46": "Fujitsu",
  "0x48": "HiSilicon",
  "0x4e": "NVIDIA",
  "0x50": "APM",
  "0x51": "Qualcomm",
  "0x61": "Apple",
  "0xc0": "Ampere",
};

/** Parts by implementer, then part code. */
export const ARM_PARTS: Record<string, Record<string, string>> = {
  "0x41": {
    "0xb76": "ARM1176",
    "0xc07": "Cortex-A7",
    "0xc09": "Cortex-A9",
    "0xc0f": "Cortex-A15",
    "0xd03": "Cortex-A53",
    "0xd04": "Cortex-A35",
    "0xd05": "Cortex-A55",
    "0xd07": "Cortex-A57",
    "0xd08": "Cortex-A72",
    "0xd09": "Cortex-A73",
    "0xd0a": "Cortex-A75",
    "0xd0b": "Cortex-A76",
    "0xd0c": "Neoverse-N1",
    "0xd0d": "Cortex-A77",
    "0xd40": "Neoverse-V1",
    "0xd41": "Cortex-A78",
    "0xd42": "Cortex-A78AE",
    "0xd44": "Cortex-X1",
    "0xd46": "Cortex-A510",
    "0xd47": "Cortex-A710",
    "0xd48": "Cortex-X2",
    "0xd49": "Neoverse-N2",
    "0xd4b": "Cortex-A78C",
    "0xd4d": "Cortex-A715",
    "0xd4e": "Cortex-X3",
    "0xd4f": "Neoverse-V2",
    "0xd80": "Cortex-A520",
    "0xd81": "Cortex-A720",
    "0xd82": "Cortex-X4",
    "0xd84": "Neoverse-V3",
    "0xd8e": "Neoverse-N3",
  },
  "0x4e": { "0x004": "Carmel" },
  "0x51": { "0x800": "Kryo 2xx Gold", "0x801": "Kryo 2xx Silver", "0x001": "Oryon" },
  "0x61": { "0x022": "M1 Icestorm", "0x023": "M1 Firestorm" },
  "0xc0": { "0xac3": "Ampere-1", "0xac4": "Ampere-1a" },
};

/** "Cortex-A72" for (0x41, 0xd08); undefined for codes not in the table. */
export function armPartName(implementer: string, part: string): string | undefined {
  return ARM_PARTS[implementer.toLowerCase()]?.[part.toLowerCase()];
}
