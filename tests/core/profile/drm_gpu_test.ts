import assert from "node:assert/strict";
import { drmGpus, parseDrmCard, parseLspci, readDrmCards } from "../../../core/profile/drm_gpu.ts";
import { garbage, GiB, inlineProbe, loadRecord } from "./_fixtures.ts";

const LSPCI = [
  `00:02.0 "VGA compatible controller [0300]" "Intel Corporation [8086]" ` +
  `"TigerLake-LP GT2 [Iris Xe Graphics] [9a49]" -r01 "Intel Corporation [8086]" "Device [3004]"`,
  `03:00.0 "VGA compatible controller [0300]" "Advanced Micro Devices, Inc. [AMD/ATI] [1002]" ` +
  `"Navi 31 [Radeon RX 7900 XT/7900 XTX/7900M] [744c]" -rc8 "Sapphire Technology Limited [1da2]" ` +
  `"Device [471e]"`,
  `04:00.0 "Non-Volatile memory controller [0108]" "Samsung Electronics Co Ltd [144d]" ` +
  `"NVMe SSD Controller S4LV008[Pascal] [a80c]" -p02 "Samsung Electronics Co Ltd [144d]" "Device [a801]"`,
].join("\n");

Deno.test("lspci -mm -nn: names by vendor:device", () => {
  const names = parseLspci(LSPCI);
  assert.equal(names.get("8086:9a49"), "TigerLake-LP GT2 [Iris Xe Graphics]");
  assert.equal(names.get("1002:744c"), "Navi 31 [Radeon RX 7900 XT/7900 XTX/7900M]");
  assert.equal(names.get("144d:a80c"), "NVMe SSD Controller S4LV008[Pascal]");
  assert.equal(parseLspci(garbage(3, 4000)).size >= 0, true);
  assert.equal(parseLspci(undefined).size, 0);
});

Deno.test("DRM cards: only AMD, Intel and NVIDIA PCI devices", () => {
  assert.deepEqual(parseDrmCard("card0", "0x1002\n", "0x744c\n", "25753026560\n"), {
    card: "card0",
    vendor: "amd",
    vendorId: "1002",
    deviceId: "744c",
    vramBytes: 25753026560,
  });
  // QEMU std VGA (bochs), virtio-gpu, Cirrus, ASPEED and Matrox BMCs, SoC display engines.
  for (
    const [vendor, device] of [
      ["0x1234", "0x1111"],
      ["0x1af4", "0x1050"],
      ["0x1013", "0x00b8"],
      [
        "0x1a03",
        "0x2000",
      ],
      ["0x102b", "0x0536"],
      [undefined, undefined],
    ]
  ) {
    assert.equal(parseDrmCard("card0", vendor, device, undefined), undefined, vendor);
  }
  assert.equal(parseDrmCard("card0", "garbage", "0x1", undefined), undefined);
});

Deno.test("DRM GPUs: schedulable only with >= 1 GiB VRAM; NVIDIA here has no CUDA driver", () => {
  const names = parseLspci(LSPCI);
  const gpus = drmGpus(
    [
      { card: "card0", vendor: "amd", vendorId: "1002", deviceId: "744c", vramBytes: 24 * GiB },
      {
        card: "card1",
        vendor: "amd",
        vendorId: "1002",
        deviceId: "15bf",
        vramBytes: 512 * 1024 ** 2,
      },
      { card: "card2", vendor: "intel", vendorId: "8086", deviceId: "9a49" },
      { card: "card3", vendor: "nvidia", vendorId: "10de", deviceId: "2684" },
    ],
    names,
    1,
  );
  assert.deepEqual(gpus.map((g) => [g.index, g.model, g.integrated, g.schedulable]), [
    [1, "Navi 31 [Radeon RX 7900 XT/7900 XTX/7900M]", false, true],
    [2, "AMD GPU [1002:15bf]", true, false],
    [3, "TigerLake-LP GT2 [Iris Xe Graphics]", true, false],
    [4, "NVIDIA GPU [10de:2684]", false, false],
  ]);
  assert.equal(gpus[0].computeCapability, undefined);
});

Deno.test("readDrmCards: the VM's bochs adapter is not a GPU", async () => {
  const r = await loadRecord("cpu-only-vm");
  assert.deepEqual(await readDrmCards(inlineProbe(r)), []);
});

Deno.test("readDrmCards: server BMC skipped, NVIDIA cards kept for dedup, in card order", async () => {
  const cards = await readDrmCards(inlineProbe(await loadRecord("server-8xh100")));
  assert.equal(cards.length, 8);
  assert.ok(cards.every((c) => c.vendor === "nvidia"));
  assert.deepEqual(cards.map((c) => c.card), [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `card${i}`));
});
