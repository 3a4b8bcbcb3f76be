// `herd nodes`, `herd token`, `herd leave`: the cluster as this node sees it.

import type { NodeView } from "../core/mesh/mesh.ts";
import { NotRunningError, UsageError } from "../core/errors.ts";
import { formatBytes } from "../core/units.ts";
import { Client, dataDir, parse, printJson } from "./common.ts";
import { table } from "./table.ts";

export const NODES_HELP = `Usage: herd nodes [--json] [--watch]

Lists every member this node knows: state, class, mesh address, resources (free of
total), load and the estimated round trip from this node. --watch redraws the list
whenever membership changes (from the node's event stream); Ctrl-C ends it.
`;

export const TOKEN_HELP = `Usage: herd token

Prints the cluster's join token. Another machine joins with
  herd up --join TOKEN [--peer THIS_NODE_ADDRESS]
Keep it secret: whoever has it can add machines to the cluster.
`;

export const LEAVE_HELP = `Usage: herd leave

Leaves the cluster gracefully and stops the node: the others see it as 'left', not
'failed'. Its next 'herd up' rejoins (no token needed).
`;

function rows(nodes: NodeView[]): string[][] {
  return nodes.map((n) => [
    n.name + (n.self ? " *" : ""),
    n.id,
    (n as NodeView & { revoked?: boolean }).revoked ? `${n.state} (revoked)` : n.state,
    n.class,
    n.address,
    `${n.load.cpuFree}/${n.capacity.cpu}`,
    `${formatBytes(n.load.memFree)}/${formatBytes(n.capacity.memBytes)}`,
    n.capacity.gpus ? `${n.load.gpuFree}/${n.capacity.gpus}` : "-",
    n.load.load1 !== undefined ? String(n.load.load1) : "-",
    n.self ? "-" : n.rttMs !== undefined ? `${n.rttMs.toFixed(1)} ms` : "?",
  ]);
}

const HEAD = ["NAME", "ID", "STATE", "CLASS", "ADDRESS", "CPU", "MEMORY", "GPU", "LOAD", "RTT"];

export async function nodes(args: string[]): Promise<number> {
  const { values, positionals } = parse("nodes", args, {
    json: { type: "boolean" },
    watch: { type: "boolean", short: "w" },
  });
  if (values.help) {
    console.log(NODES_HELP);
    return 0;
  }
  if (positionals.length) {
    throw new UsageError(`herd nodes takes no arguments: got '${positionals[0]}'`);
  }
  const client = await Client.connect(dataDir(values["data-dir"]).path);
  const show = async () => {
    const list = await client.json<NodeView[]>("GET", "/v1/nodes");
    if (values.json) printJson(list);
    else console.log(table(HEAD, rows(list)));
  };
  if (!values.watch) {
    await show();
    return 0;
  }
  // Redraw on each membership event; the event stream ends when the node stops.
  const res = await client.request("GET", "/v1/events");
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const clear = () => !values.json && Deno.stdout.isTerminal() && console.log("\x1b[2J\x1b[H");
  clear();
  await show();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let changed = false;
    let end: number;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      if (/^event: Node/m.test(block)) changed = true;
    }
    if (changed) {
      clear();
      await show();
    }
  }
  console.error("herd: the node's event stream ended (the node stopped?)");
  return 1;
}

export async function token(args: string[]): Promise<number> {
  const { values } = parse("token", args, {});
  if (values.help) {
    console.log(TOKEN_HELP);
    return 0;
  }
  const client = await Client.connect(dataDir(values["data-dir"]).path);
  const { token } = await client.json<{ token: string }>("GET", "/v1/token");
  console.log(token);
  return 0;
}

export async function leave(args: string[]): Promise<number> {
  const { values } = parse("leave", args, {});
  if (values.help) {
    console.log(LEAVE_HELP);
    return 0;
  }
  const dir = dataDir(values["data-dir"]).path;
  const client = await Client.connect(dir);
  await client.json("POST", "/v1/leave");
  // The node answers, then leaves and stops: wait until it is gone.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      await client.json("GET", "/v1/status");
    } catch (e) {
      if (!(e instanceof NotRunningError)) throw e;
      console.log("left the cluster; the node stopped");
      return 0;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  console.error("herd: the node said it would leave but is still running after 30 s");
  return 1;
}
