// herd agents on network-namespace hosts with their own addresses: joining with a token
// and no address (broadcast, mdns — and avahi sees the node), a partition that heals, and
// 10 % packet loss without false failures. Root only: elsewhere each test says why not.

import assert from "node:assert/strict";
import { DENO_FLAGS, MAIN } from "../integration/_harness.ts";
import type { Lab } from "./_netns.ts";
import { withLab } from "./_with_lab.ts";
import type { LabProcess } from "./_process.ts";
import { waitFor } from "./_process.ts";

const SUBNET = "10.98.0.0/16";

interface Node {
  proc: LabProcess;
  dir: string;
  failed: string[];
}

/** `herd up` on host i (lan timings unless `args` change them). */
function up(lab: Lab, i: number, args: string[]): Node {
  const h = lab.host(i);
  const dir = `${lab.dir}/${h.name}-herd`;
  const failed: string[] = [];
  const proc = lab.spawn(i, Deno.execPath(), [
    ...DENO_FLAGS,
    MAIN,
    "up",
    "--data-dir",
    dir,
    "--name",
    h.name,
    "--bind",
    h.ip,
    "--api-port",
    "0",
    "--profile",
    "lan",
    ...args,
  ], {
    onLine: (line) => {
      const m = /herd: member failed: (\S+)/.exec(line);
      if (m) failed.push(m[1]);
    },
  });
  return { proc, dir, failed };
}

/** Runs a herd command against host i's node (its API is on the host's loopback). */
async function herd(lab: Lab, i: number, node: Node, args: string[]): Promise<string> {
  const r = await lab.exec(i, Deno.execPath(), [
    "run",
    "-A",
    "--unstable-kv",
    "--unstable-net",
    MAIN,
    ...args,
  ], { env: { HERD_DATA_DIR: node.dir } });
  if (r.code !== 0) throw new Error(`herd ${args.join(" ")} on h${i}: exit ${r.code}\n${r.stderr}`);
  return r.stdout;
}

async function ready(_lab: Lab, i: number, node: Node): Promise<void> {
  await waitFor(`herd on h${i} to be up`, () => {
    if (node.proc.exited) throw new Error(`herd exited\n${node.proc.describe()}`);
    return /api\s+http/.test(node.proc.stdout) ? true : undefined;
  }, { timeoutMs: 60_000, everyMs: 100 });
}

async function view(lab: Lab, i: number, node: Node): Promise<Record<string, string>> {
  const rows = JSON.parse(await herd(lab, i, node, ["nodes", "--json"])) as Array<
    { name: string; state: string }
  >;
  return Object.fromEntries(rows.map((r) => [r.name, r.state]));
}

async function untilView(
  lab: Lab,
  i: number,
  node: Node,
  want: Record<string, string>,
  timeoutMs = 60_000,
): Promise<void> {
  let last: Record<string, string> = {};
  await waitFor(`h${i} to see ${JSON.stringify(want)}`, async () => {
    last = await view(lab, i, node);
    return Object.entries(want).every(([k, v]) => last[k] === v) ? true : undefined;
  }, { timeoutMs, everyMs: 500 }).catch((e) => {
    throw new Error(`${e.message}; last view ${JSON.stringify(last)}\n${node.proc.describe()}`);
  });
}

const alive = (n: number) =>
  Object.fromEntries(Array.from({ length: n }, (_, k) => [`h${k + 1}`, "alive"]));

/** h1 creates the cluster; the others join with its token, through `join` args. */
async function cluster(lab: Lab, n: number, common: string[], join: (token: string) => string[]) {
  const nodes: Node[] = [];
  nodes[1] = up(lab, 1, common);
  await ready(lab, 1, nodes[1]);
  const token = (await herd(lab, 1, nodes[1], ["token"])).trim();
  for (let i = 2; i <= n; i++) nodes[i] = up(lab, i, [...common, ...join(token)]);
  for (let i = 2; i <= n; i++) await ready(lab, i, nodes[i]);
  return nodes;
}

