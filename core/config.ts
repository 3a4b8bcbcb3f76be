// Every tunable of a herd node, with its unit and default, in one table — in the
// spirit of memberlist's config.go. Named profiles (`lan`, `wan`, `local`) are
// written as overrides of the `lan` defaults. A value is resolved once, in this
// order (later wins): default → profile → herd.toml → HERD_* environment → flags.
// `herd config` prints every value and where it came from.

import { parse as parseToml } from "smol-toml";
import { ConfigError, UsageError } from "./errors.ts";
import { formatBytes, formatDuration, parseDuration, parseSize } from "./units.ts";

type Kind = "int" | "number" | "bytes" | "duration" | "string" | "bool" | "labels" | "strings";

interface Setting<T> {
  kind: Kind;
  default: T;
  /** Unit, shown by `herd config` and in the docs. */
  unit: string;
  doc: string;
  min?: number;
  max?: number;
}

type Labels = Readonly<Record<string, string>>;

const int = (s: Omit<Setting<number>, "kind">): Setting<number> => ({ kind: "int", ...s });
const num = (s: Omit<Setting<number>, "kind">): Setting<number> => ({ kind: "number", ...s });
const bytes = (s: Omit<Setting<number>, "kind" | "unit">): Setting<number> => ({
  kind: "bytes",
  unit: "bytes",
  ...s,
});
const duration = (s: Omit<Setting<number>, "kind" | "unit">): Setting<number> => ({
  kind: "duration",
  unit: "ms",
  ...s,
});
const str = (s: Omit<Setting<string>, "kind">): Setting<string> => ({ kind: "string", ...s });
const labels = (s: Omit<Setting<Labels>, "kind" | "unit">): Setting<Labels> => ({
  kind: "labels",
  unit: "key=value",
  ...s,
});
const strings = (s: Omit<Setting<readonly string[]>, "kind">): Setting<readonly string[]> => ({
  kind: "strings",
  ...s,
});

