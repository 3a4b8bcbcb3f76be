// herd as a System (contract in system.ts): `herd up` with the lan profile on each host,
// its mesh port bound on the host's lab address, its API on 127.0.0.1 inside the
// namespace, reached through a socat relay on a unix socket (so the bench's queries stay
// off the measured links). h1 creates the cluster; the others join with its token.
// Failures are read from the agent's log ("herd: member failed: NAME ID ADDR"), written
// as the node marks the member failed.

import { DENO_FLAGS, MAIN } from "../../tests/integration/_harness.ts";
import type { Lab } from "../../tests/lab/_netns.ts";
import type { LabProcess } from "../../tests/lab/_process.ts";
import { waitFor } from "../../tests/lab/_process.ts";
import type { FailureMark, Member, MemberStatus, System } from "./system.ts";

// 100 agents starting at once on 2 cores take ~1 min before the last one answers.
const START_MS = 180_000;
const API_PORT = 7948;
const FAILED_LINE = /herd: member failed: \S+ \S+ (\S+)/;
const MEMBER_LINE = /herd: member (joined|failed|left): \S+ \S+ (\S+)/;

interface Agent {
  agent: LabProcess;
  relay: LabProcess;
  client: Deno.HttpClient;
  token: string;
  failures: FailureMark[];
}

interface NodeRow {
  name: string;
  address: string;
  state: string;
}

const hostOf = (address: string) => address.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");

export class HerdSystem implements System {
  readonly name = "herd";
  #agents = new Map<number, Agent>();
  /** Per host, the other members its log says are up. */
  #up = new Map<number, Set<string>>();
  /** Killed agents: their pid and failure marks stay readable. */
  #killed = new Map<number, Agent>();
  #joinToken = "";
  readonly #extraArgs: string[];

  /** `extraArgs` go to every `herd up` (e.g. `--set membership.probeInterval=…`). */
  constructor(extraArgs: string[] = []) {
    this.#extraArgs = extraArgs;
  }

  // Each host runs its own copy of the runtime, as each machine has its own herd binary:
  // pages of one file mapped by ten agents are shared, and the kernel does not page out
  // shared pages (core/page_release.ts), so one shared binary would overstate RSS.
  async prepare(lab: Lab, n: number): Promise<void> {
    for (let i = 1; i <= n; i++) await Deno.copyFile(Deno.execPath(), this.#runtime(lab, i));
  }

  #runtime(lab: Lab, i: number): string {
    return `${lab.dir}/${lab.host(i).name}-deno`;
  }

  async start(lab: Lab, i: number, join: string | null): Promise<void> {
    const h = lab.host(i);
    const dir = `${lab.dir}/${h.name}-herd`;
    await Deno.mkdir(dir, { recursive: true });
    const sock = `${lab.dir}/${h.name}-herd.sock`;
    const failures: FailureMark[] = [];
    const up = new Set<string>();
    this.#up.set(i, up);
    if (join && !this.#joinToken) throw new Error("herd: start h1 (no join) first");
    const runtime = this.#runtime(lab, i);
    // HERD_LAB_PROFILE_HOST=I: host I's agent writes a V8 CPU profile into the lab dir's
    // parent (/tmp) when it stops.
    const profiled = Deno.env.get("HERD_LAB_PROFILE_HOST") === String(i)
      ? ["--cpu-prof", `--cpu-prof-dir=${lab.dir}/../herd-lab-profiles`]
      : [];
    const agent = lab.spawn(i, runtime, [
      ...DENO_FLAGS,
      ...profiled,
      MAIN,
      "up",
      "--data-dir",
      dir,
      "--name",
      h.name,
      "--bind",
      h.ip,
      "--port",
      "7946",
      "--api-port",
      String(API_PORT),
      "--profile",
      "lan",
      // As Serf: no multicast discovery, join through the first host.
      "--set",
      "discovery.methods=static,peer-exchange",
      ...(join ? ["--join", this.#joinToken, "--peer", `${join}:7946`] : []),
      ...this.#extraArgs,
    ], {
      onLine: (line) => {
        const m = FAILED_LINE.exec(line);
        if (m) failures.push({ addr: hostOf(m[1]), at: performance.now() });
        const e = MEMBER_LINE.exec(line);
        if (e && hostOf(e[2]) !== h.ip) {
          if (e[1] === "joined") up.add(hostOf(e[2]));
          else up.delete(hostOf(e[2]));
        }
      },
    });
    const relay = lab.spawn(i, "socat", [
      `UNIX-LISTEN:${sock},fork,unlink-early,backlog=256`,
      `TCP:127.0.0.1:${API_PORT},retry=20,interval=0.1`,
    ]);
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: sock } } as never);
    const token = await waitFor(`herd on ${h.name} to write its API token`, async () => {
      if (agent.exited) throw new Error(`herd exited\n${agent.describe()}`);
      try {
        return (await Deno.readTextFile(`${dir}/api.token`)).trim() || undefined;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return undefined;
        throw e;
      }
    }, { timeoutMs: START_MS, everyMs: 50 });
    const a: Agent = { agent, relay, client, token, failures };
    await waitFor(`herd on ${h.name} to answer`, async () => {
      if (agent.exited) throw new Error(`herd exited\n${agent.describe()}`);
      if (!(await Deno.stat(sock).then(() => true, () => false))) return undefined;
      try {
        const r = await this.#get(a, "/v1/status");
        return r.ok ? true : undefined;
      } catch (e) {
        if (e instanceof TypeError) return undefined; // relay or agent not listening yet
        throw e;
      }
    }, { timeoutMs: START_MS, everyMs: 100 }).catch(async (e) => {
      client.close();
      await Promise.all([agent.stop(), relay.stop()]);
      throw new Error(`${e.message}\n${agent.describe()}`, { cause: e });
    });
    if (!join) {
      const t = await this.#get(a, "/v1/token");
      this.#joinToken = (await t.json()).token;
    }
    this.#agents.set(i, a);
  }

