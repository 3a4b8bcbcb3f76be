// A process started inside a lab host: its pid, a bounded tail of its output, optional line
// callbacks (agents log what they see: reading lines as they come misses nothing a poll would),
// and a kill that does not throw when the process has already exited.

/** Bytes of each stream kept; older output is dropped, so a chatty agent cannot fill memory. */
export const OUTPUT_TAIL_BYTES = 64 * 1024;

export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Called once per complete line of stdout or stderr, as it arrives. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

export class LabProcess {
  readonly pid: number;
  /** Resolves when the process has exited and its output has been read to the end. */
  readonly status: Promise<Deno.CommandStatus>;
  #out = "";
  #err = "";
  #child: Deno.ChildProcess;
  #exit: Deno.CommandStatus | null = null;

  constructor(readonly label: string, child: Deno.ChildProcess, opts: SpawnOptions = {}) {
    this.pid = child.pid;
    this.#child = child;
    const read = async (s: ReadableStream<Uint8Array>, stream: "stdout" | "stderr") => {
      let partial = "";
      for await (const text of s.pipeThrough(new TextDecoderStream())) {
        this.#append(stream, text);
        if (!opts.onLine) continue;
        const lines = (partial + text).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) opts.onLine(line, stream);
      }
      if (partial && opts.onLine) opts.onLine(partial, stream);
    };
    const reading = Promise.all([read(child.stdout, "stdout"), read(child.stderr, "stderr")]);
    this.status = reading.then(() => child.status);
    child.status.then((s) => this.#exit = s);
  }

  /** The last OUTPUT_TAIL_BYTES of stdout. */
  get stdout(): string {
    return this.#out;
  }
  /** The last OUTPUT_TAIL_BYTES of stderr. */
  get stderr(): string {
    return this.#err;
  }
  /** The exit status, or null while it runs. */
  get exited(): Deno.CommandStatus | null {
    return this.#exit;
  }

  /** Sends a signal; a process that has already exited is left as it is. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#exit) return;
    try {
      this.#child.kill(signal);
    } catch (e) {
      // Deno throws TypeError when the child exited between the check and the kill.
      if (!(e instanceof TypeError)) throw e;
    }
  }

  /** Kills with SIGKILL and waits for the exit, at most `ms`. */
  async stop(ms = 10_000): Promise<Deno.CommandStatus> {
    this.kill("SIGKILL");
    return await withDeadline(this.status, ms, `${this.label} (pid ${this.pid}) to exit`);
  }

  /** stdout and stderr tails, for error messages. */
  describe(): string {
    return `${this.label} (pid ${this.pid})\n--- stdout\n${this.#out}\n--- stderr\n${this.#err}`;
  }

  #append(stream: "stdout" | "stderr", text: string): void {
    const cut = (s: string) => s.length > 2 * OUTPUT_TAIL_BYTES ? s.slice(-OUTPUT_TAIL_BYTES) : s;
    if (stream === "stdout") this.#out = cut(this.#out + text);
    else this.#err = cut(this.#err + text);
  }
}

/** Waits for `p` at most `ms`, then rejects naming what it waited for. */
export async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` every `everyMs` until it returns a value other than undefined, or fails at the deadline. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  opts: { timeoutMs: number; everyMs?: number },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${opts.timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 100));
  }
}