/** The table. Keys are `section.name`; herd.toml uses `[section]` tables. */
export const SETTINGS = {
  "node.name": str({
    default: "",
    unit: "name",
    doc: "Node name shown in listings; empty means the host name.",
  }),
  "node.labels": labels({
    default: {},
    doc: 'Labels for placement constraints, e.g. zone = "lab".',
  }),
  "api.host": str({
    default: "127.0.0.1",
    unit: "address",
    doc: "Address the local HTTP API listens on. Loopback: the CLI and dashboard are local.",
  }),
  "api.port": int({
    default: 7948,
    unit: "TCP port",
    min: 0,
    max: 65535,
    doc: "Port of the local HTTP API; 0 picks a free port (written to agent.json).",
  }),
  "agent.loadInterval": duration({
    default: 5_000,
    min: 100,
    doc: "How often the node re-reads its live load (free memory, load, battery, temperature).",
  }),
  "agent.loadAnnounceInterval": duration({
    default: 1_000,
    min: 0,
    doc:
      "Shortest time between two announcements of this node's free resources to the cluster. Jobs that start and end in a burst make one announcement, not one each: every one costs a rumor to every member. Placement does not depend on it being fresh (the target admits or refuses).",
  }),
  "agent.liveMetaInterval": duration({
    // An announcement costs every member ~4·log10(N) sends of a ~250-byte rumor: a load
    // that moves a step every few seconds on each of 100 nodes would be KB/s per node.
    default: 300_000,
    min: 0,
    doc:
      "Shortest time between two announcements of live readings alone (load, battery, temperature); what placement reads (free CPUs, memory, GPUs, power source) goes within agent.loadAnnounceInterval.",
  }),
  "agent.releasePagesAfter": duration({
    default: 10_000,
    min: 0,
    doc:
      "Quiet time (after start, after the last job ends, after the last member joined or left) before the agent hands code pages it touched only while busy back to the kernel (Linux); 0 keeps them.",
  }),
  "jobs.defaultCpu": num({
    default: 0.1,
    unit: "CPUs",
    min: 0,
    max: 4096,
    doc: "CPUs reserved for a job that does not give --cpu.",
  }),
  "jobs.defaultMem": bytes({
    default: 64 * 1024 ** 2,
    min: 0,
    doc: "Memory reserved for a job that does not give --mem.",
  }),
  "jobs.defaultTimeout": duration({
    default: 0,
    min: 0,
    doc: "Timeout for a job that does not give --timeout; 0 means none.",
  }),
  "jobs.killGrace": duration({
    default: 10_000,
    min: 0,
    doc: "Time between SIGTERM and SIGKILL when a job is killed or times out.",
  }),
  "jobs.logTailBytes": bytes({
    default: 1024 ** 2,
    min: 4096,
    max: 64 * 1024 ** 2,
    doc: "Output kept per job in the store (the newest bytes); older output is dropped.",
  }),
  "jobs.logFlushInterval": duration({
    default: 100,
    min: 10,
    doc: "How long output is batched before it is written to the store.",
  }),
  "jobs.historyLimit": int({
    default: 1000,
    unit: "jobs",
    min: 1,
    doc: "Finished jobs kept (with their log tails); the oldest are pruned past this.",
  }),
  // Placement (core/scheduler): the policy, the power-safety filter and the policies' knobs.
  // Policies read these without the prefix (`ctx.settings.weightFit`).
  "scheduler.policy": str({
    default: "best-fit",
    unit: "policy name",
    doc: "Scheduling policy: best-fit, first-fit, round-robin, power-aware, locality-aware, " +
      "cost-optimized, balanced, or a loaded plugin's name.",
  }),
  "scheduler.minBattery": int({
    default: 20,
    unit: "%",
    min: 0,
    max: 100,
    doc: "A node on battery below this charge gets no job unless the job allows low battery.",
  }),
  "scheduler.maxTemperature": num({
    default: 80,
    unit: "°C",
    min: 0,
    max: 150,
    doc: "A node hotter than this gets no job unless the job allows a hot node.",
  }),
  "scheduler.costDataCenter": num({
    default: 3.0,
    unit: "$/hour",
    min: 0,
    doc: "Cost of a DataCenter node per hour (cost-optimized and balanced policies).",
  }),
  "scheduler.costWorkstation": num({
    default: 0.8,
    unit: "$/hour",
    min: 0,
    doc: "Cost of a Workstation node per hour (cost-optimized and balanced policies).",
  }),
  "scheduler.costLaptop": num({
    default: 0.3,
    unit: "$/hour",
    min: 0,
    doc: "Cost of a Laptop node per hour (cost-optimized and balanced policies).",
  }),
  "scheduler.costEdge": num({
    default: 0.05,
    unit: "$/hour",
    min: 0,
    doc: "Cost of an Edge node per hour (cost-optimized and balanced policies).",
  }),
  "scheduler.weightFit": num({
    default: 1,
    unit: "weight",
    min: 0,
    max: 1000,
    doc: "Balanced policy: weight of a tight fit (bin packing; a CPU job off GPU nodes).",
  }),
  "scheduler.weightLoad": num({
    default: 2,
    unit: "weight",
    min: 0,
    max: 1000,
    doc: "Balanced policy: weight of an idle node (spreading); above weightFit, it spreads.",
  }),
  "scheduler.weightPower": num({
    default: 1,
    unit: "weight",
    min: 0,
    max: 1000,
    doc: "Balanced policy: weight of power (AC over battery, cool over hot).",
  }),
  "scheduler.weightLocality": num({
    default: 1,
    unit: "weight",
    min: 0,
    max: 1000,
    doc: "Balanced policy: weight of a short round trip from the submitter (or the job's near).",
  }),
  "scheduler.weightCost": num({
    default: 1,
    unit: "weight",
    min: 0,
    max: 1000,
    doc: "Balanced policy: weight of a cheap node (the scheduler.cost* settings).",
  }),
  "resources.reservedCpu": num({
    default: 0,
    unit: "CPUs",
    min: 0,
    doc: "CPUs kept back for the system: never offered to jobs.",
  }),
  "resources.reservedMem": bytes({
    default: 0,
    min: 0,
    doc: "Memory kept back for the system: never offered to jobs.",
  }),
  "plugins.paths": strings({
    default: [],
    unit: "paths or URLs",
    doc: "Third-party plugin modules to load at start (each exports `plugin`).",
  }),
  // Membership (SWIM + Lifeguard), in the spirit of memberlist's DefaultLANConfig; see
  // docs/membership.md for what each does and the failure-detection arithmetic.
  "membership.probeInterval": duration({
    // Each probe costs ~4 QUIC packets (ping, ack, and an ACK-only packet for each): 500 ms
    // keeps an idle node under 1 KB/s. The shared probe ring (member_table.ts) still has
    // every member probed about once per interval, so a crash is seen in < 3 s.
    default: 500,
    min: 10,
    doc: "How often this node probes one member (round-robin over a shuffled list).",
  }),
  "membership.probeTimeout": duration({
    default: 100,
    min: 1,
    doc: "Wait for a direct ack before asking other members to probe; below probeInterval.",
  }),
  "membership.indirectChecks": int({
    default: 3,
    unit: "members",
    min: 0,
    max: 16,
    doc: "Members asked to probe a target that missed its direct ack.",
  }),
  "membership.fallbackPing": {
    kind: "bool",
    default: true as boolean,
    unit: "on/off",
    doc: "Also ping a silent target over a reliable stream (memberlist's TCP ping).",
  },
  "membership.suspicionMult": int({
    default: 3,
    unit: "× log10(N) × suspicionUnit",
    min: 1,
    max: 100,
    doc: "Shortest suspicion before a member is declared failed: mult · log10(N) · suspicionUnit.",
  }),
  "membership.suspicionUnit": duration({
    // memberlist uses the probe interval here. Kept apart so that probing less often
    // (fewer bytes at rest) does not stretch suspicions: a suspicion is the time an
    // accused member has to refute, which gossip (not probing) bounds.
    default: 150,
    min: 1,
    doc: "Unit of the suspicion timeouts: shortest = suspicionMult · max(1, log10 N) · unit.",
  }),
  "membership.suspicionMaxTimeoutMult": int({
    default: 6,
    unit: "× shortest suspicion",
    min: 1,
    max: 100,
    doc: "Longest suspicion (an unconfirmed accusation), as a multiple of the shortest.",
  }),
  "membership.retransmitMult": int({
    default: 4,
    unit: "× log10(N+1)",
    min: 1,
    max: 100,
    doc: "Times a rumor is retransmitted: mult · ceil(log10(N + 1)).",
  }),
  "membership.gossipInterval": duration({
    default: 200,
    min: 10,
    doc: "How often queued rumors are sent to gossipNodes random members.",
  }),
  "membership.gossipNodes": int({
    default: 3,
    unit: "members",
    min: 0,
    max: 64,
    doc: "Members each gossip round goes to; 0 leaves rumors to piggyback on probes.",
  }),
  "membership.gossipToTheDead": duration({
    default: 30_000,
    min: 0,
    doc: "How long a failed member still gets gossip (so it can learn of it and refute).",
  }),
  "membership.pushPullInterval": duration({
    // A full state is ~150 bytes per member each way (meta included): at 30 s it was a
    // fifth of an idle node's bytes. Serf spaces it to 60 s past 32 members.
    default: 60_000,
    min: 0,
    doc: "Full-state exchange with one random member (scaled up past 32 members); 0 is off.",
  }),
  "membership.awarenessMaxMultiplier": int({
    default: 8,
    unit: "×",
    min: 1,
    max: 64,
    doc: "Ceiling of Lifeguard's local-health multiplier on probe timeout and interval.",
  }),
  "membership.deadNodeReclaimTime": duration({
    default: 0,
    min: 0,
    doc: "How long a failed or left member must stay so before it may return at a new address.",
  }),
  "membership.reconnectInterval": duration({
    default: 30_000,
    min: 0,
    doc: "How often to try a push-pull with a random failed member (heals partitions); 0 is off.",
  }),
  "membership.reconnectTimeout": duration({
    default: 24 * 3_600_000,
    min: 0,
    doc: "How long a failed member is remembered and retried before it is forgotten.",
  }),
  "membership.tombstoneTimeout": duration({
    default: 24 * 3_600_000,
    min: 0,
    doc: "How long a member that left is remembered before it is forgotten.",
  }),
  "membership.leaveTimeout": duration({
    default: 5_000,
    min: 0,
    doc: "Longest wait, on a graceful leave, for the leave to be gossiped before stopping.",
  }),
  "membership.joinTimeout": duration({
    default: 5_000,
    min: 1,
    doc: "Wait for a seed's push-pull answer before a join attempt counts as failed.",
  }),
  "mesh.host": str({
    default: "0.0.0.0",
    unit: "address",
    doc: "Address the mesh endpoint (QUIC on UDP, node info on TCP, same port number) binds.",
  }),
  "mesh.port": int({
    default: 7946,
    unit: "UDP+TCP port",
    min: 0,
    max: 65535,
    doc:
      "Mesh port: QUIC (UDP) for members, node info and joins' first contact (TCP). 0 picks one.",
  }),
  "mesh.advertise": str({
    default: "",
    unit: "address",
    doc: "Address other members dial; empty: the bound address, else the first non-loopback IPv4.",
  }),
  "transport.maxConnections": int({
    default: 32,
    unit: "connections",
    min: 1,
    max: 4096,
    doc: "Open QUIC connections kept at most; the least recently used idle one is closed first.",
  }),
  "transport.idleTimeout": duration({
    default: 30_000,
    min: 100,
    doc: "A connection with no traffic this long is closed (the next message dials again).",
  }),
  "transport.dialTimeout": duration({
    default: 3_000,
    min: 1,
    doc:
      "Longest wait for a QUIC handshake (the authentication after it has transport.authTimeout).",
  }),
  "transport.authTimeout": duration({
    default: 10_000,
    min: 1,
    doc:
      "Longest wait for the authentication after a QUIC handshake, on both ends. Longer than a dial: a peer that completed the handshake is there, and one busy enough to answer late would otherwise be dialed again, signing all over (on a saturated machine, most dials failed this way at 3 s).",
  }),
  "transport.joinTimeout": duration({
    default: 15_000,
    min: 1,
    doc:
      "Longest wait for a member to grant a join (certificate issued). Longer than a dial: a member busy with many joins at once answers late, and a joiner that gives up early wastes the work done for it.",
  }),
  "transport.maxMessageBytes": bytes({
    default: 4 * 1024 * 1024,
    min: 1024,
    max: 64 * 1024 * 1024,
    doc: "Largest message on a stream; a bigger one is refused and the stream reset.",
  }),
  "transport.handshakeRate": num({
    default: 20,
    unit: "per second",
    min: 0.1,
    max: 100_000,
    doc:
      "Unauthenticated handshakes (connections, info requests, joins) accepted per source address.",
  }),
  "transport.handshakeBurst": int({
    default: 40,
    unit: "handshakes",
    min: 1,
    max: 100_000,
    doc: "Handshakes a source may make at once before its rate applies.",
  }),
  "transport.allow": strings({
    default: [],
    unit: "CIDR",
    doc: "Only these source networks may connect (e.g. 10.0.0.0/8); empty allows all.",
  }),
  "transport.deny": strings({
    default: [],
    unit: "CIDR",
    doc: "Source networks refused before any other work; wins over transport.allow.",
  }),
  "identity.nonceTtl": duration({
    default: 60_000,
    min: 1_000,
    doc: "How long a join challenge may be answered.",
  }),
  "identity.maxClockSkew": duration({
    default: 5 * 60_000,
    min: 1_000,
    doc: "Largest clock difference a join request's timestamp may show.",
  }),
  "discovery.methods": strings({
    default: ["static", "peer-exchange", "mdns", "broadcast"],
    unit: "plugin names",
    doc: "Discovery plugins to run: static, peer-exchange, mdns, broadcast, subnet, registry.",
  }),
  "discovery.interval": duration({
    default: 10_000,
    min: 100,
    doc: "How often discovery plugins announce and look again.",
  }),
  "discovery.peers": strings({
    default: [],
    unit: "host:port",
    doc: "Static peers to join (static plugin); --peer adds to them.",
  }),
  "discovery.broadcastPort": int({
    default: 7947,
    unit: "UDP port",
    min: 1,
    max: 65535,
    doc: "UDP port the broadcast plugin announces on and listens to.",
  }),
  "discovery.subnets": strings({
    default: [],
    unit: "CIDR",
    doc: "Networks the subnet plugin scans for herd nodes (opt-in: empty scans nothing).",
  }),
  "discovery.scanRate": int({
    default: 50,
    unit: "addresses per second",
    min: 1,
    max: 10_000,
    doc: "Subnet scan rate limit.",
  }),
  "discovery.registry": str({
    default: "",
    unit: "URL",
    doc: "A herd registry (herd registry) the registry plugin announces to and lists from.",
  }),
} as const;

