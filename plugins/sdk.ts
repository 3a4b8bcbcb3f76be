// The plugin SDK: the only module a plugin imports, and the only place the core
// learns what a plugin is. Four kinds, one small interface each. A plugin module
// exports `plugin`, declared with `satisfies` against its kind:
//
//   import type { ExecutorPlugin } from "herd/plugins/sdk.ts";
//   export const plugin = { kind: "executor", name: "echo", sdk: 1, ... } satisfies ExecutorPlugin;
//
// Import it with `import type`: types vanish at run time, so a plugin loaded from
// a path or URL has no run-time dependency on herd's files.

/** Bumped only when a contract changes incompatibly; the loader refuses other versions. */
export const SDK_VERSION = 1;

export type PluginKind = "discovery" | "topology" | "scheduling-policy" | "executor";

interface PluginBase {
  /** Unique within its kind: what config and flags name it by (`--policy best-fit`). */
  name: string;
  /** The SDK version the plugin was written against. */
  sdk: typeof SDK_VERSION;
  description?: string;
}

// ───────────────────────────── shared data ─────────────────────────────

export const ARCHES = ["x86_64", "aarch64", "arm", "riscv64", "other"] as const;
export type Arch = typeof ARCHES[number];
export const NODE_CLASSES = ["DataCenter", "Workstation", "Laptop", "Edge"] as const;
export type NodeClassKind = typeof NODE_CLASSES[number];

/** Resources as the scheduler counts them. */
export interface Resources {
  /** CPUs (hardware threads), fractional. */
  cpu: number;
  memBytes: number;
  gpus: number;
}

/** What a policy sees of one node: a snapshot, never a live object. */
export interface NodeSnapshot {
  id: string;
  name: string;
  arch: Arch;
  class: NodeClassKind;
  /** Edge device type (RaspberryPi, Jetson, NUC, Other), when class is Edge. */
  deviceType?: string;
  labels: Readonly<Record<string, string>>;
  capacity: Resources;
  free: Resources;
  gpuModels: readonly string[];
  /** Largest GPU memory on the node, bytes (0 without GPUs). */
  gpuMemBytes: number;
  /** Highest CUDA compute capability, e.g. 8.9 (0 without). */
  gpuComputeCapability: number;
  onBattery: boolean;
  batteryPercent?: number;
  temperatureC?: number;
  /** One-minute load average, when the node reports it. */
  load1?: number;
  /** Jobs running on the node (0 when the node does not say). */
  runningJobs: number;
  /**
   * Estimated round trip in ms from the locality reference (the job's `near`, else the
   * submitter); absent when there is no estimate. Filled by the snapshot builder, so a
   * policy needs no network to use it.
   */
  rttMs?: number;
  /** Position of the node in the id-sorted snapshot, from 0: what round-robin rotates over. */
  ordinal: number;
}

/** What a job asks for, as a policy sees it. Every constraint is optional. */
export interface JobRequest {
  id: string;
  resources: Resources;
  /** Only nodes of this architecture. */
  arch?: Arch;
  /** Only nodes of this class. */
  class?: NodeClassKind;
  /** Node selector: the node must carry every key=value. */
  labels?: Readonly<Record<string, string>>;
  /** A GPU model containing this text, case-insensitive ("a100", "Orin"). */
  gpuModel?: string;
  /** Smallest memory per GPU, bytes. */
  gpuMemBytes?: number;
  /** Lowest CUDA compute capability, e.g. 8.0. */
  gpuComputeCapability?: number;
  /** Allow a battery-powered node below `scheduler.minBattery`. */
  allowLowBattery?: boolean;
  /** Allow a node above `scheduler.maxTemperature`. */
  allowHot?: boolean;
  /** Node id that locality (`NodeSnapshot.rttMs`) is measured from; default the submitter. */
  near?: string;
  /** Anti-affinity: node ids that already hold a replica, never chosen again. */
  spreadAvoid?: readonly string[];
  /** Anti-affinity with other jobs: node id → the job there this one must not run beside. */
  avoidNodes?: Readonly<Record<string, string>>;
}

// ───────────────────────────── executor ─────────────────────────────

/** What an executor is handed to run one attempt of a job. */
export interface ExecutorContext {
  jobId: string;
  attempt: number;
  /** The executor's own part of the job spec, already checked by `validate`. */
  task: Readonly<Record<string, unknown>>;
  /** Environment herd adds (HERD_JOB_ID, CUDA_VISIBLE_DEVICES, …), merged under the task's own. */
  env: Readonly<Record<string, string>>;
  /** 0 means no timeout. */
  timeoutMs: number;
  /** Time between the polite stop (SIGTERM) and the forced one. */
  killGraceMs: number;
  /** Aborted when the job is killed: stop the work and return. */
  signal: AbortSignal;
  /**
   * Output of the work. Await the result before reading more: an attached reader that is
   * slow slows the job down (as a terminal does) instead of herd buffering without bound.
   */
  stdout(chunk: Uint8Array): void | Promise<void>;
  stderr(chunk: Uint8Array): void | Promise<void>;
}

