import assert from "node:assert/strict";
import {
  countCpuList,
  parseCpuinfo,
  parseMaxFreqKHz,
  readCpu,
} from "../../../core/profile/cpuinfo.ts";
import { garbage, inlineProbe, loadRecord } from "./_fixtures.ts";

Deno.test("cpuinfo: Raspberry Pi 4 (Cortex-A72 x4, board model line)", async () => {
  const r = await loadRecord("raspberry-pi-4");
  const facts = parseCpuinfo(r.files["/proc/cpuinfo"]);
  assert.equal(facts.model, "Cortex-A72");
  assert.equal(facts.vendor, "ARM");
  assert.equal(facts.threads, 4);
  assert.equal(facts.cores, 4);
  assert.equal(facts.hypervisor, false);
  assert.equal(facts.boardModel, "Raspberry Pi 4 Model B Rev 1.4");
  assert.equal(facts.hardware, "BCM2835");
});

Deno.test("cpuinfo: Jetson Nano prefers the part code to 'ARMv8 Processor'", async () => {
  const r = await loadRecord("jetson-nano");
  const facts = parseCpuinfo(r.files["/proc/cpuinfo"]);
  assert.equal(facts.model, "Cortex-A57");
  assert.equal(facts.threads, 4);
});

Deno.test("cpuinfo: x86 hybrid desktop counts physical cores by (package, core id)", async () => {
  const r = await loadRecord("workstation-rtx");
  const facts = parseCpuinfo(r.files["/proc/cpuinfo"]);
  assert.equal(facts.model, "13th Gen Intel(R) Core(TM) i9-13900K");
  assert.equal(facts.vendor, "Intel");
  assert.equal(facts.threads, 32);
  assert.equal(facts.cores, 24);
  assert.equal(facts.mhz, 5500, "the highest current clock");
});

Deno.test("cpuinfo: two sockets", async () => {
  const r = await loadRecord("server-8xh100");
  const facts = parseCpuinfo(r.files["/proc/cpuinfo"]);
  assert.equal(facts.threads, 224);
  assert.equal(facts.cores, 112);
  assert.equal(facts.model, "Intel(R) Xeon(R) Platinum 8480+");
});

Deno.test("cpuinfo: the hypervisor flag marks a VM", async () => {
  const r = await loadRecord("cpu-only-vm");
  assert.equal(parseCpuinfo(r.files["/proc/cpuinfo"]).hypervisor, true);
  const metal = await loadRecord("intel-nuc");
  assert.equal(parseCpuinfo(metal.files["/proc/cpuinfo"]).hypervisor, false);
});

Deno.test("cpuinfo: big.LITTLE lists both core types (RK3588)", () => {
  const block = (i: number, part: string) =>
    `processor\t: ${i}\nBogoMIPS\t: 48.00\nCPU implementer\t: 0x41\nCPU architecture: 8\n` +
    `CPU variant\t: 0x2\nCPU part\t: ${part}\nCPU revision\t: 0\n`;
  const text = [0, 1, 2, 3].map((i) => block(i, "0xd05")).join("\n") + "\n" +
    [4, 5, 6, 7].map((i) => block(i, "0xd0b")).join("\n");
  const facts = parseCpuinfo(text);
  assert.equal(facts.model, "Cortex-A55 + Cortex-A76");
  assert.equal(facts.threads, 8);
});

Deno.test("cpuinfo: unknown ARM part falls back to the model name", () => {
  const text = "processor\t: 0\nmodel name\t: ARMv8 Processor rev 0 (v8l)\n" +
    "CPU implementer\t: 0x41\nCPU part\t: 0xfff\n";
  assert.equal(parseCpuinfo(text).model, "ARMv8 Processor rev 0 (v8l)");
  assert.equal(parseCpuinfo("processor : 0\nCPU implementer : 0x99\n").vendor, "unknown");
});

Deno.test("cpuinfo: 32-bit ARM layout with 'Processor' name line (Pi 1)", () => {
  const text = "Processor\t: ARMv6-compatible processor rev 7 (v6l)\nprocessor\t: 0\n" +
    "BogoMIPS\t: 697.95\nCPU implementer\t: 0x41\nCPU part\t: 0xb76\n\n" +
    "Hardware\t: BCM2708\nRevision\t: 000e\n";
  const facts = parseCpuinfo(text);
  assert.equal(facts.threads, 1);
  assert.equal(facts.model, "ARM1176");
  assert.equal(facts.hardware, "BCM2708");
});

Deno.test("cpuinfo: RISC-V names the micro-architecture", () => {
  const text = "processor\t: 0\nhart\t\t: 1\nisa\t\t: rv64imafdc\nmmu\t\t: sv39\n" +
    "uarch\t\t: sifive,u74-mc\n\nprocessor\t: 1\nhart\t\t: 2\nisa\t\t: rv64imafdc\n";
  const facts = parseCpuinfo(text);
  assert.equal(facts.model, "sifive,u74-mc");
  assert.equal(facts.vendor, "sifive");
  assert.equal(facts.threads, 2);
});

Deno.test("cpuinfo: empty and garbage never throw", () => {
  for (const text of [undefined, "", "\n\n\n", ":::", "processor : x\n", garbage(1, 5000)]) {
    const facts = parseCpuinfo(text);
    assert.equal(typeof facts.model, "string");
    assert.ok(facts.threads >= 0);
  }
  assert.equal(parseCpuinfo("").model, "unknown");
});

Deno.test("cpufreq max and cpu lists", () => {
  assert.equal(parseMaxFreqKHz("1800000\n"), 1800);
  assert.equal(parseMaxFreqKHz("1479000"), 1479);
  for (const bad of [undefined, "", "0", "-5", "fast"]) {
    assert.equal(parseMaxFreqKHz(bad), undefined);
  }
  assert.equal(countCpuList("0-3\n"), 4);
  assert.equal(countCpuList("0-3,6,8-9"), 7);
  assert.equal(countCpuList("0"), 1);
  for (const bad of [undefined, "", "3-1", "a-b", "0-3,"]) {
    assert.equal(countCpuList(bad), undefined);
  }
});

Deno.test("readCpu: max clock from cpufreq, arch from the probe", async () => {
  const probe = inlineProbe({
    arch: "arm64",
    files: {
      "/proc/cpuinfo": "processor : 0\nCPU implementer : 0x41\nCPU part : 0xd03\n",
      "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq": "1200000\n",
    },
  });
  const { cpu } = await readCpu(probe);
  assert.deepEqual(cpu, {
    model: "Cortex-A53",
    vendor: "ARM",
    arch: "aarch64",
    cores: 1,
    threads: 1,
    mhz: 1200,
  });
});

Deno.test("readCpu: without cpuinfo, threads come from the online list, else 1", async () => {
  const online = inlineProbe({ files: { "/sys/devices/system/cpu/online": "0-7\n" } });
  assert.equal((await readCpu(online)).cpu.threads, 8);
  const nothing = await readCpu(inlineProbe({}));
  assert.equal(nothing.cpu.threads, 1);
  assert.equal(nothing.cpu.cores, 1);
  assert.equal(nothing.cpu.mhz, 0);
});
