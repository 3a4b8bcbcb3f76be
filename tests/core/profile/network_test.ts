import assert from "node:assert/strict";
import {
  isListedInterface,
  netKind,
  parseMac,
  parseSpeed,
  readNetwork,
} from "../../../core/profile/network.ts";
import { garbage, inlineProbe, loadRecord } from "./_fixtures.ts";

Deno.test("interface kind from its sysfs entries", () => {
  assert.equal(netKind(["device", "type", "wireless", "phy80211"], "1\n"), "wifi");
  assert.equal(netKind(["device", "phy80211"], "1\n"), "wifi");
  assert.equal(netKind(["device", "type"], "1\n"), "ethernet");
  assert.equal(netKind(["type", "bridge"], "1\n"), "other", "bridge: no device");
  assert.equal(netKind(["device"], "32\n"), "other", "InfiniBand");
  assert.equal(netKind([], undefined), "other");
});

Deno.test("speed, mac and skipped interfaces", () => {
  assert.equal(parseSpeed("1000\n"), 1000);
  for (const bad of ["-1\n", "0", undefined, "", "fast"]) assert.equal(parseSpeed(bad), undefined);
  assert.equal(parseMac("DC:A6:32:1A:2B:3C\n"), "dc:a6:32:1a:2b:3c");
  assert.equal(parseMac("00:00:00:00:00:00\n"), undefined);
  assert.equal(parseMac(garbage(6, 17)), undefined);
  assert.equal(isListedInterface("lo"), false);
  assert.equal(isListedInterface("veth3a91c2e"), false);
  assert.equal(isListedInterface("eth0"), true);
});

Deno.test("network: Raspberry Pi Ethernet and Wi-Fi", async () => {
  const nics = await readNetwork(inlineProbe(await loadRecord("raspberry-pi-4")));
  assert.deepEqual(nics, [
    {
      name: "eth0",
      kind: "ethernet",
      up: true,
      speedMbps: 1000,
      mac: "dc:a6:32:1a:2b:3c",
      addresses: ["192.168.1.42", "fe80::dea6:32ff:fe1a:2b3c"],
    },
    {
      name: "wlan0",
      kind: "wifi",
      up: true,
      mac: "dc:a6:32:1a:2b:3d",
      addresses: ["192.168.1.57", "fe80::dea6:32ff:fe1a:2b3d"],
    },
  ]);
});

Deno.test("network: a down link reports no speed; garbage is tolerated", async () => {
  const probe = inlineProbe({
    dirs: { "/sys/class/net": ["eth1", "lo", "x"], "/sys/class/net/eth1": ["device", "type"] },
    files: {
      "/sys/class/net/eth1/operstate": "down\n",
      "/sys/class/net/eth1/speed": "1000\n",
      "/sys/class/net/eth1/type": "1\n",
      "/sys/class/net/x/operstate": garbage(7, 30),
      "/sys/class/net/x/address": garbage(8, 30),
    },
  });
  assert.deepEqual(await readNetwork(probe), [
    { name: "eth1", kind: "ethernet", up: false, addresses: [] },
    { name: "x", kind: "other", up: false, addresses: [] },
  ]);
  assert.deepEqual(await readNetwork(inlineProbe({})), []);
});
