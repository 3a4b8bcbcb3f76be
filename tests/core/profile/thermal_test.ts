import assert from "node:assert/strict";
import { hottest, parseMillidegrees, readTemperature } from "../../../core/profile/thermal.ts";
import { garbage, inlineProbe, loadRecord } from "./_fixtures.ts";

Deno.test("millidegrees: plausible readings only", () => {
  assert.equal(parseMillidegrees("48686\n"), 48.7);
  assert.equal(parseMillidegrees("150000"), 150);
  for (const bad of ["0", "-40000", "150001", "255000", "", undefined, garbage(9, 10)]) {
    assert.equal(parseMillidegrees(bad), undefined, String(bad));
  }
});

Deno.test("hottest zone; Tegra's PMIC-Die placeholder (always 100 °C) ignored", () => {
  assert.equal(
    hottest([{ type: "a", celsius: 40 }, { type: "b", celsius: 55.5 }, { type: "c" }]),
    55.5,
  );
  assert.equal(
    hottest([{ type: "PMIC-Die", celsius: 100 }, { type: "CPU-therm", celsius: 34 }]),
    34,
  );
  assert.equal(hottest([]), undefined);
});

Deno.test("temperature: fixtures", async () => {
  assert.equal(await readTemperature(inlineProbe(await loadRecord("raspberry-pi-4"))), 48.7);
  assert.equal(await readTemperature(inlineProbe(await loadRecord("jetson-nano"))), 36.5);
  assert.equal(
    await readTemperature(inlineProbe(await loadRecord("intel-nuc"))),
    45,
    "iwlwifi unreadable",
  );
  assert.equal(await readTemperature(inlineProbe(await loadRecord("cpu-only-vm"))), undefined);
  assert.equal(await readTemperature(inlineProbe({})), undefined);
});
