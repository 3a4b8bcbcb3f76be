// CPU architecture names as runtimes and kernels spell them, normalised to `uname -m` style.

import type { Arch } from "./types.ts";

const ALIASES: Record<string, Arch> = {
  x86_64: "x86_64",
  amd64: "x86_64",
  x64: "x86_64",
  aarch64: "aarch64",
  arm64: "aarch64",
  riscv64: "riscv64",
};

export function normaliseArch(name: string): Arch {
  const n = name.trim().toLowerCase();
  if (n in ALIASES) return ALIASES[n];
  // armv6l, armv7l, armhf, arm: 32-bit ARM.
  if (/^arm(v\d+\w*|hf|el)?$/.test(n)) return "arm";
  return "other";
}
