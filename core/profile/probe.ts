// The three Probe implementations: the live machine, a replayed recording, and a recorder
// that wraps either. All profile parsing goes through a Probe, so a fixture of a Jetson runs
// exactly the code a Jetson runs.

import { parseProbeRecord } from "./probe_record.ts";
import type { CommandOutput, Probe, ProbeRecord } from "./types.ts";

export { parseProbeRecord };

/** How long a probing command may run: a hung nvidia-smi (driver in a bad state) must not hang startup. */
export const COMMAND_TIMEOUT_MS = 5_000;
/** After a timeout the child is killed; this long is allowed for it to exit before it is abandoned. */
export const COMMAND_KILL_GRACE_MS = 1_000;
/** Exit code reported for a command that timed out, as coreutils' `timeout` does. */
export const COMMAND_TIMEOUT_EXIT_CODE = 124;

export interface LiveProbeOptions {
  /** @default COMMAND_TIMEOUT_MS */
  commandTimeoutMs?: number;
}

/** The key of a command in `ProbeRecord.commands`: "cmd arg1 arg2". */
export function commandKey(cmd: string, args: string[]): string {
  return [cmd, ...args].join(" ");
}

/**
 * Errors that mean "this source cannot be read here", which is normal when probing: the file
 * is absent, not ours to read, or a sysfs attribute that refuses reads in the device's current
 * state (`speed` of a down link gives EINVAL, a sleeping device ENODEV/ENODATA, a failing
 * battery controller EIO). Anything else (a missing Deno permission, say) is a real error.
 */
function isUnreadable(e: unknown): boolean {
  if (
    e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied ||
    e instanceof Deno.errors.IsADirectory || e instanceof Deno.errors.NotADirectory
  ) return true;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" &&
    ["EINVAL", "ENODEV", "ENODATA", "ENXIO", "EIO", "EAGAIN", "EBUSY"].includes(code);
}

/** Reads this machine: /proc, /sys, and tools such as nvidia-smi. */
export class LiveProbe implements Probe {
  readonly arch: string = Deno.build.arch;
  readonly #timeoutMs: number;

  constructor(options: LiveProbeOptions = {}) {
    const timeout = options.commandTimeoutMs ?? COMMAND_TIMEOUT_MS;
    if (!(timeout > 0)) throw new RangeError(`'commandTimeoutMs' must be > 0: got ${timeout}`);
    this.#timeoutMs = timeout;
  }

  hostname(): string {
    return Deno.hostname();
  }

  async readText(path: string): Promise<string | undefined> {
    try {
      return await Deno.readTextFile(path);
    } catch (e) {
      if (isUnreadable(e)) return undefined;
      throw e;
    }
  }

  async list(dir: string): Promise<string[] | undefined> {
    try {
      const names: string[] = [];
      for await (const entry of Deno.readDir(dir)) names.push(entry.name);
      // readDir order is arbitrary; sorted listings make recordings reproducible.
      return names.sort();
    } catch (e) {
      if (isUnreadable(e)) return undefined;
      throw e;
    }
  }

  async run(cmd: string, args: string[]): Promise<CommandOutput | undefined> {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(cmd, {
        args,
        stdin: "null",
        stdout: "piped",
        stderr: "null",
        // Tools print numbers with the C locale's decimal point.
        env: { LC_ALL: "C" },
      }).spawn();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
    const output = child.output();
    const finished = await within(output, this.#timeoutMs);
    if (finished !== undefined) {
      return { code: finished.code, stdout: new TextDecoder().decode(finished.stdout) };
    }
    try {
      child.kill("SIGKILL");
    } catch (e) {
      // Deno throws TypeError when the child exited between the timeout and the kill.
      if (!(e instanceof TypeError)) throw e;
    }
    // A process stuck in the kernel (D state) survives SIGKILL: stop waiting for it.
    if (await within(output, COMMAND_KILL_GRACE_MS) === undefined) child.unref();
    return { code: COMMAND_TIMEOUT_EXIT_CODE, stdout: "" };
  }

  addresses(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const nic of Deno.networkInterfaces()) (out[nic.name] ??= []).push(nic.address);
    return Promise.resolve(out);
  }
}

/** The promise's value, or undefined when it does not settle within `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Replays a recording: whatever the record does not hold does not exist on that machine. */
export class RecordedProbe implements Probe {
  readonly arch: string;
  readonly #record: ProbeRecord;

  constructor(record: ProbeRecord) {
    this.#record = record;
    this.arch = record.arch;
  }

  /** Parses and validates a record's JSON text. */
  static fromJson(text: string): RecordedProbe {
    return new RecordedProbe(parseProbeRecord(JSON.parse(text)));
  }

  hostname(): string {
    return this.#record.hostname;
  }

  readText(path: string): Promise<string | undefined> {
    return Promise.resolve(own(this.#record.files, path));
  }

  list(dir: string): Promise<string[] | undefined> {
    const names = own(this.#record.dirs, dir);
    return Promise.resolve(names === undefined ? undefined : [...names]);
  }

  run(cmd: string, args: string[]): Promise<CommandOutput | undefined> {
    const out = own(this.#record.commands, commandKey(cmd, args));
    return Promise.resolve(out === undefined ? undefined : { ...out });
  }

  addresses(): Promise<Record<string, string[]>> {
    return Promise.resolve(structuredClone(this.#record.addresses));
  }
}

/** Wraps a probe and keeps everything read through it, for `.record()` to return as a fixture. */
export class RecordingProbe implements Probe {
  readonly arch: string;
  readonly #inner: Probe;
  // Null prototypes: a recorded path is data, whatever it is called.
  readonly #files: Record<string, string> = Object.create(null);
  readonly #dirs: Record<string, string[]> = Object.create(null);
  readonly #commands: Record<string, CommandOutput> = Object.create(null);
  #addresses: Record<string, string[]> = {};

  constructor(inner: Probe) {
    this.#inner = inner;
    this.arch = inner.arch;
  }

  hostname(): string {
    return this.#inner.hostname();
  }

  async readText(path: string): Promise<string | undefined> {
    const text = await this.#inner.readText(path);
    if (text !== undefined) this.#files[path] = text;
    return text;
  }

  async list(dir: string): Promise<string[] | undefined> {
    const names = await this.#inner.list(dir);
    if (names !== undefined) this.#dirs[dir] = [...names];
    return names;
  }

  async run(cmd: string, args: string[]): Promise<CommandOutput | undefined> {
    const out = await this.#inner.run(cmd, args);
    if (out !== undefined) this.#commands[commandKey(cmd, args)] = { ...out };
    return out;
  }

  async addresses(): Promise<Record<string, string[]>> {
    const addresses = await this.#inner.addresses();
    this.#addresses = structuredClone(addresses);
    return addresses;
  }

  /** Everything read so far, as a fixture (keys sorted, so a re-recording diffs cleanly). */
  record(description?: string): ProbeRecord {
    return {
      kind: "herd-probe-record",
      version: 1,
      ...(description === undefined ? {} : { description }),
      arch: this.arch,
      hostname: this.#inner.hostname(),
      files: sortedKeys(this.#files),
      dirs: sortedKeys(this.#dirs),
      commands: sortedKeys(this.#commands),
      addresses: sortedKeys(this.#addresses),
    };
  }
}

function own<T>(map: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

function sortedKeys<T>(map: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(map).sort().map((k) => [k, structuredClone(map[k])]));
}