export type SettingKey = keyof typeof SETTINGS;
type ValueOf<S> = S extends Setting<infer T> ? T : never;
export type HerdConfig = { readonly [K in SettingKey]: ValueOf<(typeof SETTINGS)[K]> };

export const PROFILE_NAMES = ["lan", "wan", "local"] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** Profiles as overrides of the `lan` defaults (memberlist's DefaultWANConfig/DefaultLocalConfig). */
export const PROFILES: Record<ProfileName, Partial<HerdConfig>> = {
  lan: {},
  wan: {
    "agent.loadInterval": 15_000,
    // memberlist's DefaultWANConfig.
    "membership.probeInterval": 5_000,
    "membership.probeTimeout": 3_000,
    "membership.suspicionMult": 6,
    "membership.suspicionUnit": 5_000,
    "membership.pushPullInterval": 60_000,
    "membership.gossipNodes": 4,
    "membership.gossipInterval": 500,
    "membership.gossipToTheDead": 60_000,
    "membership.joinTimeout": 30_000,
  },
  local: {
    // Loopback test clusters: fast feedback, short grace.
    "agent.loadInterval": 500,
    "agent.loadAnnounceInterval": 200,
    "agent.liveMetaInterval": 0,
    "jobs.killGrace": 2_000,
    "jobs.logFlushInterval": 50,
    // memberlist's DefaultLocalConfig, faster still: loopback answers in microseconds.
    "membership.probeInterval": 100,
    "membership.probeTimeout": 50,
    "membership.suspicionUnit": 100,
    "membership.indirectChecks": 1,
    "membership.retransmitMult": 2,
    "membership.pushPullInterval": 15_000,
    "membership.gossipInterval": 50,
    "membership.gossipToTheDead": 15_000,
    "membership.reconnectInterval": 5_000,
    "membership.leaveTimeout": 1_000,
    "membership.joinTimeout": 1_000,
    // Test clusters on one machine must not find each other by multicast.
    "discovery.methods": ["static", "peer-exchange"],
    "discovery.interval": 1_000,
  },
};

export type Source =
  | { from: "default" }
  | { from: "profile"; name: ProfileName }
  | { from: "file"; path: string }
  | { from: "env"; name: string }
  | { from: "flag"; name: string };

export interface ResolvedConfig {
  profile: ProfileName;
  profileSource: Source;
  values: HerdConfig;
  sources: Readonly<Record<SettingKey, Source>>;
}

export interface ConfigInputs {
  /** Contents and path of herd.toml, when there is one. */
  file?: { path: string; text: string };
  env: Readonly<Record<string, string>>;
  /** `--profile` */
  profileFlag?: string;
  /** `--set key=value` and dedicated flags, already as key → raw text, with the flag's name. */
  flags?: ReadonlyArray<{ key: string; value: string; flag: string }>;
}

/** The environment variable for a key: `jobs.defaultCpu` → `HERD_JOBS_DEFAULT_CPU`. */
export function envName(key: SettingKey): string {
  return "HERD_" + key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/\./g, "_").toUpperCase();
}

