// Builds the single-file herd binaries with `deno compile`.
//
//   deno run -A scripts/compile.ts [--target x86_64-unknown-linux-gnu|aarch64-unknown-linux-gnu|all]
//                                  [--verbose]
//
// Writes dist/herd-x86_64 and/or dist/herd-aarch64 (default: all targets). `deno compile` joins
// the program to `denort`, Deno's runtime without the CLI, which it downloads from Deno's release
// host for each target unless DENORT_BIN names a local copy of the same Deno version. Per target,
// DENORT_BIN_X86_64 / DENORT_BIN_AARCH64 win over DENORT_BIN, and DENORT_BIN is only used for the
// target whose architecture its ELF header names (so `--target all` never joins an x86_64
// runtime to an aarch64 build). The full `deno` binary is no substitute: a binary built on it
// ignores the embedded program and behaves as the deno CLI; so a given DENORT_BIN is first
// checked by compiling and running a one-line probe on it (aarch64 through qemu, when set up).

import { parseArgs } from "node:util";

/** Modules that static analysis cannot find and that must be embedded: workers are started with
 * `new URL(..., import.meta.url)`, so list each worker entry point here. Relative to the repo. */
export const INCLUDES: readonly string[] = [
  "plugins/executors/deno_worker.ts",
  "core/scheduler/policy_worker.ts",
];

/** The program's entry point, relative to the repo. */
export const ENTRY = "main.ts";

/** Flags the agent runs with (the same as the deno.json tasks). */
export const FLAGS: readonly string[] = [
  "-A",
  "--unstable-kv",
  "--unstable-net",
  "--unstable-worker-options",
  "--no-code-cache",
  "--v8-flags=--max-semi-space-size=1,--lite-mode",
];

export const TARGETS = {
  "x86_64-unknown-linux-gnu": { arch: "x86_64", elfMachine: 0x3e },
  "aarch64-unknown-linux-gnu": { arch: "aarch64", elfMachine: 0xb7 },
} as const;
export type Target = keyof typeof TARGETS;

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

function usage(): string {
  return `usage: deno run -A scripts/compile.ts [--target ${
    Object.keys(TARGETS).join("|")
  }|all] [--verbose]`;
}

/** The e_machine field of an ELF file, or undefined when it is not one. */
async function elfMachine(path: string): Promise<number | undefined> {
  try {
    using f = await Deno.open(path);
    const head = new Uint8Array(20);
    let n = 0;
    while (n < head.length) {
      const r = await f.read(head.subarray(n));
      if (r === null) break;
      n += r;
    }
    if (n < 20 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) {
      return undefined;
    }
    return new DataView(head.buffer).getUint16(18, head[5] === 1);
  } catch {
    return undefined;
  }
}

/** The denort to use for a target: a per-target variable, or DENORT_BIN if its arch fits. */
async function denortFor(target: Target): Promise<{ path?: string; note?: string }> {
  const { arch, elfMachine: want } = TARGETS[target];
  const specific = Deno.env.get(`DENORT_BIN_${arch.toUpperCase()}`);
  if (specific) return { path: specific };
  const generic = Deno.env.get("DENORT_BIN");
  if (!generic) return {};
  const got = await elfMachine(generic);
  if (got === undefined || got === want) return { path: generic }; // let deno compile judge it
  return {
    note: `DENORT_BIN=${generic} is not an ${arch} binary; not used for ${target} ` +
      `(set DENORT_BIN_${arch.toUpperCase()} for this target)`,
  };
}

/** True when `deno compile` failed because it could not fetch the denort runtime. */
export function isDenortDownloadFailure(stderr: string): boolean {
  return (/denort/i.test(stderr) || /Setting up base binary/.test(stderr)) &&
    /(error sending request|dns error|failed to lookup|connection refused|timed out|unreachable)/i
      .test(stderr);
}

/** Runs `deno compile` in `cwd` with the given denort (or none: deno downloads it). */
async function denoCompile(
  cwd: string,
  target: Target,
  entry: string,
  output: string,
  includes: readonly string[],
  denortPath: string | undefined,
): Promise<{ success: boolean; code: number; text: string }> {
  const env = Deno.env.toObject();
  delete env.DENORT_BIN;
  if (denortPath) env.DENORT_BIN = denortPath;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      ...FLAGS,
      "--target",
      target,
      ...includes.flatMap((p) => ["--include", p]),
      "--output",
      output,
      entry,
    ],
    cwd,
    env,
    clearEnv: true,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return {
    success: out.success,
    code: out.code,
    text: dec.decode(out.stdout) + dec.decode(out.stderr),
  };
}

