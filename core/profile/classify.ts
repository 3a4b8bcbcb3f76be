// The node class from a hardware profile: pure, so the scheduler and tests can call it freely.
// The rules, first match wins (docs/classification.md explains each):
//   1. Edge device: device-tree model "Raspberry Pi..." -> RaspberryPi; Jetson (L4T release file,
//      or "Jetson" in the model) -> Jetson; DMI product "NUC..." -> NUC.
//   2. Laptop: a system battery, or a portable DMI chassis (Portable, Laptop, Notebook,
//      Sub Notebook, Convertible, Detachable) -> Laptop{battery %, 0 if unknown}.
//   3. DataCenter: >= 2 schedulable GPUs, or a data-center GPU model (H100, A100, L4, T4,
//      Instinct MI...), or a server chassis (Rack Mount, Blade, Main Server, Multi-system), or
//      >= 32 threads with >= 120 GiB RAM (a 128 GiB machine) -> DataCenter{gpus, fastest Ethernet}.
//   4. Edge Other: ARM/RISC-V with <= 8 GiB RAM; <= 4 threads with <= 4 GiB RAM on any
//      architecture; or an embedded DMI chassis (IoT Gateway, Embedded PC, Stick PC).
//   5. Workstation{gpuCapable: any schedulable GPU}.

import { GiB } from "./_text.ts";
import type { EdgeDeviceType, HardwareProfile, NodeClass } from "./types.ts";

const LAPTOP_CHASSIS = new Set([
  "Portable",
  "Laptop",
  "Notebook",
  "Sub Notebook",
  "Convertible",
  "Detachable",
]);
const SERVER_CHASSIS = new Set([
  "Rack Mount Chassis",
  "Blade",
  "Blade Enclosure",
  "Main Server Chassis",
  "Multi-system chassis",
]);
const EMBEDDED_CHASSIS = new Set(["IoT Gateway", "Embedded PC", "Stick PC"]);

/**
 * GPUs sold only for servers (NVIDIA's data-center line, AMD Instinct). Word boundaries keep
 * "A10" from matching "RTX A1000" and "T4" from matching "T400".
 */
const DATACENTER_GPU =
  /\b(GB200|B200|B100|GH200|H100|H200|H800|H20|A100|A800|A30|A40|A16|A10G?|A2|L4|L20|L40S?|V100|P100|P40|K80|T4)\b|\bTesla\b|\bInstinct\b|\bMI\d{2,3}[A-Z]?\b/;

/** Threads and memory that make a machine a server on size alone. */
export const DATACENTER_MIN_THREADS = 32;
/** 128 GiB installed shows as ~125 GiB MemTotal (firmware and kernel reserve some). */
export const DATACENTER_MIN_MEMORY_BYTES = 120 * GiB;
export const EDGE_MAX_MEMORY_BYTES_ARM = 8 * GiB;
export const EDGE_MAX_THREADS = 4;
export const EDGE_MAX_MEMORY_BYTES = 4 * GiB;

export function isDataCenterGpu(model: string): boolean {
  return DATACENTER_GPU.test(model);
}

function edgeDevice(p: HardwareProfile): EdgeDeviceType | undefined {
  const { model, product, tegraRelease } = p.device;
  if (/^Raspberry Pi\b/i.test(model ?? "")) return "RaspberryPi";
  if (tegraRelease !== undefined || /\bJetson\b/i.test(model ?? "")) return "Jetson";
  if (/\bNUC/i.test(product ?? "")) return "NUC";
  return undefined;
}

export function classify(p: HardwareProfile): NodeClass {
  const deviceType = edgeDevice(p);
  if (deviceType !== undefined) return { kind: "Edge", deviceType };

  const chassis = p.device.chassis ?? "";
  if (p.power.hasBattery || LAPTOP_CHASSIS.has(chassis)) {
    return { kind: "Laptop", batteryLevel: p.power.batteryPercent ?? 0 };
  }

  const gpus = p.gpus.filter((g) => g.schedulable).length;
  if (
    gpus >= 2 || p.gpus.some((g) => isDataCenterGpu(g.model)) || SERVER_CHASSIS.has(chassis) ||
    (p.cpu.threads >= DATACENTER_MIN_THREADS &&
      p.memory.totalBytes >= DATACENTER_MIN_MEMORY_BYTES)
  ) {
    return { kind: "DataCenter", gpus, bandwidthMbps: fastestEthernetMbps(p) };
  }

  const mem = p.memory.totalBytes;
  const smallArch = ["aarch64", "arm", "riscv64"].includes(p.cpu.arch);
  if (
    (smallArch && mem <= EDGE_MAX_MEMORY_BYTES_ARM) ||
    (p.cpu.threads <= EDGE_MAX_THREADS && mem <= EDGE_MAX_MEMORY_BYTES) ||
    EMBEDDED_CHASSIS.has(chassis)
  ) {
    return { kind: "Edge", deviceType: "Other" };
  }
  return { kind: "Workstation", gpuCapable: gpus > 0 };
}

/**
 * The fastest up Ethernet link, 0 when none reports a speed. Virtual links are left out:
 * a veth or bridge claims 10 Gbit/s whatever the wire behind it.
 */
function fastestEthernetMbps(p: HardwareProfile): number {
  let max = 0;
  for (const nic of p.network) {
    if (nic.up && nic.kind === "ethernet") max = Math.max(max, nic.speedMbps ?? 0);
  }
  return max;
}

/** "Edge (RaspberryPi)", "DataCenter (8 GPUs, 100 Gbit/s)", "Laptop (battery 35%)", ... */
export function classLabel(c: NodeClass): string {
  switch (c.kind) {
    case "Edge":
      return `Edge (${c.deviceType})`;
    case "Laptop":
      return `Laptop (battery ${c.batteryLevel}%)`;
    case "Workstation":
      return c.gpuCapable ? "Workstation (GPU)" : "Workstation (no GPU)";
    case "DataCenter": {
      const parts = [c.gpus === 0 ? "no GPU" : c.gpus === 1 ? "1 GPU" : `${c.gpus} GPUs`];
      if (c.bandwidthMbps > 0) parts.push(formatMbps(c.bandwidthMbps));
      return `DataCenter (${parts.join(", ")})`;
    }
  }
}

function formatMbps(mbps: number): string {
  return mbps >= 1000 ? `${Math.round(mbps / 100) / 10} Gbit/s` : `${mbps} Mbit/s`;
}
