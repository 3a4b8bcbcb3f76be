// A network-namespace lab: n hosts with real addresses on one machine, for what needs real
// networking (mDNS, broadcast, partitions, packet loss, node kills). Root only.
//
//   <id>-br   a namespace holding the bridge br0, and one veth end per host (port hI)
//   <id>-hI   host I: lo, and eth0 (the other veth end) with <subnet base + I>/<len>
//
// Nothing is added to the root namespace, so labs with the same subnet run side by side.
// Partitions and loss are iptables rules on each host's INPUT (a DROP at the receiver is a
// silent loss for the sender, as on a real network). The kernel's ARP table is shared by all
// namespaces: past ~30 hosts the lab raises its thresholds (see DESIGN.md, "test hosts").
// Every lab is destroyed on SIGINT/SIGTERM; namespaces left by a crashed run are removed by
// the next Lab.create (cleanupStale).

import { LabProcess, type SpawnOptions, withDeadline } from "./_process.ts";
import { parseBridgePorts, rssKiB, type Traffic } from "./_measure.ts";
import { avahiBrowse, avahiPublish, type AvahiService, startAvahi } from "./_avahi.ts";

/** Namespaces and temp dirs of every lab start with this. */
export const LAB_PREFIX = "hlab";
/** Processes per host operation run at most this many at a time (2 cores). */
const PARALLEL = 8;
/** Above this many hosts the ARP thresholds are raised. */
const ARP_HOSTS = 30;
const ARP_THRESHOLDS = [8192, 16384, 32768];
const PART_CHAIN = "LABPART";
const LOSS_CHAIN = "LABLOSS";

export interface LabOptions {
  /** Number of hosts, 1-based: h1 … hN. */
  hosts: number;
  /** Hosts get base + 1, base + 2, … @default "10.99.0.0/16" */
  subnet?: string;
}

export interface LabHost {
  /** "h3": also the bridge port's name */
  name: string;
  /** The namespace's name, for `ip netns exec` */
  ns: string;
  ip: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type Availability = { ok: true } | { ok: false; why: string };

const live = new Set<Lab>();
let probed: Availability | null = null;

export class Lab {
  readonly #hosts: LabHost[];
  readonly #procs = new Set<LabProcess>();
  /** per host: the addresses it drops (partitions) */
  readonly #blocked = new Map<number, Set<string>>();
  readonly #chained = new Set<number>();
  readonly #env = new Map<number, Record<string, string>>();
  #lossPercent = 0;
  #destroyed = false;

  private constructor(
    /** "hlab-<pid>-<random>": prefix of this lab's namespaces and temp dir */
    readonly id: string,
    /** A temp dir for this lab's files (sockets, configs); removed by destroy(). */
    readonly dir: string,
    readonly prefixLength: number,
    hosts: LabHost[],
  ) {
    this.#hosts = hosts;
  }

  get size(): number {
    return this.#hosts.length;
  }
  get bridgeNs(): string {
    return `${this.id}-br`;
  }

  /** Says why the lab cannot run here, or ok. `needs` are more commands that must be installed. */
  static async available(needs: string[] = []): Promise<Availability> {
    if (Deno.build.os !== "linux") return { ok: false, why: `not Linux (${Deno.build.os})` };
    if (Deno.uid() !== 0) return { ok: false, why: `not root (uid ${Deno.uid()})` };
    for (const cmd of ["ip", "iptables", "iptables-restore", ...needs]) {
      if (!which(cmd)) {
        return { ok: false, why: `${cmd} not installed (bash scripts/setup_lab.sh installs it)` };
      }
    }
    probed ??= await probeNetns();
    return probed;
  }

