// collectProfile: every source read in parallel through one Probe, then put together.

import { readCpu } from "./cpuinfo.ts";
import { readDevice } from "./device.ts";
import { type DrmCard, drmGpus, readDrmCards, readPciNames } from "./drm_gpu.ts";
import { isJetson, jetsonGpu } from "./jetson.ts";
import { readMemory } from "./meminfo.ts";
import { readNetwork } from "./network.ts";
import { readNvidiaGpus } from "./nvidia_smi.ts";
import { readOs } from "./os_release.ts";
import { readPower } from "./power.ts";
import { readStorage } from "./storage.ts";
import { readTemperature } from "./thermal.ts";
import { detectVirtualization } from "./virtualization.ts";
import type { GpuInfo, HardwareProfile, Probe } from "./types.ts";

export async function collectProfile(probe: Probe): Promise<HardwareProfile> {
  const deviceRead = readDevice(probe);
  // A Jetson's GPU is described from the module; its nvidia-smi (JetPack 6) would list it twice.
  const nvidiaRead = deviceRead.then(({ device }) =>
    isJetson(device.tegraRelease, device.model) ? [] : readNvidiaGpus(probe)
  );
  const [
    cpuRead,
    memory,
    os,
    { device, dmi, compatible },
    storage,
    network,
    power,
    temperatureC,
    nvidia,
    drm,
  ] = await Promise.all([
    readCpu(probe),
    readMemory(probe),
    readOs(probe),
    deviceRead,
    readStorage(probe),
    readNetwork(probe),
    readPower(probe),
    readTemperature(probe),
    nvidiaRead,
    readDrmCards(probe),
  ]);

  // Raspberry Pi kernels print the board in cpuinfo too; it stands in for a missing device tree.
  if (device.model === undefined && cpuRead.boardModel !== undefined) {
    device.model = cpuRead.boardModel;
  }
  const virtualization = detectVirtualization(cpuRead.hypervisor, dmi);
  if (virtualization !== undefined) device.virtualization = virtualization;

  const jetson = jetsonGpu(device.tegraRelease, device.model, compatible, memory.totalBytes);
  const gpus = await collectGpus(probe, jetson ? [jetson] : nvidia, drm);

  const profile: HardwareProfile = {
    schema: 1,
    hostname: probe.hostname(),
    os: os.os,
    cpu: cpuRead.cpu,
    memory,
    gpus,
    storage,
    network,
    power,
    device,
  };
  if (os.kernel !== undefined) profile.kernel = os.kernel;
  if (temperatureC !== undefined) profile.temperatureC = temperatureC;
  return profile;
}

/**
 * The CUDA GPUs, then the DRM ones. An NVIDIA DRM card is counted only when no CUDA GPU was
 * found (nouveau, or a broken driver), so a GPU is never listed twice.
 */
async function collectGpus(probe: Probe, cuda: GpuInfo[], drm: DrmCard[]): Promise<GpuInfo[]> {
  const cards = drm.filter((c) => c.vendor !== "nvidia" || cuda.length === 0);
  if (cards.length === 0) return cuda;
  return [...cuda, ...drmGpus(cards, await readPciNames(probe), cuda.length)];
}