Deno.test("lab: with a token and broadcast discovery, nodes join with no address given", async () => {
  await withLab("broadcast join", { hosts: 3, subnet: SUBNET }, async (lab) => {
    const nodes = await cluster(
      lab,
      3,
      ["--set", "discovery.methods=broadcast", "--set", "discovery.interval=1s"],
      (token) => ["--join", token],
    );
    for (let i = 1; i <= 3; i++) await untilView(lab, i, nodes[i], alive(3));
  });
});

Deno.test("lab: with mdns discovery, nodes join with no address; avahi-browse lists them", async () => {
  await withLab(
    "mdns join",
    { hosts: 3, needs: ["avahi-browse", "avahi-daemon", "dbus-daemon"], subnet: SUBNET },
    async (lab) => {
      // mdns needs a route for its multicast group, as on any LAN with a default route.
      for (let i = 1; i <= 3; i++) {
        const r = await lab.exec(i, "ip", ["route", "add", "224.0.0.0/4", "dev", "eth0"]);
        assert.equal(r.code, 0, r.stderr);
      }
      const nodes = await cluster(
        lab,
        2,
        ["--set", "discovery.methods=mdns", "--set", "discovery.interval=1s"],
        (token) => ["--join", token],
      );
      for (let i = 1; i <= 2; i++) await untilView(lab, i, nodes[i], alive(2));
      // A stock avahi on a third host of the LAN sees the herd nodes' DNS-SD service.
      await lab.startAvahi(3);
      let seen = "";
      await waitFor("avahi-browse to list _herd._udp", async () => {
        const r = await lab.exec(3, "avahi-browse", ["-rpt", "_herd._udp"], { timeoutMs: 20_000 });
        seen = r.stdout;
        return /^=.*herd-.*;10\.98\.0\.1;7946;/m.test(r.stdout) ? true : undefined;
      }, { timeoutMs: 30_000, everyMs: 1_000 }).catch((e) => {
        throw new Error(`${e.message}\navahi-browse printed:\n${seen}`);
      });
    },
  );
});

Deno.test("lab: a partition is seen from both sides and heals", async () => {
  await withLab("partition", { hosts: 4, subnet: SUBNET }, async (lab) => {
    const common = [
      "--set",
      "discovery.methods=static,peer-exchange",
      "--set",
      "membership.reconnectInterval=2s",
    ];
    const nodes = await cluster(lab, 4, common, (t) => ["--join", t, "--peer", "10.98.0.1:7946"]);
    for (let i = 1; i <= 4; i++) await untilView(lab, i, nodes[i], alive(4));
    await lab.partition([1, 2], [3, 4]);
    await untilView(lab, 1, nodes[1], { h1: "alive", h2: "alive", h3: "dead", h4: "dead" });
    await untilView(lab, 4, nodes[4], { h1: "dead", h2: "dead", h3: "alive", h4: "alive" });
    await lab.heal();
    for (let i = 1; i <= 4; i++) await untilView(lab, i, nodes[i], alive(4), 90_000);
  });
});

Deno.test("lab: 10 % packet loss for 60 s gives no false failure", async () => {
  await withLab("loss", { hosts: 4, subnet: SUBNET }, async (lab) => {
    const nodes = await cluster(
      lab,
      4,
      ["--set", "discovery.methods=static,peer-exchange"],
      (t) => ["--join", t, "--peer", "10.98.0.1:7946"],
    );
    for (let i = 1; i <= 4; i++) await untilView(lab, i, nodes[i], alive(4));
    await lab.loss(10);
    await new Promise((r) => setTimeout(r, 60_000));
    await lab.loss(0);
    const falseFailures = nodes.slice(1).flatMap((n, k) =>
      n.failed.map((f) => `h${k + 1} saw ${f}`)
    );
    assert.deepEqual(falseFailures, [], "live members were marked failed under 10 % loss");
    for (let i = 1; i <= 4; i++) await untilView(lab, i, nodes[i], alive(4));
  });
});