export type ExecutorOutcome =
  /** The work ran to its end; exitCode 0 is success. */
  | { status: "exited"; exitCode: number; result?: unknown }
  /** Ended by a signal (killed, or stopped at its timeout). */
  | { status: "signaled"; signal: string; exitCode: number; timedOut: boolean }
  /** Could not be started or failed inside the executor; `message` is for the user. */
  | { status: "error"; exitCode: number; message: string };

export interface ExecutorPlugin extends PluginBase {
  kind: "executor";
  /** Checks the task part of a job spec; returns a message for the user when it is wrong. */
  validate(task: Readonly<Record<string, unknown>>): string | undefined;
  run(ctx: ExecutorContext): Promise<ExecutorOutcome>;
}

// ───────────────────────────── scheduling policy ─────────────────────────────

/** What a policy is told besides the job and the node: the same for every node of one decision. */
export interface PolicyContext {
  /** The `scheduler.*` settings without the prefix (`weightFit`, `costEdge`, …). */
  settings: Readonly<Record<string, unknown>>;
  /** Placements this placer has made before this one: what round-robin rotates on. */
  sequence: number;
  /** Nodes in the snapshot, feasible or not. */
  nodeCount: number;
}

/**
 * Pure: same snapshot in, same answer out. No I/O, no clock, no randomness. The core runs
 * its own feasibility filters (resources, arch, class, labels, GPU, power, spread) first;
 * ties between equal scores are broken by node id, so a policy need not break them.
 */
export interface SchedulingPolicy extends PluginBase {
  kind: "scheduling-policy";
  /** Optional extra feasibility check: a reason when the node must not be used. */
  filter?(job: JobRequest, node: NodeSnapshot, ctx: PolicyContext): string | undefined;
  /** Higher is better; a finite number. Called only for feasible nodes. */
  score(job: JobRequest, node: NodeSnapshot, ctx: PolicyContext): number;
}

// ───────────────────────────── discovery ─────────────────────────────

/** A possible peer. Discovery only finds candidates: joining still needs the token. */
export interface Candidate {
  /** Host (IPv4/IPv6 literal or name) of its mesh endpoint. */
  address: string;
  /** Its mesh port (QUIC on UDP, node info on TCP). */
  port: number;
  /** Which discovery plugin found it. */
  via: string;
  /** Its node id, when the announcement said it. */
  nodeId?: string;
  /** Its cluster: the CA fingerprint (64 hex) or a prefix of it, when announced. */
  cluster?: string;
}

export interface DiscoveryContext {
  /**
   * This node, to advertise: its id, the address others should dial (may be empty when
   * unknown: announce without it and let receivers use the packet's source), its mesh
   * port and its cluster's CA fingerprint (64 hex; empty before the node has joined).
   */
  self: { id: string; address: string; port: number; cluster: string };
  /** Plugin settings: the `discovery.*` values (interval in ms, peers, subnets, …). */
  config: Readonly<Record<string, unknown>>;
  found(candidate: Candidate): void;
  /** Members this node knows or knew (remembered across restarts): for peer exchange. */
  knownPeers(): Candidate[];
  log(message: string): void;
  /** Aborted when the node stops; plugins end their loops and close their sockets. */
  signal: AbortSignal;
}

export interface DiscoveryPlugin extends PluginBase {
  kind: "discovery";
  start(ctx: DiscoveryContext): Promise<void>;
  stop(): Promise<void>;
}

// ───────────────────────────── topology ─────────────────────────────

export interface TopologyMember {
  id: string;
  class: NodeClassKind;
  /** Whether others can dial it directly (not behind a NAT). */
  reachable: boolean;
}

export interface TopologyInput {
  self: TopologyMember;
  members: readonly TopologyMember[];
  /** Estimated round trip in ms between two members, when known. */
  rtt(a: string, b: string): number | undefined;
}

export interface TopologyPlan {
  /** Members to keep a direct connection to. */
  connect: string[];
  /** Member id → the member to relay through when it is not connected directly. */
  via: Record<string, string>;
}

export interface TopologyPlugin extends PluginBase {
  kind: "topology";
  plan(input: TopologyInput): TopologyPlan;
}

export type Plugin = ExecutorPlugin | SchedulingPolicy | DiscoveryPlugin | TopologyPlugin;