const PROBE_MARK = "herd-denort-probe-ok";

/** Checks that a DENORT_BIN really is a denort: compiles a one-line program on it and runs it
 * (an aarch64 one through binfmt_misc/qemu when the machine has it, see setup_aarch64.sh). A
 * program built on the full deno CLI ignores its embedded code and prints the deno version. */
async function probeDenort(
  target: Target,
  denortPath: string,
): Promise<{ ok: boolean; message?: string }> {
  const dir = await Deno.makeTempDir({ prefix: "herd-denort-probe-" });
  try {
    await Deno.writeTextFile(`${dir}/probe.ts`, `console.log(${JSON.stringify(PROBE_MARK)});\n`);
    const built = await denoCompile(dir, target, "probe.ts", "probe", [], denortPath);
    if (!built.success) return { ok: false, message: built.text.trimEnd() };
    const env: Record<string, string> = {};
    if (TARGETS[target].arch === "aarch64") env.QEMU_LD_PREFIX = "/usr/aarch64-linux-gnu";
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(`${dir}/probe`, {
        args: ["--version"],
        env,
        stdin: "null",
        signal: AbortSignal.timeout(60_000),
      }).output();
    } catch (e) {
      return {
        ok: true,
        message: `cannot run a ${target} binary here (${(e as Error).message}); ` +
          `DENORT_BIN=${denortPath} not checked`,
      };
    }
    const printed = new TextDecoder().decode(out.stdout).trim();
    if (printed === PROBE_MARK) return { ok: true };
    return {
      ok: false,
      message: `DENORT_BIN=${denortPath} is not a denort runtime: a program compiled on it ` +
        `ignored its code and printed ${JSON.stringify(printed.split("\n")[0] ?? "")} ` +
        `(the full deno binary is no substitute). Point DENORT_BIN at denort ` +
        `(the matching version).`,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function compile(target: Target, verbose: boolean): Promise<boolean> {
  const { arch } = TARGETS[target];
  const output = `dist/herd-${arch}`;
  const denort = await denortFor(target);
  if (denort.note) console.error(`compile: ${denort.note}`);
  if (denort.path) {
    const probe = await probeDenort(target, denort.path);
    if (probe.message) console.error(`compile: ${probe.message}`);
    if (!probe.ok) return false;
  }

  await Deno.mkdir(`${ROOT}/dist`, { recursive: true });
  const started = performance.now();
  console.error(
    `compile: ${target} -> ${output}${denort.path ? ` (DENORT_BIN=${denort.path})` : ""}`,
  );
  const out = await denoCompile(ROOT, target, ENTRY, output, INCLUDES, denort.path);
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  if (out.success) {
    if (verbose) console.error(out.text.trimEnd());
    const size = (await Deno.stat(`${ROOT}/${output}`)).size;
    console.log(
      `compiled ${output} for ${target}: ${(size / 2 ** 20).toFixed(1)} MiB in ${secs} s`,
    );
    return true;
  }
  if (isDenortDownloadFailure(out.text) && !denort.path) {
    if (verbose) console.error(out.text.trimEnd());
    console.error(
      `deno compile needs the denort runtime for ${target}, which is downloaded from Deno's ` +
        `release host; that host is unreachable here. Set DENORT_BIN=/path/to/denort ` +
        `(the matching version) and rerun.`,
    );
    return false;
  }
  console.error(out.text.trimEnd());
  console.error(`compile: deno compile for ${target} failed (exit ${out.code})`);
  return false;
}

if (import.meta.main) {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        target: { type: "string", default: "all" },
        verbose: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${usage()}`);
    Deno.exit(2);
  }
  if (values.help) {
    console.log(usage());
    Deno.exit(0);
  }
  const targets: Target[] = values.target === "all"
    ? Object.keys(TARGETS) as Target[]
    : values.target in TARGETS
    ? [values.target as Target]
    : [];
  if (targets.length === 0) {
    console.error(`unknown target ${values.target}\n${usage()}`);
    Deno.exit(2);
  }
  let ok = true;
  for (const t of targets) ok = (await compile(t, values.verbose)) && ok;
  Deno.exit(ok ? 0 : 1);
}
