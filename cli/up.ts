// `herd up`: start a node on this machine and run until SIGINT/SIGTERM.

import { startAgent } from "../core/agent.ts";
import { classLabel } from "../core/profile/classify.ts";
import { formatBytes } from "../core/units.ts";
import { CONFIG_OPTIONS, dataDir, loadConfig, parse } from "./common.ts";

export const HELP = `Usage: herd up [flags]

Starts a herd node on this machine: profiles the hardware, opens the node's store
in its data dir, joins or creates its cluster, serves the local API and runs jobs
until SIGINT (leaves the cluster gracefully) or SIGTERM (stops; others detect it).

The first 'herd up' creates a cluster ('herd token' prints its join token). On
another machine, 'herd up --join TOKEN' joins it: through --peer, or through a
member that discovery (mdns, broadcast, …) finds on the LAN. A node remembers its
cluster: later starts need no token.

Flags:
  --data-dir DIR        where the node keeps its state (env HERD_DATA_DIR;
                        default $XDG_DATA_HOME/herd or ~/.local/share/herd)
  --config FILE         herd.toml to read (env HERD_CONFIG; default DIR/herd.toml)
  --profile NAME        timing profile: lan, wan or local (env HERD_PROFILE)
  --set KEY=VALUE       any setting (repeatable); 'herd config' lists them
  --name NAME           node name (setting node.name; default the host name)
  --label K=V           node label (repeatable; setting node.labels)
  --api-port PORT       local API port (setting api.port; 0 = any free port)
  --join TOKEN          join the cluster of this token (env HERD_JOIN)
  --peer HOST:PORT      a member to join through (repeatable; setting discovery.peers)
  --port PORT           mesh port, UDP (QUIC) and TCP (setting mesh.port; default 7946)
  --bind ADDRESS        address the mesh port binds (setting mesh.host)
  --advertise ADDRESS   address other members dial (setting mesh.advertise)
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
    "join": { type: "string" },
    "peer": { type: "string", multiple: true },
    "port": { type: "string" },
    "bind": { type: "string" },
    "advertise": { type: "string" },
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
  if (values.port !== undefined) {
    flags.push({ key: "mesh.port", value: values.port, flag: "--port" });
  }
  if (values.bind !== undefined) {
    flags.push({ key: "mesh.host", value: values.bind, flag: "--bind" });
  }
  if (values.advertise !== undefined) {
    flags.push({ key: "mesh.advertise", value: values.advertise, flag: "--advertise" });
  }
  const config = await loadConfig(dir.path, values, flags);
  const peers = [...config.values["discovery.peers"], ...(values.peer ?? [])];

  const agent = await startAgent({
    dataDir: dir.path,
    config,
    profileFrom: values["profile-from"],
    join: values.join ?? Deno.env.get("HERD_JOIN"),
    peers,
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
  const cl = agent.cluster;
  console.log(
    `  mesh       ${agent.mesh.address} (cluster ${cl.fingerprint.slice(0, 16)}, ${
      cl.how === "created" ? "new: 'herd token' prints its join token" : cl.how
    })`,
  );

  let signals = 0;
  const onSignal = (sig: Deno.Signal) => () => {
    if (++signals > 1) {
      console.error("herd: second signal: exiting now");
      Deno.exit(130);
    }
    agent.stop(`received ${sig}`);
  };
  // Ctrl-C means "I am done with this node": leave gracefully. SIGTERM (a service
  // manager restarting it) just stops: the others detect it and take it back later.
  const onInt = () => {
    if (++signals > 1) {
      console.error("herd: second signal: exiting now");
      Deno.exit(130);
    }
    agent.stop("received SIGINT", { leave: true });
  };
  const onTerm = onSignal("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  await agent.finished;
  Deno.removeSignalListener("SIGINT", onInt);
  Deno.removeSignalListener("SIGTERM", onTerm);
  console.error("herd: stopped");
  return 0;
}
