import assert from "node:assert/strict";
import { isDisk, readStorage, storageKind } from "../../../core/profile/storage.ts";
import { garbage, inlineProbe, loadRecord } from "./_fixtures.ts";

Deno.test("which block devices are disks", () => {
  for (const name of ["sda", "nvme0n1", "mmcblk0", "vda", "xvda", "hdb"]) {
    assert.ok(isDisk(name), name);
  }
  for (
    const name of [
      "loop0",
      "ram15",
      "zram0",
      "dm-0",
      "sr0",
      "md127",
      "nbd3",
      "mmcblk0boot0",
      "mmcblk1rpmb",
    ]
  ) assert.equal(isDisk(name), false, name);
});

Deno.test("storage kind", () => {
  assert.equal(storageKind("nvme0n1", "0", undefined), "nvme");
  assert.equal(storageKind("sda", "1\n", undefined), "hdd");
  assert.equal(storageKind("sda", "0\n", undefined), "ssd");
  assert.equal(storageKind("sda", undefined, undefined), "other");
  assert.equal(storageKind("mmcblk0", "0", "SD\n"), "sd");
  assert.equal(storageKind("mmcblk0", "0", "MMC\n"), "emmc");
  assert.equal(storageKind("mmcblk0", "0", undefined), "sd");
  assert.equal(storageKind("vda", "1", undefined), "other", "virtio says rotational for anything");
});

Deno.test("storage: fixtures", async () => {
  const pi = await readStorage(inlineProbe(await loadRecord("raspberry-pi-4")));
  assert.deepEqual(pi, [{
    name: "mmcblk0",
    kind: "sd",
    sizeBytes: 62333952 * 512,
    model: "SN32G",
  }]);

  const ws = await readStorage(inlineProbe(await loadRecord("workstation-rtx")));
  assert.deepEqual(ws.map((d) => [d.name, d.kind, d.model]), [
    ["nvme0n1", "nvme", "Samsung SSD 990 PRO 2TB"],
    ["sda", "hdd", "ST4000DM004-2CV1"],
  ]);

  const vm = await readStorage(inlineProbe(await loadRecord("cpu-only-vm")));
  assert.deepEqual(vm, [{ name: "vda", kind: "other", sizeBytes: 80 * 1024 ** 3 }]);
});

Deno.test("storage: empty card readers, garbage sizes, missing /sys/block", async () => {
  const probe = inlineProbe({
    dirs: { "/sys/block": ["sdb", "sdc", "sdd"] },
    files: {
      "/sys/block/sdb/size": "0\n",
      "/sys/block/sdc/size": garbage(4, 50),
      "/sys/block/sdd/size": "2048\n",
      "/sys/block/sdd/queue/rotational": garbage(5, 10),
    },
  });
  assert.deepEqual(await readStorage(probe), [{
    name: "sdd",
    kind: "other",
    sizeBytes: 1024 * 1024,
  }]);
  assert.deepEqual(await readStorage(inlineProbe({})), []);
});