  static async create(opts: LabOptions): Promise<Lab> {
    const n = opts.hosts;
    if (!Number.isInteger(n) || n < 1) throw new Error(`'hosts' must be an integer ≥ 1: got ${n}`);
    const { base, length } = parseSubnet(opts.subnet ?? "10.99.0.0/16");
    if (n > 2 ** (32 - length) - 2) {
      throw new Error(`'hosts' ${n} does not fit in subnet ${opts.subnet}`);
    }
    const why = await Lab.available();
    if (!why.ok) throw new Error(`the lab cannot run here: ${why.why}`);
    await Lab.cleanupStale();
    if (n > ARP_HOSTS) raiseArpThresholds();

    const id = `${LAB_PREFIX}-${Deno.pid}-${crypto.randomUUID().slice(0, 6)}`;
    const dir = `${tmpRoot()}/${id}`;
    await Deno.mkdir(dir, { recursive: true });
    const hosts: LabHost[] = [];
    for (let i = 1; i <= n; i++) {
      hosts.push({ name: `h${i}`, ns: `${id}-h${i}`, ip: ipString(base + i) });
    }
    const lab = new Lab(id, dir, length, hosts);
    registerLive(lab);
    try {
      await lab.#build();
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  /**
   * Removes namespaces and temp dirs of labs whose process is gone (a crashed or killed run),
   * after killing what still runs in them. Returns the namespaces removed.
   */
  static async cleanupStale(): Promise<string[]> {
    const stale = (name: string) => {
      const m = new RegExp(`^${LAB_PREFIX}-(\\d+)-`).exec(name);
      return m !== null && !pidAlive(Number(m[1]));
    };
    // Another process may be cleaning the same leftovers: what is already gone is fine.
    const gone = (e: unknown) =>
      e instanceof Deno.errors.NotFound || /No such file or directory/.test(String(e));
    const names = (await netnsNames()).filter(stale);
    for (const ns of names) {
      try {
        await killNetnsPids(ns);
        await run("ip", ["netns", "del", ns]);
      } catch (e) {
        if (!gone(e)) throw e;
      }
    }
    for await (const e of Deno.readDir(tmpRoot())) {
      if (!e.isDirectory || !stale(e.name)) continue;
      await Deno.remove(`${tmpRoot()}/${e.name}`, { recursive: true }).catch((e) => {
        if (!gone(e)) throw e;
      });
    }
    return names;
  }

  host(i: number): LabHost {
    const h = this.#hosts[i - 1];
    if (!h) throw new Error(`no host ${i}: the lab has hosts 1..${this.size}`);
    return h;
  }

  /** Starts `cmd args` inside host i's namespace. destroy() kills it if it still runs. */
  spawn(i: number, cmd: string, args: string[] = [], opts: SpawnOptions = {}): LabProcess {
    this.#alive();
    const h = this.host(i);
    const child = new Deno.Command(which("ip") ?? "ip", {
      args: ["netns", "exec", h.ns, cmd, ...args],
      env: { ...this.#env.get(i), ...opts.env },
      cwd: opts.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const p = new LabProcess(`${h.name}: ${cmd} ${args.join(" ")}`, child, opts);
    this.#procs.add(p);
    const forget = () => this.#procs.delete(p);
    p.status.then(forget, forget); // a failure is the awaiting caller's to see
    return p;
  }

  /** Runs `cmd args` in host i to completion (killed and an error after timeoutMs). */
  async exec(
    i: number,
    cmd: string,
    args: string[] = [],
    opts: SpawnOptions & { timeoutMs?: number } = {},
  ): Promise<ExecResult> {
    const p = this.spawn(i, cmd, args, opts);
    const ms = opts.timeoutMs ?? 30_000;
    try {
      const s = await withDeadline(p.status, ms, p.label);
      return { code: s.code, stdout: p.stdout, stderr: p.stderr };
    } catch (e) {
      await p.stop();
      throw new Error(`${e instanceof Error ? e.message : e}\n${p.describe()}`, { cause: e });
    }
  }

  /** Environment every process spawned in host i gets (set by startAvahi: its D-Bus). */
  setEnv(i: number, env: Record<string, string>): void {
    this.#env.set(i, { ...this.#env.get(i), ...env });
  }

  /** Drops all traffic between every host of `a` and every host of `b`, both ways. Adds up until heal(). */
  async partition(a: number[], b: number[]): Promise<void> {
    for (const i of [...a, ...b]) this.host(i);
    const overlap = a.filter((i) => b.includes(i));
    if (overlap.length > 0) throw new Error(`hosts ${overlap} are on both sides of the partition`);
    const block = (from: number[], to: number[]) => {
      for (const i of to) {
        const set = this.#blocked.get(i) ?? new Set<string>();
        for (const j of from) set.add(this.host(j).ip);
        this.#blocked.set(i, set);
      }
    };
    block(a, b);
    block(b, a);
    await this.#applyRules([...a, ...b]);
  }

  /** Removes every partition. */
  async heal(): Promise<void> {
    const hosts = [...this.#blocked.keys()];
    this.#blocked.clear();
    await this.#applyRules(hosts);
  }

  /** Each host drops this percent of the packets it receives: per link and direction, that loss. 0 ends it. */
  async loss(percent: number): Promise<void> {
    if (!(percent >= 0 && percent < 100)) {
      throw new Error(`'percent' must be in [0, 100): got ${percent}`);
    }
    this.#lossPercent = percent;
    await this.#applyRules(this.#hosts.map((_, k) => k + 1));
  }

  /** Counters of every host's link, read at once from the bridge's ports. */
  async traffic(): Promise<Map<number, Traffic>> {
    const out = await run("ip", ["-n", this.bridgeNs, "-j", "-s", "link", "show"]);
    return parseBridgePorts(out, (i) => this.host(i).name, this.size);
  }

  /** Resident memory of everything running in host i, in KiB (VmRSS summed over `ip netns pids`). */
  async rssKiB(i: number): Promise<number> {
    const out = await run("ip", ["netns", "pids", this.host(i).ns]);
    const pids = out.split("\n").filter((l) => l.trim()).map(Number);
    return pids.reduce((sum, pid) => sum + (rssKiB(pid) ?? 0), 0);
  }

  /** Starts a D-Bus system bus and avahi-daemon of its own in host i (several hosts can). */
  async startAvahi(i: number): Promise<void> {
    await startAvahi(this, i);
  }

  /** Publishes a service from host i (avahi-publish -s), once avahi runs there; stop the process to withdraw it. */
  avahiPublish(
    i: number,
    service: { name: string; type: string; port: number; txt?: string[] },
  ): Promise<LabProcess> {
    return avahiPublish(this, i, service);
  }

  /** Services of `type` that avahi in host i resolves (avahi-browse -rpt), retried until `until` holds. */
  avahiBrowse(
    i: number,
    type: string,
    opts: { timeoutMs?: number; until?: (found: AvahiService[]) => boolean } = {},
  ): Promise<AvahiService[]> {
    return avahiBrowse(this, i, type, opts);
  }

  /** Kills everything that runs in the lab and removes its namespaces and temp dir. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const errors: unknown[] = [];
    const step = async (f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (e) {
        errors.push(e);
      }
    };
    const names = [this.bridgeNs, ...this.#hosts.map((h) => h.ns)];
    for (const p of this.#procs) p.kill("SIGKILL");
    // Also what our processes started (agents' children, daemons).
    await step(() => pool(names, PARALLEL, killNetnsPids));
    await step(() =>
      withDeadline(Promise.all([...this.#procs].map((p) => p.status)), 10_000, "lab processes")
    );
    await step(async () => {
      const existing = new Set(await netnsNames());
      const del = names.filter((n) => existing.has(n)).map((n) => `netns del ${n}`);
      if (del.length > 0) await run("ip", ["-batch", "-"], del);
    });
    await step(() => Deno.remove(this.dir, { recursive: true }));
    unregisterLive(this);
    if (errors.length > 0) throw new AggregateError(errors, `lab ${this.id}: destroy incomplete`);
  }

  async #build(): Promise<void> {
    const br = this.bridgeNs;
    await run(
      "ip",
      ["-batch", "-"],
      [br, ...this.#hosts.map((h) => h.ns)].map((n) => `netns add ${n}`),
    );
    const bridge = ["link set lo up", "link add br0 type bridge", "link set br0 up"];
    for (const h of this.#hosts) {
      bridge.push(`link add ${h.name} type veth peer name eth0 netns ${h.ns}`);
      bridge.push(`link set ${h.name} master br0`, `link set ${h.name} up`);
    }
    await run("ip", ["-n", br, "-batch", "-"], bridge);
    await pool(this.#hosts, PARALLEL, (h) =>
      run("ip", ["-n", h.ns, "-batch", "-"], [
        "link set lo up",
        `addr add ${h.ip}/${this.prefixLength} brd + dev eth0`,
        "link set eth0 up",
      ]));
  }

  /** Rewrites both lab chains of each host from #blocked and #lossPercent. */
  async #applyRules(hosts: number[]): Promise<void> {
    this.#alive();
    await pool(hosts, PARALLEL, async (i) => {
      const lines = ["*filter", `:${PART_CHAIN} - [0:0]`, `:${LOSS_CHAIN} - [0:0]`];
      if (!this.#chained.has(i)) {
        lines.push(`-A INPUT -i eth0 -j ${PART_CHAIN}`, `-A INPUT -i eth0 -j ${LOSS_CHAIN}`);
      }
      for (const ip of this.#blocked.get(i) ?? []) lines.push(`-A ${PART_CHAIN} -s ${ip} -j DROP`);
      if (this.#lossPercent > 0) {
        const p = (this.#lossPercent / 100).toFixed(6);
        lines.push(`-A ${LOSS_CHAIN} -m statistic --mode random --probability ${p} -j DROP`);
      }
      lines.push("COMMIT");
      // -w: iptables serialises on a lock shared by all namespaces.
      await run("ip", [
        "netns",
        "exec",
        this.host(i).ns,
        "iptables-restore",
        "-w",
        "30",
        "--noflush",
      ], lines);
      this.#chained.add(i);
    });
  }

  #alive(): void {
    if (this.#destroyed) throw new Error(`lab ${this.id} has been destroyed`);
  }
}

// ---------------------------------------------------------------- helpers

/** Runs a command in the root namespace; its stdin is `lines`; throws with stderr on failure. */
async function run(cmd: string, args: string[], lines?: string[]): Promise<string> {
  const child = new Deno.Command(which(cmd) ?? cmd, {
    args,
    stdin: lines ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (lines) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(lines.join("\n") + "\n"));
    await w.close();
  }
  const out = await withDeadline(child.output(), 60_000, `${cmd} ${args.join(" ")}`);
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (exit ${out.code}): ${dec.decode(out.stderr).trim()}` +
        (lines ? `\ninput:\n${lines.slice(0, 20).join("\n")}` : ""),
    );
  }
  return dec.decode(out.stdout);
}

/** The absolute path of a command on PATH (plus the sbin dirs, where ip and iptables live). */
export function which(cmd: string): string | null {
  if (cmd.includes("/")) return cmd;
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/sbin"];
  for (const d of dirs) {
    if (!d) continue;
    try {
      const st = Deno.statSync(`${d}/${cmd}`);
      if (st.isFile && (st.mode ?? 0) & 0o111) return `${d}/${cmd}`;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory)) throw e;
    }
  }
  return null;
}

async function probeNetns(): Promise<Availability> {
  // random: test files run with --parallel share one process (pid) and probe at once
  const name = `${LAB_PREFIX}-${Deno.pid}-probe-${crypto.randomUUID().slice(0, 6)}`;
  try {
    await run("ip", ["netns", "add", name]);
  } catch (e) {
    return { ok: false, why: `cannot create a network namespace: ${(e as Error).message}` };
  }
  await run("ip", ["netns", "del", name]);
  return { ok: true };
}

async function netnsNames(): Promise<string[]> {
  const out = await run("ip", ["netns", "list"]);
  return out.split("\n").map((l) => l.split(" ")[0]).filter((n) => n.length > 0);
}

async function killNetnsPids(ns: string): Promise<void> {
  const out = await run("ip", ["netns", "pids", ns]);
  for (const pid of out.split("\n").filter((l) => l.trim()).map(Number)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e; // exited meanwhile
    }
  }
}

function pidAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

function tmpRoot(): string {
  return Deno.env.get("TMPDIR") ?? "/tmp";
}

function raiseArpThresholds(): void {
  ARP_THRESHOLDS.forEach((want, k) => {
    const path = `/proc/sys/net/ipv4/neigh/default/gc_thresh${k + 1}`;
    if (Number(Deno.readTextFileSync(path).trim()) < want) {
      Deno.writeTextFileSync(path, `${want}\n`);
    }
  });
}

function parseSubnet(s: string): { base: number; length: number } {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(s);
  const parts = m ? m.slice(1, 5).map(Number) : [];
  const length = m ? Number(m[5]) : NaN;
  if (!m || parts.some((p) => p > 255) || !(length >= 8 && length <= 30)) {
    throw new Error(`'subnet' must look like 10.99.0.0/16 (prefix 8..30): got ${s}`);
  }
  const base = ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
  const mask = (~0 << (32 - length)) >>> 0;
  return { base: (base & mask) >>> 0, length };
}

function ipString(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Runs f over items, at most `limit` at a time; rejects with the first failure after all settle. */
export async function pool<T>(items: T[], limit: number, f: (x: T) => Promise<unknown>) {
  const queue = [...items];
  const errors: unknown[] = [];
  const worker = async () => {
    for (let x = queue.shift(); x !== undefined; x = queue.shift()) {
      try {
        await f(x);
      } catch (e) {
        errors.push(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

// ---------------------------------------------------------------- Ctrl-C

// A signal listener only while labs exist, so a process without labs exits as usual.
const onSignal = async () => {
  console.error(`lab: interrupted, destroying ${live.size} lab(s)`);
  const results = await Promise.allSettled([...live].map((l) => l.destroy()));
  for (const r of results) if (r.status === "rejected") console.error(r.reason);
  Deno.exit(130);
};
const SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM"];

function registerLive(lab: Lab): void {
  if (live.size === 0) { for (const s of SIGNALS) Deno.addSignalListener(s, onSignal); }
  live.add(lab);
}

function unregisterLive(lab: Lab): void {
  live.delete(lab);
  if (live.size === 0) { for (const s of SIGNALS) Deno.removeSignalListener(s, onSignal); }
}