/** Environment variables herd reads that are not settings. */
export const NON_SETTING_ENV = new Set([
  "HERD_DATA_DIR",
  "HERD_CONFIG",
  "HERD_PROFILE",
  "HERD_LOG",
  "HERD_JOIN",
]);

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(SETTINGS, key);
}

function describeSource(s: Source): string {
  switch (s.from) {
    case "default":
      return "default";
    case "profile":
      return `profile ${s.name}`;
    case "file":
      return s.path;
    case "env":
      return `env ${s.name}`;
    case "flag":
      return `flag ${s.name}`;
  }
}
export { describeSource };

/** Converts a raw value (text from env/flags, or a TOML value) to the setting's type, validated. */
export function coerce(key: SettingKey, raw: unknown, where: string): unknown {
  const s: Setting<unknown> = SETTINGS[key];
  const bad = (expected: string): never => {
    throw new ConfigError(
      `'${key}' ${where} must be ${expected}: got ${JSON.stringify(raw)}`,
    );
  };
  let v: unknown;
  switch (s.kind) {
    case "int":
    case "number": {
      const n = typeof raw === "number"
        ? raw
        : typeof raw === "string" && raw.trim() !== ""
        ? Number(raw)
        : NaN;
      if (!Number.isFinite(n)) bad(s.kind === "int" ? "a whole number" : "a number");
      if (s.kind === "int" && !Number.isInteger(n)) bad("a whole number");
      v = n;
      break;
    }
    case "bytes":
      if (typeof raw === "number" && Number.isInteger(raw) && raw >= 0) v = raw;
      else if (typeof raw === "string") v = wrapUsage(() => parseSize(raw, `'${key}'`));
      else bad("a size such as 512M");
      break;
    case "duration":
      if (typeof raw === "number" && raw >= 0) v = raw;
      else if (typeof raw === "string") v = wrapUsage(() => parseDuration(raw, `'${key}'`));
      else bad("a duration such as 30s");
      break;
    case "string":
      if (typeof raw !== "string") bad("a string");
      v = raw;
      break;
    case "bool":
      if (typeof raw === "boolean") v = raw;
      else if (raw === "true" || raw === "1") v = true;
      else if (raw === "false" || raw === "0") v = false;
      else bad("true or false");
      break;
    case "labels":
      v = coerceLabels(key, raw, bad);
      break;
    case "strings":
      if (Array.isArray(raw) && raw.every((x) => typeof x === "string")) v = raw;
      else if (typeof raw === "string") v = raw.split(",").map((x) => x.trim()).filter(Boolean);
      else bad("a list of strings");
      break;
  }
  if (typeof v === "number") {
    if (s.min !== undefined && v < s.min) bad(`>= ${s.min}`);
    if (s.max !== undefined && v > s.max) bad(`<= ${s.max}`);
  }
  return v;
}

