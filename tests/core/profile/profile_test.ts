import assert from "node:assert/strict";
import { LiveProbe } from "../../../core/profile/probe.ts";
import { collectProfile } from "../../../core/profile/profile.ts";
import type { HardwareProfile } from "../../../core/profile/types.ts";
import { fixtureProbe, GiB } from "./_fixtures.ts";

const schedulable = (p: HardwareProfile) => p.gpus.filter((g) => g.schedulable);

Deno.test("profile: Raspberry Pi 4", async () => {
  const p = await collectProfile(await fixtureProbe("raspberry-pi-4"));
  assert.equal(p.hostname, "raspberrypi");
  assert.equal(p.os, "Debian GNU/Linux 12 (bookworm)");
  assert.equal(p.kernel, "6.6.31+rpt-rpi-v8");
  assert.deepEqual(p.cpu, {
    model: "Cortex-A72",
    vendor: "ARM",
    arch: "aarch64",
    cores: 4,
    threads: 4,
    mhz: 1800,
  });
  assert.ok(p.memory.totalBytes > 3.5 * GiB && p.memory.totalBytes <= 4 * GiB);
  assert.deepEqual(p.gpus, [], "vc4 display engine is not a GPU");
  assert.deepEqual(p.storage.map((s) => s.kind), ["sd"]);
  assert.deepEqual(p.network.map((n) => [n.name, n.kind, n.speedMbps]), [
    ["eth0", "ethernet", 1000],
    ["wlan0", "wifi", undefined],
  ]);
  assert.deepEqual(p.power, { source: "ac", hasBattery: false });
  assert.equal(p.temperatureC, 48.7);
  assert.deepEqual(p.device, { model: "Raspberry Pi 4 Model B Rev 1.4" });
});

