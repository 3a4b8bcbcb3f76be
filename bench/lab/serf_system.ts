// HashiCorp Serf (Debian's `serf` package) as a System: `serf agent` with the lan profile and
// Serf's defaults, RPC on 127.0.0.1:7373 inside each namespace, reached through a socat relay
// (see _serf_rpc.ts). Failures are read from the agent's log ("serf: EventMemberFailed: NAME
// ADDR"), which Serf writes as it marks a member failed, before it coalesces events for
// handlers and RPC streams (1–3 s).

import type { Lab } from "../../tests/lab/_netns.ts";
import type { LabProcess } from "../../tests/lab/_process.ts";
import { waitFor } from "../../tests/lab/_process.ts";
import { serfDistance, SerfRpc, type SerfRpc as Rpc } from "./_serf_rpc.ts";
import type { FailureMark, Member, MemberStatus, System } from "./system.ts";

const START_MS = 30_000;
const FAILED_LINE = /serf: EventMemberFailed: (\S+) (\S+)/;
const MEMBER_LINE = /serf: EventMember(Join|Failed|Leave|Reap): (\S+) (\S+)/;

interface Agent {
  agent: LabProcess;
  relay: LabProcess;
  rpc: Rpc;
  name: string;
  failures: FailureMark[];
}

export class SerfSystem implements System {
  readonly name = "serf";
  #agents = new Map<number, Agent>();
  /** Per host, the other members its log says are up. */
  #up = new Map<number, Set<string>>();

  async start(lab: Lab, i: number, join: string | null): Promise<void> {
    const h = lab.host(i);
    const sock = `${lab.dir}/${h.name}-serf.sock`;
    const failures: FailureMark[] = [];
    const up = new Set<string>();
    this.#up.set(i, up);
    const agent = lab.spawn(i, "serf", [
      "agent",
      `-node=${h.name}`,
      `-bind=${h.ip}:7946`,
      "-rpc-addr=127.0.0.1:7373",
      "-profile=lan",
      ...(join ? [`-join=${join}`] : []),
    ], {
      onLine: (line) => {
        const m = FAILED_LINE.exec(line);
        if (m) failures.push({ addr: m[2], at: performance.now() });
        const e = MEMBER_LINE.exec(line);
        if (e && e[3] !== h.ip) {
          if (e[1] === "Join") up.add(e[3]);
          else up.delete(e[3]);
        }
      },
    });
    // One connection, no fork: the bench keeps a single connection per agent, and a relay
    // without children leaves no orphans when it is killed. The TCP side retries until the
    // agent listens.
    const relay = lab.spawn(i, "socat", [
      `UNIX-LISTEN:${sock},unlink-early`,
      `TCP:127.0.0.1:7373,retry=${START_MS / 50},interval=0.05`,
    ]);
    const socketThere = () =>
      Deno.stat(sock).then(() => true, (e) => {
        if (e instanceof Deno.errors.NotFound) return undefined;
        throw e;
      });
    const rpc = await waitFor(`serf agent on ${h.name} to answer RPC`, async () => {
      if (agent.exited) throw new Error(`serf agent exited\n${agent.describe()}`);
      if (relay.exited) throw new Error(`socat relay exited\n${relay.describe()}`);
      if (!(await socketThere())) return undefined;
      try {
        // The relay takes one connection: once it is accepted, a failure fails the start.
        return await SerfRpc.connect(sock, START_MS);
      } catch (e) {
        // socat has bound its socket but is not listening yet
        if (e instanceof Deno.errors.ConnectionRefused) return undefined;
        throw e;
      }
    }, { timeoutMs: START_MS, everyMs: 20 }).catch(async (e) => {
      await Promise.all([agent.stop(), relay.stop()]);
      throw new Error(`${e.message}\n${agent.describe()}\n${relay.describe()}`, { cause: e });
    });
    this.#agents.set(i, { agent, relay, rpc, name: h.name, failures });
  }

  async members(_lab: Lab, i: number): Promise<Member[]> {
    const list = await this.#agent(i).rpc.members();
    return list.map((m) => ({
      name: m.Name,
      addr: [...m.Addr.slice(-4)].join("."),
      status: m.Status as MemberStatus,
    }));
  }

  upCount(i: number): number {
    return 1 + (this.#up.get(i)?.size ?? 0);
  }

  failures(i: number): readonly FailureMark[] {
    return this.#agent(i).failures;
  }

  pid(i: number): number {
    return this.#agent(i).agent.pid;
  }

  async kill(i: number): Promise<void> {
    const a = this.#agent(i);
    a.rpc.close();
    await a.agent.stop();
  }

  /** Every pair's distance from the nodes' own Vivaldi coordinates, as `serf rtt` computes it. */
  async rttsMs(_lab: Lab): Promise<number[]> {
    const coords = [];
    for (const a of this.#agents.values()) {
      if (a.agent.exited) continue;
      const c = await a.rpc.coordinate(a.name);
      if (c) coords.push(c);
    }
    const out: number[] = [];
    for (let x = 0; x < coords.length; x++) {
      for (let y = x + 1; y < coords.length; y++) {
        out.push(serfDistance(coords[x], coords[y]) * 1e3);
      }
    }
    return out;
  }

  async stopAll(): Promise<void> {
    const all = [...this.#agents.values()];
    this.#agents.clear();
    for (const a of all) a.rpc.close();
    await Promise.all(all.flatMap((a) => [a.agent.stop(), a.relay.stop()]));
  }

  #agent(i: number): Agent {
    const a = this.#agents.get(i);
    if (!a) throw new Error(`serf: no agent started on host ${i}`);
    return a;
  }
}
