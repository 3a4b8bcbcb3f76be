// Real agents and real CLI processes for integration tests: each test gets its own
// data dir and an ephemeral API port, and talks to the agent only through `herd`.

import assert from "node:assert/strict";
import { FLAGS as AGENT_FLAGS } from "../../scripts/compile.ts";

const ROOT = new URL("../../", import.meta.url);
export const MAIN = new URL("main.ts", ROOT).pathname;
export const FIXTURES = new URL("tests/fixtures/", ROOT).pathname;
// As the deno.json tasks and the compiled binary run herd.
export const DENO_FLAGS = ["run", ...AGENT_FLAGS];

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `herd ARGS` to completion; killed (and a failure) after `timeoutMs`. */
export async function herd(
  dataDir: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<Result> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...DENO_FLAGS, MAIN, ...args],
    env: { HERD_DATA_DIR: dataDir, NO_COLOR: "1", ...opts.env },
    cwd: opts.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill("SIGKILL");
  }, opts.timeoutMs ?? 120_000);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  const r = { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  if (hung) {
    throw new Error(
      `herd ${args.join(" ")}: still running after ${opts.timeoutMs ?? 120_000} ms\n${r.stderr}`,
    );
  }
  return r;
}

export class Agent {
  #stdout = "";
  #stderr = "";
  #reading: Promise<void>;

  private constructor(readonly dataDir: string, readonly child: Deno.ChildProcess) {
    const dec = new TextDecoder();
    const read = async (s: ReadableStream<Uint8Array>, to: "out" | "err") => {
      for await (const c of s) {
        if (to === "out") this.#stdout += dec.decode(c);
        else this.#stderr += dec.decode(c);
      }
    };
    this.#reading = Promise.all([read(child.stdout, "out"), read(child.stderr, "err")]).then(
      () => {},
    );
  }

  get stdout() {
    return this.#stdout;
  }
  get stderr() {
    return this.#stderr;
  }

  /** Starts `herd up` and waits until its API answers. */
  static async start(
    opts: { dataDir?: string; args?: string[]; env?: Record<string, string> } = {},
  ): Promise<Agent> {
    const dataDir = opts.dataDir ?? await Deno.makeTempDir({ prefix: "herd-test-" });
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        ...DENO_FLAGS,
        // e.g. HERD_AGENT_DENO_FLAGS=--cpu-prof to profile the agents of a bench.
        ...(Deno.env.get("HERD_AGENT_DENO_FLAGS")?.split(" ").filter(Boolean) ?? []),
        MAIN,
        "up",
        "--api-port",
        "0",
        "--profile",
        "local",
        // Each test node gets its own mesh port on loopback.
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        ...(opts.args ?? []),
      ],
      env: { HERD_DATA_DIR: dataDir, NO_COLOR: "1", ...opts.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const agent = new Agent(dataDir, child);
    const deadline = Date.now() + 30_000;
    let exited = false;
    child.status.then(() => exited = true);
    while (Date.now() < deadline) {
      if (exited) {
        await agent.#reading;
        throw new Error(`herd up exited early:\n${agent.stdout}\n${agent.stderr}`);
      }
      if (/api\s+http/.test(agent.stdout)) return agent;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGKILL");
    throw new Error(`herd up did not start in 30 s:\n${agent.stdout}\n${agent.stderr}`);
  }

  herd(
    args: string[],
    opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
  ): Promise<Result> {
    return herd(this.dataDir, args, opts);
  }

  /** Stops the agent with a signal and waits for it to exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch (e) {
      if (!(e instanceof TypeError)) throw e; // already exited
    }
    const status = await this.child.status;
    await this.#reading;
    return status;
  }
}

/** Asserts a CLI result, showing its output when it fails. */
export function expectCode(r: Result, code: number, what = ""): void {
  assert.equal(
    r.code,
    code,
    `${what} exit ${r.code}, wanted ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
  );
}

/** Polls `ok` every 200 ms until it holds; fails naming `what` after `ms`. */
export async function until(what: string, ok: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
