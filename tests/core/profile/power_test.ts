import assert from "node:assert/strict";
import { isSystemBattery, parseUevent, powerInfo, readPower } from "../../../core/profile/power.ts";
import { garbage, inlineProbe, loadRecord } from "./_fixtures.ts";

const ue = (lines: string[]) =>
  "DEVTYPE=power_supply\n" + lines.map((l) => `POWER_SUPPLY_${l}`).join("\n") + "\n";
const BAT = (status: string, capacity: number, extra: string[] = []) =>
  parseUevent(
    "BAT0",
    ue([
      "NAME=BAT0",
      "TYPE=Battery",
      `STATUS=${status}`,
      "PRESENT=1",
      `CAPACITY=${capacity}`,
      ...extra,
    ]),
  );
const AC = (online: 0 | 1) => parseUevent("AC", ue(["NAME=AC", "TYPE=Mains", `ONLINE=${online}`]));

Deno.test("uevent parsing", () => {
  const s = parseUevent(
    "BAT0",
    ue([
      "NAME=BAT0",
      "TYPE=Battery",
      "STATUS=Discharging",
      "PRESENT=1",
      "CHARGE_FULL=6262000",
      "CHARGE_NOW=2192000",
      "CAPACITY=35",
    ]),
  );
  assert.deepEqual(s, {
    name: "BAT0",
    type: "Battery",
    scope: undefined,
    online: undefined,
    present: true,
    status: "Discharging",
    capacity: 35,
    now: 2192000,
    full: 6262000,
  });
});

Deno.test("power: laptop unplugged at 35 % (the mouse's battery does not count)", async () => {
  const info = await readPower(inlineProbe(await loadRecord("laptop-battery")));
  assert.deepEqual(info, {
    source: "battery",
    hasBattery: true,
    batteryPercent: 35,
    charging: false,
  });
});

Deno.test("power: the rules", () => {
  assert.deepEqual(powerInfo([AC(1), BAT("Charging", 80)]), {
    source: "ac",
    hasBattery: true,
    batteryPercent: 80,
    charging: true,
  });
  // A battery held at a charge threshold on AC says "Not charging"; a full one "Full".
  assert.equal(powerInfo([BAT("Not charging", 80)]).source, "ac");
  assert.equal(powerInfo([BAT("Full", 100)]).source, "ac");
  assert.equal(powerInfo([AC(0), BAT("Discharging", 50)]).source, "battery");
  // The AC adapter says online while the battery is still reported discharging: trust the adapter.
  assert.equal(powerInfo([AC(1), BAT("Discharging", 50)]).source, "ac");
  assert.equal(powerInfo([BAT("Unknown", 50)]).source, "unknown");
  assert.deepEqual(powerInfo([]), { source: "ac", hasBattery: false });
  assert.deepEqual(powerInfo(undefined), { source: "unknown", hasBattery: false });
  const usbC = parseUevent("ucsi", ue(["TYPE=USB", "ONLINE=1"]));
  assert.equal(powerInfo([usbC, BAT("Discharging", 50)]).source, "ac");
});

Deno.test("power: peripherals and empty bays are not system batteries", () => {
  const mouse = parseUevent(
    "hidpp_battery_0",
    ue(["TYPE=Battery", "SCOPE=Device", "ONLINE=1", "STATUS=Discharging"]),
  );
  const emptyBay = parseUevent("BAT1", ue(["TYPE=Battery", "PRESENT=0"]));
  assert.equal(isSystemBattery(mouse), false);
  assert.equal(isSystemBattery(emptyBay), false);
  assert.deepEqual(powerInfo([mouse, emptyBay]), { source: "ac", hasBattery: false });
});

Deno.test("power: two batteries give the charge left over the total (ThinkPad T480)", () => {
  const internal = parseUevent(
    "BAT0",
    ue([
      "TYPE=Battery",
      "STATUS=Discharging",
      "ENERGY_FULL=23000000",
      "ENERGY_NOW=23000000",
      "CAPACITY=100",
    ]),
  );
  const external = parseUevent(
    "BAT1",
    ue(["TYPE=Battery", "STATUS=Unknown", "ENERGY_FULL=69000000", "ENERGY_NOW=0", "CAPACITY=0"]),
  );
  assert.equal(powerInfo([internal, external]).batteryPercent, 25);
  const noEnergy = parseUevent("BAT1", ue(["TYPE=Battery", "CAPACITY=50"]));
  assert.equal(powerInfo([internal, noEnergy]).batteryPercent, 75);
});

Deno.test("power: garbage uevents never throw", () => {
  for (let seed = 1; seed < 20; seed++) {
    const info = powerInfo([parseUevent("x", garbage(seed, 500)), parseUevent("y", undefined)]);
    assert.ok(["ac", "battery", "unknown"].includes(info.source));
  }
  assert.equal(parseUevent("BAT0", ue(["TYPE=Battery", "CAPACITY=250"])).capacity, 100);
});
