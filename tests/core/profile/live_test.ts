import assert from "node:assert/strict";
import { liveLoad, parseLoad1 } from "../../../core/profile/live.ts";
import { LiveProbe, RecordingProbe } from "../../../core/profile/probe.ts";
import { garbage, inlineProbe, loadRecord } from "./_fixtures.ts";

Deno.test("loadavg", () => {
  assert.equal(parseLoad1("0.18 0.14 0.06 1/80 3478\n"), 0.18);
  assert.equal(parseLoad1("12.50 9.00 3.10 5/900 1\n"), 12.5);
  for (const bad of [undefined, "", "x y z", "-1 0 0", garbage(13, 40)]) {
    assert.equal(parseLoad1(bad), undefined, String(bad));
  }
});

Deno.test("liveLoad: laptop on battery", async () => {
  const r = await loadRecord("laptop-battery");
  r.files["/proc/loadavg"] = "1.52 0.98 0.61 3/1204 88123\n";
  const load = await liveLoad(inlineProbe(r));
  assert.deepEqual(load, {
    memAvailableBytes: 9804112 * 1024,
    load1: 1.52,
    batteryPercent: 35,
    onBattery: true,
    temperatureC: 51,
  });
});

Deno.test("liveLoad: nothing readable is still a value", async () => {
  assert.deepEqual(await liveLoad(inlineProbe({})), {
    memAvailableBytes: 0,
    load1: 0,
    onBattery: false,
  });
});

Deno.test("liveLoad spawns no command and reads this machine", async () => {
  const rec = new RecordingProbe(new LiveProbe());
  const load = await liveLoad(rec);
  assert.deepEqual(rec.record().commands, {});
  if (Deno.build.os === "linux") {
    assert.ok(load.memAvailableBytes > 0);
    assert.ok(load.load1 >= 0);
  }
});
