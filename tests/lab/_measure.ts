// What the lab measures of a host: resident memory of a process, and the bytes and packets
// that crossed a host's link.

/** Resident set size of a process in KiB (VmRSS of /proc/<pid>/status); null once it has exited. */
export function rssKiB(pid: number): number | null {
  let status: string;
  try {
    status = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null; // the process has exited
    throw e;
  }
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  // A zombie has no VmRSS line: it holds no memory any more.
  return m ? Number(m[1]) : null;
}

/** Counters of one host's link, as the host sees them (tx = what the host sent). */
export interface Traffic {
  txBytes: number;
  rxBytes: number;
  txPackets: number;
  rxPackets: number;
}

/**
 * Reads every host's counters from the bridge side: `ip -j -s link show` in the bridge's
 * namespace lists all ports at once, and a port's rx is its host's tx. The counters include
 * packets the host's iptables rules then drop (loss, partitions): they arrived on the link.
 */
export function parseBridgePorts(json: string, portName: (i: number) => string, hosts: number) {
  const links = JSON.parse(json) as Array<{
    ifname: string;
    stats64?: { rx: { bytes: number; packets: number }; tx: { bytes: number; packets: number } };
  }>;
  const byName = new Map(links.map((l) => [l.ifname, l]));
  const out = new Map<number, Traffic>();
  for (let i = 1; i <= hosts; i++) {
    const l = byName.get(portName(i));
    if (!l?.stats64) throw new Error(`bridge port ${portName(i)} missing from ip -s link output`);
    out.set(i, {
      txBytes: l.stats64.rx.bytes,
      rxBytes: l.stats64.tx.bytes,
      txPackets: l.stats64.rx.packets,
      rxPackets: l.stats64.tx.packets,
    });
  }
  return out;
}

/** Per-host rates between two readings, in bytes (and packets) per second. */
export function rates(
  before: Map<number, Traffic>,
  after: Map<number, Traffic>,
  seconds: number,
): Map<number, Traffic> {
  const out = new Map<number, Traffic>();
  for (const [i, a] of after) {
    const b = before.get(i);
    if (!b) continue;
    out.set(i, {
      txBytes: (a.txBytes - b.txBytes) / seconds,
      rxBytes: (a.rxBytes - b.rxBytes) / seconds,
      txPackets: (a.txPackets - b.txPackets) / seconds,
      rxPackets: (a.rxPackets - b.rxPackets) / seconds,
    });
  }
  return out;
}
