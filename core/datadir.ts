// The data dir: where a node keeps its store, its API token and how to reach it.
//
//   herd.kv       the Deno KV store
//   herd.toml     optional config file
//   agent.lock    held (flock) by the running agent: one agent per data dir
//   agent.json    written by the running agent: pid and API address, for the CLI
//   api.token     the secret the CLI presents to the API (mode 0600)

import { join } from "node:path";
import { AlreadyRunningError, HerdError, NotRunningError } from "./errors.ts";

export interface DataDirSource {
  path: string;
  from: "flag" | "env" | "default";
}

/** --data-dir, then HERD_DATA_DIR, then $XDG_DATA_HOME/herd, then ~/.local/share/herd. */
export function resolveDataDir(
  flag: string | undefined,
  env: Readonly<Record<string, string>>,
): DataDirSource {
  if (flag) return { path: absolute(flag), from: "flag" };
  if (env.HERD_DATA_DIR) return { path: absolute(env.HERD_DATA_DIR), from: "env" };
  if (env.XDG_DATA_HOME) {
    return { path: join(absolute(env.XDG_DATA_HOME), "herd"), from: "default" };
  }
  if (!env.HOME) {
    throw new HerdError("cannot choose a data dir: HOME is not set", {
      hint: "give one with --data-dir DIR or HERD_DATA_DIR",
    });
  }
  return { path: join(env.HOME, ".local", "share", "herd"), from: "default" };
}

function absolute(p: string): string {
  return p.startsWith("/") ? p : join(Deno.cwd(), p);
}

export const files = (dir: string) => ({
  kv: join(dir, "herd.kv"),
  config: join(dir, "herd.toml"),
  lock: join(dir, "agent.lock"),
  agent: join(dir, "agent.json"),
  token: join(dir, "api.token"),
});

/** What the running agent publishes for the CLI. */
export interface AgentInfo {
  pid: number;
  nodeId: string;
  apiUrl: string;
  startedAt: number;
}

/** Takes the data dir for this agent; throws when another agent holds it. */
export async function lockDataDir(dir: string): Promise<Deno.FsFile> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const f = files(dir);
  const lock = await Deno.open(f.lock, { create: true, write: true });
  if (!(await lock.tryLock(true))) {
    lock.close();
    const info = await readAgentInfo(dir);
    throw new AlreadyRunningError(
      `a herd node is already running on ${dir}` +
        (info ? ` (pid ${info.pid}, API ${info.apiUrl})` : ""),
      { hint: "stop it first, or start this one with another --data-dir" },
    );
  }
  return lock;
}

/** True when an agent holds the data dir's lock. */
export async function isLocked(dir: string): Promise<boolean> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(files(dir).lock, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
  try {
    const free = await f.tryLock(false);
    if (free) await f.unlock();
    return !free;
  } finally {
    f.close();
  }
}

export async function readAgentInfo(dir: string): Promise<AgentInfo | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(files(dir).agent)) as AgentInfo;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof SyntaxError) return undefined;
    throw e;
  }
}

export async function writeAgentInfo(dir: string, info: AgentInfo): Promise<void> {
  const tmp = files(dir).agent + ".tmp";
  await Deno.writeTextFile(tmp, JSON.stringify(info) + "\n", { mode: 0o600 });
  await Deno.rename(tmp, files(dir).agent);
}

export async function removeAgentInfo(dir: string): Promise<void> {
  await Deno.remove(files(dir).agent).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/** The API token, created on first start and kept: the CLI reads it to authenticate. */
export async function ensureToken(dir: string): Promise<string> {
  const path = files(dir).token;
  try {
    const t = (await Deno.readTextFile(path)).trim();
    if (t.length >= 32) return t;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const token = crypto.getRandomValues(new Uint8Array(32)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
  await Deno.writeTextFile(path, token + "\n", { mode: 0o600 });
  return token;
}

/** How the CLI reaches the agent on a data dir, or why it cannot. */
export async function findAgent(dir: string): Promise<{ info: AgentInfo; token: string }> {
  const notRunning = () =>
    new NotRunningError(`no herd node is running on ${dir}`, {
      hint:
        "start one with `herd up` (or `deno task start`), or point to its data dir with --data-dir",
    });
  if (!(await isLocked(dir))) throw notRunning();
  const info = await readAgentInfo(dir);
  if (!info) {
    throw new NotRunningError(`the herd node on ${dir} is still starting`, {
      hint: "try again in a moment",
    });
  }
  let token: string;
  try {
    token = (await Deno.readTextFile(files(dir).token)).trim();
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new HerdError(`cannot read ${files(dir).token}: permission denied`, {
        hint: "run herd as the user that started the node",
      });
    }
    if (e instanceof Deno.errors.NotFound) throw notRunning();
    throw e;
  }
  return { info, token };
}