function wrapUsage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof UsageError) throw new ConfigError(e.message);
    throw e;
  }
}

const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,62}$/;

function coerceLabels(
  key: string,
  raw: unknown,
  bad: (expected: string) => never,
): Labels {
  const out: Record<string, string> = {};
  const add = (k: string, val: unknown) => {
    if (!LABEL_KEY.test(k) || typeof val !== "string" || val.length > 256) {
      bad(`labels like zone=lab (keys [A-Za-z0-9_.-/], values up to 256 characters)`);
    }
    out[k] = val as string;
  };
  if (typeof raw === "string") {
    for (const pair of raw.split(",").map((x) => x.trim()).filter(Boolean)) {
      const eq = pair.indexOf("=");
      if (eq <= 0) bad(`key=value pairs separated by commas (in ${key})`);
      add(pair.slice(0, eq), pair.slice(eq + 1));
    }
  } else if (raw && typeof raw === "object" && !Array.isArray(raw)) {
    for (const [k, val] of Object.entries(raw)) add(k, val);
  } else {
    bad("a table of labels");
  }
  return out;
}

/** Flattens a parsed herd.toml into setting keys, refusing unknown keys. */
function flattenToml(
  obj: Record<string, unknown>,
  path: string,
  prefix = "",
): Array<[SettingKey, unknown]> {
  const out: Array<[SettingKey, unknown]> = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (key === "profile") continue;
    if (isSettingKey(key)) {
      out.push([key, v]);
    } else if (v && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date)) {
      const isPrefix = Object.keys(SETTINGS).some((s) => s.startsWith(key + "."));
      if (!isPrefix) throw unknownKey(key, path);
      out.push(...flattenToml(v as Record<string, unknown>, path, key));
    } else {
      throw unknownKey(key, path);
    }
  }
  return out;
}

