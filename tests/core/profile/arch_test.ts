import assert from "node:assert/strict";
import { normaliseArch } from "../../../core/profile/arch.ts";

Deno.test("normaliseArch", () => {
  const cases: [string, string][] = [
    ["x86_64", "x86_64"],
    ["amd64", "x86_64"],
    ["aarch64", "aarch64"],
    ["arm64", "aarch64"],
    ["ARM64", "aarch64"],
    ["armv7l", "arm"],
    ["armv6l", "arm"],
    ["armhf", "arm"],
    ["riscv64", "riscv64"],
    ["s390x", "other"],
    ["", "other"],
  ];
  for (const [input, want] of cases) assert.equal(normaliseArch(input), want, input);
});
