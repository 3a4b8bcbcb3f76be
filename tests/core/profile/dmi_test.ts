import assert from "node:assert/strict";
import { chassisName, dmiString, parseDmi } from "../../../core/profile/dmi.ts";
import { detectVirtualization } from "../../../core/profile/virtualization.ts";
import { garbage } from "./_fixtures.ts";

Deno.test("chassis type numbers (SMBIOS)", () => {
  const cases: [string, string | undefined][] = [
    ["3\n", "Desktop"],
    ["8", "Portable"],
    ["9", "Laptop"],
    ["10", "Notebook"],
    ["14", "Sub Notebook"],
    ["17", "Main Server Chassis"],
    ["23", "Rack Mount Chassis"],
    ["28", "Blade"],
    ["31", "Convertible"],
    ["32", "Detachable"],
    ["35", "Mini PC"],
    ["151", "Rack Mount Chassis"], // 23 with the lock bit (0x80) set
    ["0", undefined],
    ["99", undefined],
    ["", undefined],
    ["Notebook", undefined],
  ];
  for (const [text, want] of cases) assert.equal(chassisName(text), want, text);
});

Deno.test("DMI placeholders are not names; product falls back to the board", () => {
  assert.equal(dmiString("To Be Filled By O.E.M.\n"), undefined);
  assert.equal(dmiString("Default string"), undefined);
  assert.equal(dmiString("  XPS 13 9310 \n"), "XPS 13 9310");
  assert.deepEqual(
    parseDmi({
      sys_vendor: "ASUS\n",
      product_name: "System Product Name\n",
      board_name: "ROG STRIX Z790-E GAMING WIFI\n",
      chassis_type: "3\n",
    }),
    {
      vendor: "ASUS",
      product: "ROG STRIX Z790-E GAMING WIFI",
      board: "ROG STRIX Z790-E GAMING WIFI",
      chassis: "Desktop",
    },
  );
  const g = parseDmi({ sys_vendor: garbage(10, 40), chassis_type: garbage(11, 3) });
  assert.equal(typeof (g.vendor ?? ""), "string");
  assert.deepEqual(parseDmi({}), {
    vendor: undefined,
    product: undefined,
    board: undefined,
    chassis: undefined,
  });
});

Deno.test("virtualization: the CPU flag is the proof, DMI names the hypervisor", () => {
  assert.equal(
    detectVirtualization(true, { vendor: "QEMU", product: "Standard PC (Q35 + ICH9, 2009)" }),
    "kvm",
  );
  assert.equal(
    detectVirtualization(true, { vendor: "VMware, Inc.", product: "VMware7,1" }),
    "vmware",
  );
  assert.equal(
    detectVirtualization(true, { vendor: "Microsoft Corporation", product: "Virtual Machine" }),
    "microsoft",
  );
  assert.equal(
    detectVirtualization(true, { vendor: "innotek GmbH", product: "VirtualBox" }),
    "oracle",
  );
  assert.equal(detectVirtualization(true, { vendor: "Amazon EC2", product: "m5.large" }), "amazon");
  assert.equal(detectVirtualization(true, {}), "unknown");
  // No flag (ARM guests have none): DMI of emulated hardware is enough…
  assert.equal(
    detectVirtualization(false, { vendor: "QEMU", product: "KVM Virtual Machine" }),
    "kvm",
  );
  // …but a bare-metal cloud instance is not a VM.
  assert.equal(
    detectVirtualization(false, { vendor: "Amazon EC2", product: "m5.metal" }),
    undefined,
  );
  assert.equal(
    detectVirtualization(false, { vendor: "Dell Inc.", product: "PowerEdge R750" }),
    undefined,
  );
});