Deno.test("profile: Jetson Nano has one integrated, schedulable GPU with system memory", async () => {
  const p = await collectProfile(await fixtureProbe("jetson-nano"));
  assert.equal(p.cpu.arch, "aarch64");
  assert.equal(p.cpu.model, "Cortex-A57");
  assert.equal(p.cpu.threads, 4);
  assert.deepEqual(p.gpus, [{
    index: 0,
    vendor: "nvidia",
    model: "NVIDIA Tegra X1",
    memoryBytes: p.memory.totalBytes,
    computeCapability: "5.3",
    integrated: true,
    schedulable: true,
  }]);
  assert.match(p.device.tegraRelease ?? "", /^# R32 \(release\), REVISION: 7\.1/);
  assert.equal(p.device.model, "NVIDIA Jetson Nano Developer Kit");
  assert.equal(p.temperatureC, 36.5, "PMIC-Die's fixed 100 °C ignored");
});

Deno.test("profile: laptop on battery", async () => {
  const p = await collectProfile(await fixtureProbe("laptop-battery"));
  assert.deepEqual(p.power, {
    source: "battery",
    hasBattery: true,
    batteryPercent: 35,
    charging: false,
  });
  assert.equal(p.device.chassis, "Notebook");
  assert.equal(p.device.product, "XPS 13 9310");
  assert.deepEqual(p.cpu, {
    model: "11th Gen Intel(R) Core(TM) i7-1185G7 @ 3.00GHz",
    vendor: "Intel",
    arch: "x86_64",
    cores: 4,
    threads: 8,
    mhz: 4800,
  });
  assert.deepEqual(p.network.find((n) => n.kind === "wifi")?.name, "wlp0s20f3");
  assert.equal(schedulable(p).length, 0);
  assert.equal(p.gpus[0].model, "TigerLake-LP GT2 [Iris Xe Graphics]");
});

Deno.test("profile: workstation RTX 4090 is not counted twice (nvidia-smi and DRM)", async () => {
  const p = await collectProfile(await fixtureProbe("workstation-rtx"));
  assert.deepEqual(p.gpus.map((g) => [g.index, g.vendor, g.model, g.schedulable]), [
    [0, "nvidia", "NVIDIA GeForce RTX 4090", true],
    [1, "intel", "Raptor Lake-S GT1 [UHD Graphics 770]", false],
  ]);
  assert.equal(p.gpus[0].computeCapability, "8.9");
  assert.equal(p.gpus[0].memoryBytes, 24564 * 1024 * 1024);
  assert.equal(p.device.chassis, "Desktop");
  assert.equal(p.device.product, "ROG STRIX Z790-E GAMING WIFI", "placeholder product → board");
  assert.equal(p.storage.find((s) => s.name === "nvme0n1")?.kind, "nvme");
  assert.equal(p.storage.find((s) => s.name === "sda")?.kind, "hdd");
});

Deno.test("profile: 8x H100 server", async () => {
  const p = await collectProfile(await fixtureProbe("server-8xh100"));
  const gpus = schedulable(p);
  assert.equal(gpus.length, 8);
  assert.equal(p.gpus.length, 8, "ASPEED BMC and nvidia-drm cards not added");
  for (const [i, g] of gpus.entries()) {
    assert.equal(g.index, i);
    assert.equal(g.model, "NVIDIA H100 80GB HBM3");
    assert.equal(g.computeCapability, "9.0");
    assert.ok(g.memoryBytes > 79 * GiB && g.memoryBytes <= 80 * GiB, `${g.memoryBytes}`);
    assert.match(g.uuid ?? "", /^GPU-[0-9a-f-]{36}$/);
  }
  assert.equal(p.cpu.threads, 224);
  assert.equal(p.cpu.cores, 112);
  assert.ok(p.memory.totalBytes > 1.9 * 1024 * GiB);
  assert.equal(p.device.chassis, "Rack Mount Chassis");
  assert.equal(Math.max(...p.network.map((n) => n.speedMbps ?? 0)), 100_000);
  assert.equal(p.network.some((n) => n.name.startsWith("veth")), false);
  assert.equal(p.temperatureC, 42);
});

Deno.test("profile: Intel NUC", async () => {
  const p = await collectProfile(await fixtureProbe("intel-nuc"));
  assert.equal(p.device.vendor, "Intel(R) Client Systems");
  assert.equal(p.device.product, "NUC11PAHi5");
  assert.equal(p.cpu.threads, 8);
  assert.ok(p.memory.totalBytes > 15 * GiB && p.memory.totalBytes <= 16 * GiB);
});

Deno.test("profile: CPU-only KVM VM", async () => {
  const p = await collectProfile(await fixtureProbe("cpu-only-vm"));
  assert.deepEqual(p.gpus, [], "the bochs display adapter is not a GPU");
  assert.equal(p.device.virtualization, "kvm");
  assert.equal(p.cpu.threads, 4);
  assert.equal(p.cpu.mhz, 2095, "no cpufreq in the guest: cpuinfo's clock");
  assert.deepEqual(p.storage, [{ name: "vda", kind: "other", sizeBytes: 80 * GiB }]);
  assert.equal(p.temperatureC, undefined);
  assert.equal("temperatureC" in p, false, "absent, not undefined, so profiles compare after JSON");
});

Deno.test("profile: this machine, live, is sane", async () => {
  const p = await collectProfile(new LiveProbe());
  assert.equal(p.schema, 1);
  assert.ok(p.cpu.threads >= 1);
  assert.ok(p.cpu.cores >= 1 && p.cpu.cores <= p.cpu.threads);
  assert.equal(p.cpu.arch, Deno.build.arch);
  assert.equal(p.hostname, Deno.hostname());
  if (Deno.build.os === "linux") {
    assert.ok(p.memory.totalBytes > 0);
    assert.ok(p.memory.availableBytes <= p.memory.totalBytes);
    assert.equal(p.cpu.threads, navigator.hardwareConcurrency);
  }
  assert.deepEqual(JSON.parse(JSON.stringify(p)), p, "plain JSON data");
});
