// herd's command line: parse the command, dispatch to its module. No logic here.

import { HerdError } from "./core/errors.ts";
import { VERSION } from "./core/version.ts";

const USAGE = `herd ${VERSION} — run work across a fleet of unlike machines

Usage: herd <command> [flags]

Commands:
  up        start a node on this machine
  run       run a job and stream its output (herd run -- CMD ARGS...)
  apply     run the jobs a YAML file declares (idempotent)
  ps        list jobs
  logs      print a job's output
  kill      stop a job
  migrate   move a running job to another node
  status    show the running node
  nodes     list the cluster's members (--watch to follow)
  token     print the cluster's join token
  revoke    revoke a node's certificate (on the CA holder)
  leave     leave the cluster gracefully and stop the node
  pool      show what the whole cluster has and has free
  profile   show this machine's hardware profile and class
  config    show the effective configuration and where each value came from
  registry  serve a discovery registry for nodes on different networks
  version   print the version

'herd <command> --help' describes a command. Every command takes --data-dir DIR.
`;

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  up: async () => (await import("./cli/up.ts")).run,
  run: async () => (await import("./cli/run.ts")).run,
  apply: async () => (await import("./cli/apply.ts")).apply,
  ps: async () => (await import("./cli/jobs.ts")).ps,
  logs: async () => (await import("./cli/jobs.ts")).logs,
  kill: async () => (await import("./cli/jobs.ts")).kill,
  migrate: async () => (await import("./cli/migrate.ts")).migrate,
  status: async () => (await import("./cli/node.ts")).status,
  profile: async () => (await import("./cli/node.ts")).profile,
  config: async () => (await import("./cli/node.ts")).config,
  nodes: async () => (await import("./cli/mesh.ts")).nodes,
  token: async () => (await import("./cli/mesh.ts")).token,
  revoke: async () => (await import("./cli/revoke.ts")).revoke,
  leave: async () => (await import("./cli/mesh.ts")).leave,
  pool: async () => (await import("./cli/pool.ts")).pool,
  registry: async () => (await import("./cli/registry.ts")).run,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    console.log(USAGE);
    return name === undefined ? 2 : 0;
  }
  if (name === "version" || name === "--version") {
    console.log(`herd ${VERSION} (deno ${Deno.version.deno}, ${Deno.build.target})`);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`herd: unknown command '${name}'\n      'herd help' lists the commands`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (e) {
    if (e instanceof HerdError) {
      console.error(`herd: ${e.message}`);
      if (e.hint) console.error(`      ${e.hint}`);
      return e.exitCode;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
