// avahi in lab hosts, several at once. avahi-daemon allows one instance per system bus and per
// /run/avahi-daemon (its pid file), so each host gets its own:
//   - a D-Bus system bus listening on a socket in the lab's dir; every process the lab spawns
//     in that host finds it through DBUS_SYSTEM_BUS_ADDRESS (avahi-browse, avahi-publish);
//   - a tmpfs over /run for avahi-daemon. `ip netns exec` has already given the process a
//     mount namespace of its own (slave of the root one), so the mount stays private to it.

import type { Lab } from "./_netns.ts";
import type { LabProcess } from "./_process.ts";
import { waitFor } from "./_process.ts";

export interface AvahiService {
  name: string;
  type: string;
  host: string;
  address: string;
  port: number;
  txt: string[];
}

const START_MS = 15_000;

export async function startAvahi(lab: Lab, i: number): Promise<void> {
  const h = lab.host(i);
  const dir = `${lab.dir}/${h.name}`;
  await Deno.mkdir(dir, { recursive: true });
  const bus = `${dir}/dbus.sock`;
  const dbus = lab.spawn(i, "dbus-daemon", [
    "--system",
    "--nofork",
    "--nopidfile",
    `--address=unix:path=${bus}`,
  ]);
  await waitFor(`D-Bus of ${h.name} to listen on ${bus}`, () => {
    if (dbus.exited) throw new Error(`dbus-daemon exited early\n${dbus.describe()}`);
    return exists(bus) ? true : undefined;
  }, { timeoutMs: START_MS, everyMs: 20 });
  lab.setEnv(i, { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${bus}` });

  const conf = `${dir}/avahi-daemon.conf`;
  // host-name: every namespace shares the machine's hostname, which avahi would rename on conflict.
  await Deno.writeTextFile(
    conf,
    [
      "[server]",
      `host-name=${h.name}`,
      "use-ipv4=yes",
      "use-ipv6=no",
      "allow-interfaces=eth0",
      "ratelimit-interval-usec=1000000",
      "ratelimit-burst=1000",
      "[publish]",
      "publish-hinfo=no",
      "publish-workstation=no",
      "",
    ].join("\n"),
  );
  const avahi = lab.spawn(i, "sh", [
    "-c",
    'mount -t tmpfs lab-run /run && mkdir /run/avahi-daemon && exec avahi-daemon --no-chroot --no-drop-root --no-rlimits --no-proc-title -f "$0"',
    conf,
  ]);
  await waitFor(`avahi-daemon of ${h.name} to start`, () => {
    if (avahi.exited) throw new Error(`avahi-daemon exited early\n${avahi.describe()}`);
    return /Server startup complete/.test(avahi.stderr + avahi.stdout) ? true : undefined;
  }, { timeoutMs: START_MS, everyMs: 50 });
}

/** Publishes a service from host i (avahi-publish -s); it stays published while the process runs. */
export async function avahiPublish(
  lab: Lab,
  i: number,
  service: { name: string; type: string; port: number; txt?: string[] },
): Promise<LabProcess> {
  const p = lab.spawn(i, "avahi-publish", [
    "-s",
    service.name,
    service.type,
    String(service.port),
    ...(service.txt ?? []),
  ]);
  await waitFor(`avahi-publish of ${service.name} in ${lab.host(i).name}`, () => {
    if (p.exited) throw new Error(`avahi-publish exited\n${p.describe()}`);
    return /Established under name/.test(p.stdout + p.stderr) ? true : undefined;
  }, { timeoutMs: START_MS, everyMs: 50 });
  return p;
}

export async function avahiBrowse(
  lab: Lab,
  i: number,
  type: string,
  opts: { timeoutMs?: number; until?: (found: AvahiService[]) => boolean } = {},
): Promise<AvahiService[]> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const until = opts.until ?? (() => true);
  let last: AvahiService[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // -t ends once avahi has waited ~1 s for answers ("all for now").
    const r = await lab.exec(i, "avahi-browse", ["-rpt", type], { timeoutMs });
    if (r.code !== 0) throw new Error(`avahi-browse in ${lab.host(i).name} failed: ${r.stderr}`);
    last = parseBrowse(r.stdout);
    if (until(last)) return last;
  }
  throw new Error(
    `avahi-browse ${type} in ${lab.host(i).name}: not satisfied in ${timeoutMs} ms; last saw ${
      JSON.stringify(last)
    }`,
  );
}

/** Resolved lines of `avahi-browse -p`: =;iface;proto;name;type;domain;host;address;port;txt */
export function parseBrowse(out: string): AvahiService[] {
  const found: AvahiService[] = [];
  for (const line of out.split("\n")) {
    const f = line.split(";");
    if (f[0] !== "=" || f.length < 10) continue;
    found.push({
      name: unescape(f[3]),
      type: f[4],
      host: f[6],
      address: f[7],
      port: Number(f[8]),
      txt: [...f.slice(9).join(";").matchAll(/"([^"]*)"/g)].map((m) => m[1]),
    });
  }
  return found;
}

// avahi-browse -p writes special characters of names as \DDD (decimal).
function unescape(s: string): string {
  return s.replace(/\\(\d{3})/g, (_, d) => String.fromCharCode(Number(d)));
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
