// What every command shares: argument parsing with clear errors, the data dir and
// config, the API client, and output helpers.

import { parseArgs, type ParseArgsConfig } from "node:util";
import { ApiError, ConfigError, HerdError, NotRunningError, UsageError } from "../core/errors.ts";
import { type DataDirSource, files, findAgent, resolveDataDir } from "../core/datadir.ts";
import { parseSetFlag, resolveConfig, type ResolvedConfig, unknownEnv } from "../core/config.ts";

export type Options = NonNullable<ParseArgsConfig["options"]>;

/** Flags every command takes. */
export const GLOBAL_OPTIONS = {
  "data-dir": { type: "string" },
  "help": { type: "boolean", short: "h" },
} satisfies Options;

/** Flags of commands that resolve the config (`up`, `config`). */
export const CONFIG_OPTIONS = {
  "config": { type: "string" },
  "profile": { type: "string" },
  "set": { type: "string", multiple: true },
} satisfies Options;

/** node:util's parseArgs, with its errors turned into one-line usage errors. */
export function parse<O extends Options>(
  command: string,
  args: string[],
  options: O,
  positionals = 0,
) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...GLOBAL_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    const msg = (e as Error).message
      .replace(/^Unknown option '(.*?)'.*$/s, "unknown flag $1")
      .replace(/^Option '(.*?)' argument missing.*$/s, "flag $1 needs a value")
      .replace(/^Option '(--[\w-]+)' argument is ambiguous.*$/s, (_, f) => {
        const i = args.indexOf(f);
        return `flag ${f} needs a value (write ${f}=${
          args[i + 1] ?? "VALUE"
        } for one that starts with a dash)`;
      })
      .replace(/\. To specify a positional argument.*$/s, "");
    throw new UsageError(`${command}: ${msg}`, { hint: `see 'herd ${command} --help'` });
  }
  if (parsed.positionals.length > positionals) {
    throw new UsageError(`${command}: unexpected argument '${parsed.positionals[positionals]}'`, {
      hint: `see 'herd ${command} --help'`,
    });
  }
  return parsed;
}

export function env(): Record<string, string> {
  return Deno.env.toObject();
}

export function dataDir(flag: string | undefined): DataDirSource {
  return resolveDataDir(flag, env());
}

/** Resolves config from herd.toml (--config, HERD_CONFIG or the data dir's), env and flags. */
export async function loadConfig(
  dir: string,
  values: { config?: string; profile?: string; set?: string[] },
  extraFlags: Array<{ key: string; value: string; flag: string }> = [],
): Promise<ResolvedConfig> {
  const e = env();
  const explicit = values.config ?? e.HERD_CONFIG;
  const path = explicit ?? files(dir).config;
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new ConfigError(`cannot read ${path}: ${(err as Error).message}`);
    }
    if (explicit) throw new ConfigError(`config file ${path} does not exist`);
  }
  for (const name of unknownEnv(e)) {
    console.error(`herd: warning: ${name} is not a herd setting (ignored)`);
  }
  const flags = [
    ...(values.set ?? []).map((s) => ({ ...parseSetFlag(s), flag: "--set" })),
    ...extraFlags,
  ];
  return resolveConfig({
    file: text === undefined ? undefined : { path, text },
    env: e,
    profileFlag: values.profile,
    flags,
  });
}

/** A client for the agent running on a data dir. */
export class Client {
  private constructor(
    readonly baseUrl: string,
    private readonly token: string,
    readonly dir: string,
  ) {}

  static async connect(dir: string): Promise<Client> {
    const { info, token } = await findAgent(dir);
    return new Client(info.apiUrl, token, dir);
  }

  async request(method: string, path: string, body?: unknown): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new NotRunningError(
        `cannot reach the herd node on ${this.dir} at ${this.baseUrl}: ${(e as Error).message}`,
        {
          hint: "it may have stopped: start it with `herd up`",
        },
      );
    }
    if (!res.ok) {
      let err: { code?: string; message?: string; hint?: string } = {};
      try {
        err = (await res.json()).error ?? {};
      } catch {
        err = { message: `HTTP ${res.status}` };
      }
      throw new ApiError(res.status, err.code ?? "error", err.message ?? `HTTP ${res.status}`, {
        hint: err.hint,
      });
    }
    return res;
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.request(method, path, body)).json() as Promise<T>;
  }
}

/** Reads an NDJSON response line by line. */
export async function* ndjson<T>(res: Response): AsyncGenerator<T> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let ended = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line) yield JSON.parse(line) as T;
      }
    }
    ended = true;
  } finally {
    // A consumer that leaves early closes the stream, so the node stops sending at once.
    if (!ended) await reader.cancel();
  }
  if (buf.trim()) yield JSON.parse(buf) as T;
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** Exit status of a program whose reader went away (128 + SIGPIPE), as `cat | head` gives. */
export const EXIT_BROKEN_PIPE = 141;

export class ReaderGone extends Error {}

/** Writes raw bytes to stdout or stderr, whole; ReaderGone when the pipe was closed. */
export async function writeAll(
  w: { write(p: Uint8Array): Promise<number> },
  data: Uint8Array,
): Promise<void> {
  let off = 0;
  try {
    while (off < data.length) off += await w.write(data.subarray(off));
  } catch (e) {
    if (e instanceof Deno.errors.BrokenPipe) throw new ReaderGone();
    throw e;
  }
}

export { HerdError, UsageError };
