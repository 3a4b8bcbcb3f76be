// The network-namespace lab itself: reachability, partitions, loss, avahi across hosts, and a
// Serf cluster as a first real tenant. Root only: elsewhere each test says why it did not run.

import assert from "node:assert/strict";
import type { Lab } from "./_netns.ts";
import { withLab } from "./_with_lab.ts";
import { waitFor } from "./_process.ts";
import { UDP_TOOL, UDP_TOOL_FLAGS } from "./_udp.ts";

const AVAHI = ["dbus-daemon", "avahi-daemon", "avahi-browse", "avahi-publish"];

function udp(lab: Lab, i: number, args: string[]) {
  return lab.spawn(i, Deno.execPath(), [...UDP_TOOL_FLAGS, UDP_TOOL, ...args]);
}

async function ready(p: ReturnType<typeof udp>) {
  await waitFor(`${p.label} to print ready`, () => {
    if (p.exited) throw new Error(`exited early\n${p.describe()}`);
    return p.stdout.includes("ready") ? true : undefined;
  }, { timeoutMs: 15_000, everyMs: 20 });
}

async function ping(lab: Lab, from: number, to: number): Promise<boolean> {
  const r = await lab.exec(from, "ping", ["-c", "1", "-W", "1", lab.host(to).ip]);
  return r.code === 0;
}

Deno.test("lab: hosts reach each other over UDP by their own addresses", async () => {
  await withLab("udp echo", { hosts: 3 }, async (lab) => {
    assert.deepEqual([1, 2, 3].map((i) => lab.host(i).ip), ["10.99.0.1", "10.99.0.2", "10.99.0.3"]);
    await ready(udp(lab, 2, ["echo", "9000"]));
    for (const from of [1, 3]) {
      const r = await lab.exec(from, Deno.execPath(), [
        ...UDP_TOOL_FLAGS,
        UDP_TOOL,
        "ping",
        lab.host(2).ip,
        "9000",
        "5000",
      ]);
      assert.equal(r.code, 0, `h${from} → h2: ${r.stdout}${r.stderr}`);
    }
  });
});

Deno.test("lab: a partition blocks both directions and heal restores", async () => {
  await withLab("partition", { hosts: 3 }, async (lab) => {
    assert.ok(await ping(lab, 1, 2), "h1 → h2 before the partition");
    await lab.partition([1], [2, 3]);
    assert.ok(!(await ping(lab, 1, 2)), "h1 → h2 during the partition");
    assert.ok(!(await ping(lab, 3, 1)), "h3 → h1 during the partition");
    assert.ok(await ping(lab, 2, 3), "h2 → h3, same side");
    await lab.heal();
    assert.ok(await ping(lab, 1, 2), "h1 → h2 after heal");
    assert.ok(await ping(lab, 3, 1), "h3 → h1 after heal");
  });
});

Deno.test("lab: 50 % loss drops about half of 200 datagrams", async () => {
  await withLab("loss", { hosts: 2 }, async (lab) => {
    await lab.loss(50);
    const counter = udp(lab, 2, ["count", "9001", "4000"]);
    await ready(counter);
    const sent = await lab.exec(1, Deno.execPath(), [
      ...UDP_TOOL_FLAGS,
      UDP_TOOL,
      "send",
      lab.host(2).ip,
      "9001",
      "200",
      "2",
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    await counter.status;
    const got = Number(counter.stdout.trim().split("\n").at(-1));
    // Binomial(200, 0.5): 50..150 is ±7 standard deviations.
    assert.ok(got >= 50 && got <= 150, `received ${got} of 200 at 50 % loss`);
    await lab.loss(0);
    assert.ok(await ping(lab, 1, 2), "h1 → h2 once loss is 0");
  });
});

Deno.test("lab: avahi in one host resolves a service published in another", async () => {
  await withLab("avahi", { hosts: 2, needs: AVAHI }, async (lab) => {
    await lab.startAvahi(1);
    await lab.startAvahi(2);
    await lab.avahiPublish(2, { name: "herd h2", type: "_herd._udp", port: 7946, txt: ["v=1"] });
    const found = await lab.avahiBrowse(1, "_herd._udp", {
      timeoutMs: 15_000,
      until: (f) => f.some((s) => s.name === "herd h2"),
    });
    const s = found.find((s) => s.name === "herd h2")!;
    assert.equal(s.address, lab.host(2).ip);
    assert.equal(s.port, 7946);
    assert.deepEqual(s.txt, ["v=1"]);
  });
});

Deno.test("lab: a 5-host Serf cluster forms and all survivors see a kill -9 as failed", async () => {
  await withLab("serf", { hosts: 5, needs: ["serf"] }, async (lab) => {
    const agent = (i: number, join: string[]) =>
      lab.spawn(i, "serf", [
        "agent",
        `-node=h${i}`,
        `-bind=${lab.host(i).ip}:7946`,
        "-profile=lan",
        ...join,
      ]);
    const members = async (i: number) => {
      const r = await lab.exec(i, "serf", ["members", "-format", "json"], { timeoutMs: 10_000 });
      if (r.code !== 0) return undefined; // the agent's RPC is not up yet
      const list = JSON.parse(r.stdout).members as Array<{ name: string; status: string }>;
      return new Map(list.map((m) => [m.name, m.status]));
    };
    const agents = [agent(1, [])];
    await waitFor("h1's serf agent to answer", () => members(1), { timeoutMs: 15_000 });
    for (let i = 2; i <= 5; i++) agents.push(agent(i, [`-join=${lab.host(1).ip}`]));

    for (let i = 1; i <= 5; i++) {
      await waitFor(`h${i} to see 5 alive`, async () => {
        const m = await members(i);
        return m && [...m.values()].filter((s) => s === "alive").length === 5 ? true : undefined;
      }, { timeoutMs: 30_000, everyMs: 250 });
    }

    agents[4].kill("SIGKILL");
    await agents[4].status;
    for (let i = 1; i <= 4; i++) {
      await waitFor(`h${i} to mark h5 failed`, async () => {
        const m = await members(i);
        return m?.get("h5") === "failed" ? true : undefined;
      }, { timeoutMs: 45_000, everyMs: 250 });
      assert.ok(!agents[i - 1].exited, `serf on h${i} exited\n${agents[i - 1].describe()}`);
    }
  });
});