function unknownKey(key: string, where: string): ConfigError {
  const lower = key.toLowerCase();
  const near = Object.keys(SETTINGS).find((s) => s.toLowerCase() === lower);
  return new ConfigError(`unknown setting '${key}' in ${where}`, {
    hint: near ? `did you mean '${near}'?` : "`herd config` lists every setting",
  });
}

function parseProfileName(raw: unknown, where: string): ProfileName {
  if (typeof raw === "string" && (PROFILE_NAMES as readonly string[]).includes(raw)) {
    return raw as ProfileName;
  }
  throw new ConfigError(
    `profile ${where} must be one of ${PROFILE_NAMES.join(", ")}: got ${JSON.stringify(raw)}`,
  );
}

/** Resolves the effective configuration. Pure: all inputs are given. */
export function resolveConfig(inputs: ConfigInputs): ResolvedConfig {
  let fileValues: Record<string, unknown> = {};
  if (inputs.file) {
    try {
      fileValues = parseToml(inputs.file.text) as Record<string, unknown>;
    } catch (e) {
      const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
      throw new ConfigError(`${inputs.file.path} is not valid TOML: ${msg}`, { cause: e });
    }
  }

  let profile: ProfileName = "lan";
  let profileSource: Source = { from: "default" };
  if (fileValues.profile !== undefined && inputs.file) {
    profile = parseProfileName(fileValues.profile, `in ${inputs.file.path}`);
    profileSource = { from: "file", path: inputs.file.path };
  }
  if (inputs.env.HERD_PROFILE !== undefined) {
    profile = parseProfileName(inputs.env.HERD_PROFILE, "in HERD_PROFILE");
    profileSource = { from: "env", name: "HERD_PROFILE" };
  }
  if (inputs.profileFlag !== undefined) {
    profile = parseProfileName(inputs.profileFlag, "given by --profile");
    profileSource = { from: "flag", name: "--profile" };
  }

  const values: Record<string, unknown> = {};
  const sources: Record<string, Source> = {};
  for (const [key, s] of Object.entries(SETTINGS)) {
    values[key] = s.default;
    sources[key] = { from: "default" };
  }
  for (const [key, v] of Object.entries(PROFILES[profile])) {
    values[key] = v;
    sources[key] = { from: "profile", name: profile };
  }
  if (inputs.file) {
    const path = inputs.file.path;
    for (const [key, raw] of flattenToml(fileValues, path)) {
      values[key] = coerce(key, raw, `in ${path}`);
      sources[key] = { from: "file", path };
    }
  }
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    const name = envName(key);
    const raw = inputs.env[name];
    if (raw === undefined) continue;
    values[key] = coerce(key, raw, `in ${name}`);
    sources[key] = { from: "env", name };
  }
  for (const { key, value, flag } of inputs.flags ?? []) {
    if (!isSettingKey(key)) throw unknownKey(key, flag);
    values[key] = coerce(key, value, `given by ${flag}`);
    sources[key] = { from: "flag", name: flag };
  }
  return {
    profile,
    profileSource,
    values: values as unknown as HerdConfig,
    sources: sources as Record<SettingKey, Source>,
  };
}

/** HERD_* variables that name no setting: most likely typos, worth a warning. */
export function unknownEnv(env: Readonly<Record<string, string>>): string[] {
  const known = new Set((Object.keys(SETTINGS) as SettingKey[]).map(envName));
  return Object.keys(env).filter((k) =>
    k.startsWith("HERD_") && !known.has(k) && !NON_SETTING_ENV.has(k)
  );
}

/** A value as a user would write it (sizes and durations in their units). */
export function formatValue(key: SettingKey, value: unknown): string {
  const kind = SETTINGS[key].kind;
  if (kind === "bytes") return formatBytes(value as number).replace(" ", "");
  if (kind === "duration") return (value as number) === 0 ? "0" : formatDuration(value as number);
  if (kind === "labels") {
    return Object.entries(value as Labels).map(([k, v]) => `${k}=${v}`).join(",");
  }
  if (kind === "strings") return (value as string[]).join(",");
  return String(value);
}

/** Parses `key=value` given to `--set`. */
export function parseSetFlag(text: string): { key: string; value: string } {
  const eq = text.indexOf("=");
  if (eq <= 0) throw new UsageError(`--set takes key=value: got '${text}'`);
  return { key: text.slice(0, eq).trim(), value: text.slice(eq + 1) };
}
