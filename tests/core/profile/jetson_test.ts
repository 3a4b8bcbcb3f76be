import assert from "node:assert/strict";
import {
  isJetson,
  jetsonGpu,
  parseCompatible,
  parseTegraRelease,
} from "../../../core/profile/jetson.ts";
import { GiB } from "./_fixtures.ts";

const R32 = "# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, " +
  "DATE: Sat Feb 19 17:05:08 UTC 2022\n# KERNEL_VARIANT: oot\n";

Deno.test("tegra release: first line", () => {
  assert.equal(
    parseTegraRelease(R32),
    "# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, " +
      "DATE: Sat Feb 19 17:05:08 UTC 2022",
  );
  assert.equal(parseTegraRelease(""), undefined);
  assert.equal(parseTegraRelease(undefined), undefined);
});

Deno.test("compatible list is NUL separated", () => {
  assert.deepEqual(parseCompatible("nvidia,p3450-0000\0nvidia,jetson-nano\0nvidia,tegra210\0"), [
    "nvidia,p3450-0000",
    "nvidia,jetson-nano",
    "nvidia,tegra210",
  ]);
  assert.deepEqual(parseCompatible(undefined), []);
});

Deno.test("Jetson GPUs by module", () => {
  const cases: [string, string[], string, string][] = [
    ["NVIDIA Jetson Nano Developer Kit", ["nvidia,tegra210"], "NVIDIA Tegra X1", "5.3"],
    ["NVIDIA Jetson Xavier NX Developer Kit", ["nvidia,tegra194"], "NVIDIA Xavier", "7.2"],
    ["Jetson-AGX", ["nvidia,p2972-0000", "nvidia,tegra194"], "NVIDIA Xavier", "7.2"],
    ["NVIDIA Jetson Orin Nano Developer Kit", ["nvidia,tegra234"], "NVIDIA Orin", "8.7"],
    ["NVIDIA Jetson Orin Nano Developer Kit", [], "NVIDIA Orin", "8.7"],
    ["quill", ["nvidia,tegra186"], "NVIDIA Tegra X2", "6.2"],
  ];
  for (const [model, compatible, name, cc] of cases) {
    const gpu = jetsonGpu(R32, model, compatible, 8 * GiB);
    assert.equal(gpu?.model, name, model);
    assert.equal(gpu?.computeCapability, cc, model);
    assert.equal(gpu?.memoryBytes, 8 * GiB);
    assert.equal(gpu?.integrated, true);
    assert.equal(gpu?.schedulable, true);
  }
});

Deno.test("not a Jetson: no tegra release, no Jetson in the model", () => {
  assert.equal(isJetson(undefined, "Raspberry Pi 4 Model B Rev 1.4"), false);
  assert.equal(jetsonGpu(undefined, "NVIDIA Shield TV", ["nvidia,tegra210"], GiB), undefined);
  assert.equal(isJetson(undefined, "NVIDIA Jetson Nano Developer Kit"), true);
  assert.equal(isJetson(R32, undefined), true);
});

Deno.test("an unknown Jetson still has a schedulable GPU, without a capability", () => {
  const gpu = jetsonGpu(R32, undefined, [], GiB);
  assert.equal(gpu?.model, "NVIDIA Tegra");
  assert.equal(gpu?.computeCapability, undefined);
  assert.equal(gpu?.schedulable, true);
});
