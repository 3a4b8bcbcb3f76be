// Which hypervisor, if any, this kernel runs under.

import type { Dmi } from "./dmi.ts";

/** DMI vendor/product patterns of virtual hardware, named as systemd-detect-virt names them. */
const HYPERVISORS: [RegExp, string][] = [
  [/\b(QEMU|KVM)\b/i, "kvm"],
  [/VMware/i, "vmware"],
  [/VirtualBox|innotek/i, "oracle"],
  [/Microsoft Corporation.*Virtual Machine/i, "microsoft"],
  [/\bXen\b/i, "xen"],
  [/Parallels/i, "parallels"],
  [/Amazon EC2/i, "amazon"],
  [/Google Compute Engine/i, "google"],
  [/\bBHYVE\b/i, "bhyve"],
];

/**
 * The hypervisor's name, or undefined on bare metal. The x86 `hypervisor` CPU flag is the
 * proof (DMI names it); without the flag, DMI alone decides only for hardware that exists
 * solely as emulation (QEMU, VMware, VirtualBox, ...), so a bare-metal cloud instance whose DMI
 * says "Amazon EC2" is not taken for a VM. "unknown" when the flag is set but DMI is silent.
 */
export function detectVirtualization(hypervisorFlag: boolean, dmi: Dmi): string | undefined {
  const text = `${dmi.vendor ?? ""} ${dmi.product ?? ""}`;
  const named = HYPERVISORS.find(([re]) => re.test(text))?.[1];
  if (hypervisorFlag) return named ?? "unknown";
  return named !== undefined && !["amazon", "google"].includes(named) ? named : undefined;
}
