// Block devices from /sys/block: the disks a job could use, not the kernel's virtual ones.

import { clean, naturalCompare, toInt } from "./_text.ts";
import type { Probe, StorageDevice, StorageKind } from "./types.ts";

export const BLOCK_DIR = "/sys/block";
/** /sys/block/*\/size counts 512-byte sectors whatever the device's real sector size. */
export const SECTOR_BYTES = 512;

/**
 * Not disks: loop files, RAM disks, compressed swap, device-mapper and md layers (their
 * members are listed already), optical drives, network block devices, floppies, and the eMMC
 * boot/RPMB partitions that show up as devices of their own.
 */
const NOT_A_DISK = /^(loop|ram|zram|dm-|sr|md|nbd|fd)\d*|^mmcblk\d+(boot\d+|rpmb)$/;

export function isDisk(name: string): boolean {
  return !NOT_A_DISK.test(name);
}

/**
 * The kind of one disk. A virtio/Xen disk's `rotational` flag says nothing about what backs
 * it (virtio-blk reports 1 by default), so those are "other".
 */
export function storageKind(
  name: string,
  rotational: string | undefined,
  mmcType: string | undefined,
): StorageKind {
  if (/^nvme/.test(name)) return "nvme";
  if (/^mmcblk/.test(name)) return clean(mmcType) === "MMC" ? "emmc" : "sd";
  if (/^x?vd[a-z]/.test(name)) return "other";
  const r = clean(rotational);
  return r === "1" ? "hdd" : r === "0" ? "ssd" : "other";
}

export async function readStorage(probe: Probe): Promise<StorageDevice[]> {
  const names = (await probe.list(BLOCK_DIR) ?? []).filter(isDisk).sort(naturalCompare);
  const devices = await Promise.all(names.map(async (name): Promise<StorageDevice | undefined> => {
    const base = `${BLOCK_DIR}/${name}`;
    const mmc = name.startsWith("mmcblk");
    const [size, rotational, model, mmcType, mmcName] = await Promise.all([
      probe.readText(`${base}/size`),
      probe.readText(`${base}/queue/rotational`),
      probe.readText(`${base}/device/model`),
      mmc ? probe.readText(`${base}/device/type`) : undefined,
      // MMC cards have no `model`; their CID product name is `name` ("SN32G").
      mmc ? probe.readText(`${base}/device/name`) : undefined,
    ]);
    const sectors = toInt(size);
    // An empty card reader or a detached device reports 0 sectors.
    if (sectors === undefined || sectors <= 0) return undefined;
    const device: StorageDevice = {
      name,
      kind: storageKind(name, rotational, mmcType),
      sizeBytes: sectors * SECTOR_BYTES,
    };
    const m = clean(model) ?? clean(mmcName);
    if (m !== undefined) device.model = m.replace(/\s+/g, " ");
    return device;
  }));
  return devices.filter((d) => d !== undefined);
}