  async members(_lab: Lab, i: number): Promise<Member[]> {
    const r = await this.#get(this.#agent(i), "/v1/nodes");
    if (!r.ok) throw new Error(`herd on host ${i}: /v1/nodes answered ${r.status}`);
    const rows = await r.json() as NodeRow[];
    return rows.map((n) => ({
      name: n.name,
      addr: hostOf(n.address),
      status: (n.state === "dead" ? "failed" : n.state) as MemberStatus,
    }));
  }

  upCount(i: number): number {
    return 1 + (this.#up.get(i)?.size ?? 0);
  }

  /** Host i's agent's command line and the tail of its output. */
  describe(i: number): string {
    return this.#agent(i).agent.describe();
  }

  failures(i: number): readonly FailureMark[] {
    return this.#agent(i).failures;
  }

  pid(i: number): number {
    return this.#agent(i).agent.pid;
  }

  async kill(i: number): Promise<void> {
    const a = this.#agent(i);
    this.#agents.delete(i);
    this.#killed.set(i, a);
    a.client.close();
    await Promise.all([a.agent.stop(), a.relay.stop()]);
  }

  /** Host i's agent's /metrics (Prometheus text): transport and membership counters. */
  async metrics(i: number): Promise<string> {
    const r = await this.#get(this.#agent(i), "/metrics");
    if (!r.ok) throw new Error(`herd on host ${i}: /metrics answered ${r.status}`);
    return await r.text();
  }

  /** Every pair's estimate from the nodes' own network coordinates (each node's view). */
  async rttsMs(_lab: Lab): Promise<number[]> {
    const out: number[] = [];
    for (const a of this.#agents.values()) {
      if (a.agent.exited) continue;
      const rows = await (await this.#get(a, "/v1/nodes")).json() as Array<
        { self: boolean; rttMs?: number; state: string }
      >;
      for (const r of rows) {
        if (!r.self && r.rttMs !== undefined && r.state === "alive") out.push(r.rttMs);
      }
    }
    return out;
  }

  async stopAll(): Promise<void> {
    const all = [...this.#agents.values()];
    this.#agents.clear();
    for (const a of all) a.client.close();
    await Promise.all(all.flatMap((a) => [a.agent.stop(), a.relay.stop()]));
  }

  /** A request to host i's agent API (through its relay: nothing crosses the measured links). */
  api(i: number, method: string, path: string, body?: unknown): Promise<Response> {
    const a = this.#agent(i);
    return fetch(`http://localhost${path}`, {
      method,
      client: a.client,
      headers: { authorization: `Bearer ${a.token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  #get(a: Agent, path: string): Promise<Response> {
    return fetch(`http://localhost${path}`, {
      client: a.client,
      headers: { authorization: `Bearer ${a.token}` },
    });
  }

  #agent(i: number): Agent {
    const a = this.#agents.get(i) ?? this.#killed.get(i);
    if (!a) throw new Error(`herd: no agent started on host ${i}`);
    return a;
  }
}
