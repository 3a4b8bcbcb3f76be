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

/** CPU time (user + system) a process has used, in ms; 0 once it has exited. */
export function cpuMs(pid: number): number {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
  // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks * 10; // USER_HZ is 100 on Linux
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

/** UDP counters of the network namespace a process lives in (/proc/<pid>/net/snmp). */
export interface UdpCounters {
  InDatagrams: number;
  InErrors: number;
  RcvbufErrors: number;
  SndbufErrors: number;
}

/** Reads UDP counters through a process of the namespace; null once it has exited. */
export function udpCounters(pid: number): UdpCounters | null {
  let snmp: string;
  try {
    snmp = Deno.readTextFileSync(`/proc/${pid}/net/snmp`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  // Two lines per protocol: "Udp: Name1 Name2 …" then "Udp: value1 value2 …".
  const [names, values] = snmp.split("\n").filter((l) => l.startsWith("Udp: ")).map((l) =>
    l.split(/\s+/).slice(1)
  );
  const get = (k: string) => Number(values[names.indexOf(k)]);
  return {
    InDatagrams: get("InDatagrams"),
    InErrors: get("InErrors"),
    RcvbufErrors: get("RcvbufErrors"),
    SndbufErrors: get("SndbufErrors"),
  };
}
