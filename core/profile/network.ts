// Network interfaces from /sys/class/net plus the probe's addresses.

import { clean, naturalCompare, toInt } from "./_text.ts";
import type { NetInterface, NetKind, Probe } from "./types.ts";

export const NET_DIR = "/sys/class/net";
/** ARPHRD_ETHER in /sys/class/net/X/type. */
const ARPHRD_ETHER = 1;

/**
 * Skipped: loopback, and veth pairs, which come and go with every container; listing them
 * would churn the profile that gossip carries.
 */
export function isListedInterface(name: string): boolean {
  return name !== "lo" && !name.startsWith("veth");
}

/**
 * Wi-Fi has a `wireless` or `phy80211` entry; a physical Ethernet port has a `device` link
 * and ARP type 1. Bridges, tunnels, bonds and dummies have no `device`: "other".
 */
export function netKind(entries: string[], typeText: string | undefined): NetKind {
  if (entries.includes("wireless") || entries.includes("phy80211")) return "wifi";
  if (entries.includes("device") && toInt(typeText) === ARPHRD_ETHER) return "ethernet";
  return "other";
}

/** Link speed in Mbit/s; the kernel prints -1 (or refuses the read) when it has none. */
export function parseSpeed(text: string | undefined): number | undefined {
  const n = toInt(text);
  return n !== undefined && n > 0 ? n : undefined;
}

export function parseMac(text: string | undefined): string | undefined {
  const mac = clean(text)?.toLowerCase();
  return mac !== undefined && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac) &&
      mac !== "00:00:00:00:00:00"
    ? mac
    : undefined;
}

export async function readNetwork(probe: Probe): Promise<NetInterface[]> {
  const [names, addresses] = await Promise.all([probe.list(NET_DIR), probe.addresses()]);
  return Promise.all(
    (names ?? []).filter(isListedInterface).sort(naturalCompare).map(async (name) => {
      const base = `${NET_DIR}/${name}`;
      const [entries, operstate, speed, address, type] = await Promise.all([
        probe.list(base),
        probe.readText(`${base}/operstate`),
        probe.readText(`${base}/speed`),
        probe.readText(`${base}/address`),
        probe.readText(`${base}/type`),
      ]);
      const up = clean(operstate) === "up";
      const nic: NetInterface = {
        name,
        kind: netKind(entries ?? [], type),
        up,
        addresses: Object.hasOwn(addresses, name) ? [...addresses[name]] : [],
      };
      const mbps = up ? parseSpeed(speed) : undefined;
      if (mbps !== undefined) nic.speedMbps = mbps;
      const mac = parseMac(address);
      if (mac !== undefined) nic.mac = mac;
      return nic;
    }),
  );
}
