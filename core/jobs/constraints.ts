// Placement constraints as people write them: one parser for `herd run --constraint K=V`
// and a job file's `constraints:` map.

import * as v from "valibot";
import { UsageError } from "../errors.ts";
import { parseSize } from "../units.ts";
import { NODE_CLASSES } from "../../plugins/sdk.ts";
import type { PlacementSchema } from "./job_protocol.ts";

type Placement = v.InferOutput<typeof PlacementSchema>;

/** The keys a placement constraint takes. */
export const CONSTRAINT_KEYS = [
  "arch",
  "class",
  "gpu-model",
  "gpu-mem",
  "compute-capability",
] as const;

/** What people type for an architecture, to what herd reports. */
export const ARCH_ALIASES: Readonly<Record<string, string>> = {
  x86_64: "x86_64",
  amd64: "x86_64",
  aarch64: "aarch64",
  arm64: "aarch64",
  arm: "arm",
  riscv64: "riscv64",
};

/**
 * One constraint as a user writes it (`arch` = `arm64`, `gpu-mem` = `40G`), as the placement
 * field it sets (`{ arch: "aarch64" }`, `{ gpuMemBytes: 42949672960 }`).
 * @param what names the value in errors: `--constraint arch`, `constraints.arch`.
 * @throws UsageError naming `what` and the value.
 */
export function parseConstraint(key: string, value: string, what: string): Partial<Placement> {
  switch (key) {
    case "arch": {
      const arch = ARCH_ALIASES[value.toLowerCase()] as Placement["arch"];
      if (!arch) {
        throw new UsageError(
          `${what}: one of ${Object.keys(ARCH_ALIASES).join(", ")}: got '${value}'`,
        );
      }
      return { arch };
    }
    case "class": {
      const cls = NODE_CLASSES.find((c) => c.toLowerCase() === value.toLowerCase());
      if (!cls) throw new UsageError(`${what}: one of ${NODE_CLASSES.join(", ")}: got '${value}'`);
      return { class: cls };
    }
    case "gpu-model":
      if (value.length === 0 || value.length > 64) {
        throw new UsageError(`${what} must be 1 to 64 characters: got '${value}'`);
      }
      return { gpuModel: value };
    case "gpu-mem":
      return { gpuMemBytes: parseSize(value, what) };
    case "compute-capability": {
      const n = Number(value);
      if (value.trim() === "" || !Number.isFinite(n) || n < 0) {
        throw new UsageError(`${what} must be a number >= 0: got '${value}'`);
      }
      if (n > 100) throw new UsageError(`${what} must be at most 100: got '${value}'`);
      return { gpuComputeCapability: n };
    }
    default:
      throw new UsageError(
        `${what}: unknown constraint '${key}' (${CONSTRAINT_KEYS.join(", ")})`,
      );
  }
}
