import assert from "node:assert/strict";
import {
  capabilityFromName,
  NVIDIA_SMI_FIELDS,
  NVIDIA_SMI_FIELDS_OLD_DRIVER,
  nvidiaSmiArgs,
  parseNvidiaSmiCsv,
  readNvidiaGpus,
} from "../../../core/profile/nvidia_smi.ts";
import { garbage, GiB, inlineProbe } from "./_fixtures.ts";

const key = (fields: string) => ["nvidia-smi", ...nvidiaSmiArgs(fields)].join(" ");

Deno.test("nvidia-smi CSV with compute_cap", () => {
  const csv = "0, NVIDIA H100 80GB HBM3, 81559, 9.0, GPU-3b1c8e5a-7f20-4d9e-b1a6-0c2f94e7d351\n" +
    "1, NVIDIA H100 80GB HBM3, 81559, 9.0, GPU-8d4e2f17-9a3b-4c6d-a5e1-72b0f3c9e482\n";
  const gpus = parseNvidiaSmiCsv(csv, true);
  assert.equal(gpus.length, 2);
  assert.deepEqual(gpus[1], {
    index: 1,
    vendor: "nvidia",
    model: "NVIDIA H100 80GB HBM3",
    memoryBytes: 81559 * 1024 * 1024,
    computeCapability: "9.0",
    uuid: "GPU-8d4e2f17-9a3b-4c6d-a5e1-72b0f3c9e482",
    integrated: false,
    schedulable: true,
  });
  assert.ok(gpus[0].memoryBytes > 79 * GiB);
});

Deno.test("nvidia-smi CSV: [N/A] fields and error lines", () => {
  const text = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n" +
    "0, NVIDIA GH200 480GB, [N/A], [N/A], [N/A]\n" +
    "x, bad, 1, 2, 3\n";
  const gpus = parseNvidiaSmiCsv(text, true);
  assert.equal(gpus.length, 1);
  assert.equal(gpus[0].memoryBytes, 0);
  assert.equal(gpus[0].computeCapability, "9.0", "from the name table");
  assert.equal(gpus[0].uuid, undefined);
});

Deno.test("capability from the product name, for old drivers", () => {
  const cases: [string, string | undefined][] = [
    ["NVIDIA H100 PCIe", "9.0"],
    ["NVIDIA A100-SXM4-80GB", "8.0"],
    ["NVIDIA A10G", "8.6"],
    ["NVIDIA GeForce RTX 4090", "8.9"],
    ["NVIDIA RTX 6000 Ada Generation", "8.9"],
    ["NVIDIA GeForce RTX 3090 Ti", "8.6"],
    ["NVIDIA RTX A6000", "8.6"],
    ["NVIDIA L40S", "8.9"],
    ["Tesla V100-SXM2-32GB", "7.0"],
    ["Tesla T4", "7.5"],
    ["Quadro T400", undefined],
    ["NVIDIA GeForce GTX 1080 Ti", "6.1"],
    ["NVIDIA GeForce RTX 2080 SUPER", "7.5"],
    ["Tesla K80", "3.7"],
    ["Some Future GPU", undefined],
  ];
  for (const [name, want] of cases) assert.equal(capabilityFromName(name), want, name);
});

Deno.test("readNvidiaGpus: not installed → no GPUs, no retry", async () => {
  assert.deepEqual(await readNvidiaGpus(inlineProbe({})), []);
});

Deno.test("readNvidiaGpus: old driver refuses compute_cap, retried without it", async () => {
  const probe = inlineProbe({
    commands: {
      [key(NVIDIA_SMI_FIELDS)]: {
        code: 2,
        stdout: 'Field "compute_cap" is not a valid field to query.\n\n',
      },
      [key(NVIDIA_SMI_FIELDS_OLD_DRIVER)]: {
        code: 0,
        stdout: "0, Tesla V100-SXM2-16GB, 16160, GPU-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b\n",
      },
    },
  });
  const gpus = await readNvidiaGpus(probe);
  assert.equal(gpus.length, 1);
  assert.equal(gpus[0].computeCapability, "7.0");
  assert.equal(gpus[0].uuid, "GPU-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b");
});

Deno.test("readNvidiaGpus: driver not loaded (exit 9) → no GPUs", async () => {
  const failed = { code: 9, stdout: "NVIDIA-SMI has failed because it couldn't communicate...\n" };
  const probe = inlineProbe({
    commands: { [key(NVIDIA_SMI_FIELDS)]: failed, [key(NVIDIA_SMI_FIELDS_OLD_DRIVER)]: failed },
  });
  assert.deepEqual(await readNvidiaGpus(probe), []);
});

Deno.test("nvidia-smi CSV: garbage never throws", () => {
  for (let seed = 1; seed < 20; seed++) {
    for (const gpu of parseNvidiaSmiCsv(garbage(seed, 2000), seed % 2 === 0)) {
      assert.ok(gpu.index >= 0 && gpu.memoryBytes >= 0);
    }
  }
  assert.deepEqual(parseNvidiaSmiCsv(undefined, true), []);
});
