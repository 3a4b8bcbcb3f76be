// The hardware profile of one node, and the sources it is read from.
// Everything here is plain data (JSON-serialisable): profiles travel in
// member state and are stored in KV; probe records are test fixtures.

/** CPU architecture as the kernel names it (`uname -m`), normalised. */
export type Arch = "x86_64" | "aarch64" | "arm" | "riscv64" | "other";

export interface CpuInfo {
  model: string;
  vendor: string;
  arch: Arch;
  /** Physical cores. */
  cores: number;
  /** Logical CPUs (hardware threads): what the scheduler counts as CPUs. */
  threads: number;
  /** Maximum (or nominal) clock in MHz; 0 when the machine does not say. */
  mhz: number;
}

export interface MemoryInfo {
  totalBytes: number;
  /** MemAvailable at probe time. */
  availableBytes: number;
}

export type GpuVendor = "nvidia" | "amd" | "intel" | "apple" | "other";

export interface GpuInfo {
  index: number;
  vendor: GpuVendor;
  model: string;
  /** Dedicated memory; for an integrated GPU (Jetson), the shared system memory. */
  memoryBytes: number;
  /** CUDA compute capability such as "9.0"; absent for non-NVIDIA GPUs. */
  computeCapability?: string;
  uuid?: string;
  /** Shares system memory (Jetson, iGPU). */
  integrated: boolean;
  /** Counts as a schedulable GPU (`--gpu N`): NVIDIA GPUs, Jetson's, AMD/Intel with >= 1 GiB VRAM. */
  schedulable: boolean;
}

export type StorageKind = "nvme" | "ssd" | "hdd" | "sd" | "emmc" | "other";

export interface StorageDevice {
  name: string;
  kind: StorageKind;
  sizeBytes: number;
  model?: string;
}

export type NetKind = "ethernet" | "wifi" | "other";

export interface NetInterface {
  name: string;
  kind: NetKind;
  /** Link speed in Mbit/s; absent when the kernel does not report one (Wi-Fi, down links). */
  speedMbps?: number;
  up: boolean;
  mac?: string;
  addresses: string[];
}

export interface PowerInfo {
  source: "ac" | "battery" | "unknown";
  hasBattery: boolean;
  /** 0..100 */
  batteryPercent?: number;
  charging?: boolean;
}

export interface DeviceInfo {
  /** DMI sys_vendor, e.g. "Dell Inc.", "Intel(R) Client Systems". */
  vendor?: string;
  /** DMI product_name or board_name, e.g. "NUC8i5BEH". */
  product?: string;
  /** Device-tree model, e.g. "Raspberry Pi 4 Model B Rev 1.4". */
  model?: string;
  /** DMI chassis type name, e.g. "Notebook", "Desktop", "Rack Mount Chassis". */
  chassis?: string;
  /** Hypervisor when virtualised ("kvm", "vmware", ...), from cpuinfo flags and DMI. */
  virtualization?: string;
  /** Jetson L4T release line from /etc/nv_tegra_release. */
  tegraRelease?: string;
}

export interface HardwareProfile {
  schema: 1;
  hostname: string;
  os: string;
  kernel?: string;
  cpu: CpuInfo;
  memory: MemoryInfo;
  gpus: GpuInfo[];
  storage: StorageDevice[];
  network: NetInterface[];
  power: PowerInfo;
  /** Hottest thermal zone in °C; absent when none is readable. */
  temperatureC?: number;
  device: DeviceInfo;
}

export type EdgeDeviceType = "RaspberryPi" | "Jetson" | "NUC" | "Other";

export type NodeClass =
  | { kind: "DataCenter"; gpus: number; bandwidthMbps: number }
  | { kind: "Workstation"; gpuCapable: boolean }
  | { kind: "Laptop"; batteryLevel: number }
  | { kind: "Edge"; deviceType: EdgeDeviceType };

export type NodeClassKind = NodeClass["kind"];

/** Result of running a command during probing. */
export interface CommandOutput {
  code: number;
  stdout: string;
}

/**
 * Where the profiler reads the machine from. The live probe reads /proc, /sys and
 * runs tools; a recorded probe replays a JSON record of a real machine, so tests
 * and `herd up --profile-from` run the same parsing code.
 */
export interface Probe {
  readonly arch: string;
  hostname(): string;
  /** File contents, or undefined when the file does not exist or cannot be read. */
  readText(path: string): Promise<string | undefined>;
  /** Entry names of a directory, or undefined when it does not exist. */
  list(dir: string): Promise<string[] | undefined>;
  /** Runs a tool; undefined when it is not installed. */
  run(cmd: string, args: string[]): Promise<CommandOutput | undefined>;
  /** IP addresses by interface name. */
  addresses(): Promise<Record<string, string[]>>;
}

/** A recording of a machine's probe sources: the fixture format (`herd profile --record`). */
export interface ProbeRecord {
  kind: "herd-probe-record";
  version: 1;
  /** Free text: where and when it was recorded. */
  description?: string;
  arch: string;
  hostname: string;
  /** Absolute path -> contents, for every file read. */
  files: Record<string, string>;
  /** Directory -> entry names, for every directory listed. */
  dirs: Record<string, string[]>;
  /** "cmd arg1 arg2" -> output, for every command run (absent = not installed). */
  commands: Record<string, CommandOutput>;
  addresses: Record<string, string[]>;
}
