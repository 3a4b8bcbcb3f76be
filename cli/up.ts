// `herd up`: start a node on this machine and run until SIGINT/SIGTERM.

import { startAgent } from "../core/agent.ts";
import { classLabel } from "../core/profile/classify.ts";
import { formatBytes } from "../core/units.ts";
import { CONFIG_OPTIONS, dataDir, loadConfig, parse } from "./common.ts";

export const HELP = `Usage: herd up [flags]

Starts a herd node on this machine: profiles the hardware, opens the node's store
in its data dir, serves the local API and runs jobs until SIGINT or SIGTERM.

Flags:
  --data-dir DIR        where the node keeps its state (env HERD_DATA_DIR;
                        default $XDG_DATA_HOME/herd or ~/.local/share/herd)
  --config FILE         herd.toml to read (env HERD_CONFIG; default DIR/herd.toml)
  --profile NAME        timing profile: lan, wan or local (env HERD_PROFILE)
  --set KEY=VALUE       any setting (repeatable); 'herd config' lists them
  --name NAME           node name (setting node.name; default the host name)
  --label K=V           node label (repeatable; setting node.labels)
  --api-port PORT       local API port (setting api.port; 0 = any free port)
  --profile-from FILE   run with a recorded hardware profile instead of probing
                        (a 'herd profile --record' or 'herd profile --json' file)
`;

export async function run(args: string[]): Promise<number> {
  const { values } = parse("up", args, {
    ...CONFIG_OPTIONS,
    "name": { type: "string" },
    "label": { type: "string", multiple: true },
    "api-port": { type: "string" },
    "profile-from": { type: "string" },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const dir = dataDir(values["data-dir"]);
  const flags = [];
  if (values.name !== undefined) {
    flags.push({ key: "node.name", value: values.name, flag: "--name" });
  }
  if (values.label?.length) {
    flags.push({ key: "node.labels", value: values.label.join(","), flag: "--label" });
  }
  if (values["api-port"] !== undefined) {
    flags.push({ key: "api.port", value: values["api-port"], flag: "--api-port" });
  }
  const config = await loadConfig(dir.path, values, flags);

  const agent = await startAgent({
    dataDir: dir.path,
    config,
    profileFrom: values["profile-from"],
    log: (l) => console.error(l),
  });
  const p = agent.profile;
  const gpus = p.gpus.filter((g) => g.schedulable);
  const gpuText = gpus.length ? `${gpus.length}× ${gpus[0].model}` : "no GPU";
  console.log(
    `herd node ${agent.info.nodeId} (${agent.name}) is up${agent.emulated ? " [emulated]" : ""}`,
  );
  console.log(`  class      ${classLabel(agent.class)}`);
  console.log(
    `  resources  ${p.cpu.threads} CPUs (${p.cpu.arch}), ${
      formatBytes(p.memory.totalBytes)
    } memory, ${gpuText}`,
  );
  console.log(`  data dir   ${dir.path}`);
  console.log(`  api        ${agent.info.apiUrl}`);
  console.log(`  profile    ${config.profile}`);

  let signals = 0;
  const onSignal = (sig: Deno.Signal) => () => {
    if (++signals > 1) {
      console.error("herd: second signal: exiting now");
      Deno.exit(130);
    }
    agent.stop(`received ${sig}`);
  };
  const onInt = onSignal("SIGINT");
  const onTerm = onSignal("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  await agent.finished;
  Deno.removeSignalListener("SIGINT", onInt);
  Deno.removeSignalListener("SIGTERM", onTerm);
  console.error("herd: stopped");
  return 0;
}
