// A running node: composes the parts (data dir, store, profile, plugins, jobs,
// API) and owns their start and stop order. Each part keeps its own narrow
// interface; the agent only wires them.

import type { HerdConfig, ResolvedConfig } from "./config.ts";
import { cryptoRandom, systemClock } from "./clock.ts";
import {
  type AgentInfo,
  ensureToken,
  files,
  lockDataDir,
  removeAgentInfo,
  writeAgentInfo,
} from "./datadir.ts";
import { HerdError } from "./errors.ts";
import { newNodeId } from "./ids.ts";
import { keys, openStore, type SelfRecord } from "./store.ts";
import { createApi, type NodeStatus } from "./api/app.ts";
import { LogHub } from "./jobs/logs.ts";
import { JobRunner } from "./jobs/runner.ts";
import type { Capacity } from "./jobs/admission.ts";
import { classify, classLabel } from "./profile/classify.ts";
import { LiveProbe } from "./profile/probe.ts";
import { type LiveLoad, liveLoad } from "./profile/live.ts";
import type { HardwareProfile, NodeClass } from "./profile/types.ts";
import { loadProfile } from "./profile_source.ts";
import { importPlugin, PluginSet } from "../plugins/loader.ts";
import { VERSION } from "./version.ts";
import { Placer } from "./scheduler/placer.ts";
import { schedulerSettings } from "./scheduler/settings.ts";
import { startPageReleaser } from "./page_release.ts";
import { EventHub } from "./events.ts";
import { establishIdentity, normalizePeers } from "./mesh/bootstrap.ts";
import { type Mesh, startMesh } from "./mesh/mesh.ts";
import { buildMeta, readMeta } from "./mesh/meta.ts";
import { metaChange } from "./mesh/meta_change.ts";
import { requestJoin } from "./transport/transport.ts";
import { Rpc } from "./mesh/rpc.ts";
import { RevocationBook } from "./mesh/revocations.ts";
import { realScheduler } from "./membership/scheduler.ts";
import { JobService } from "./jobs/service.ts";

export interface AgentOptions {
  dataDir: string;
  config: ResolvedConfig;
  /** A recorded probe or profile to run with instead of probing (emulated node). */
  profileFrom?: string;
  /** `--join TOKEN`: join that cluster (ignored once this node is a member of it). */
  join?: string;
  /** `--peer HOST:PORT`: members to join through. */
  peers?: string[];
  log: (line: string) => void;
}

export interface Agent {
  info: AgentInfo;
  name: string;
  class: NodeClass;
  profile: HardwareProfile;
  capacity: Capacity;
  emulated: boolean;
  mesh: Mesh;
  /** How this node came to its cluster at this start. */
  cluster: { fingerprint: string; how: "stored" | "created" | "joined"; token?: string };
  /** Resolves when the agent has stopped. */
  finished: Promise<void>;
  /** Stops; with `leave`, first tells the cluster it is leaving (others see `left`). */
  stop(reason: string, opts?: { leave?: boolean }): Promise<void>;
}

export function capacityOf(profile: HardwareProfile, c: HerdConfig): Capacity {
  return {
    cpuMilli: Math.max(0, Math.round((profile.cpu.threads - c["resources.reservedCpu"]) * 1000)),
    memBytes: Math.max(0, profile.memory.totalBytes - c["resources.reservedMem"]),
    gpus: profile.gpus.filter((g) => g.schedulable).map((g) => g.index),
  };
}

async function selfRecord(kv: Deno.Kv): Promise<SelfRecord> {
  const found = await kv.get<SelfRecord>(keys.self());
  if (found.value) return found.value;
  const rec: SelfRecord = { id: newNodeId(cryptoRandom), createdAt: systemClock.now() };
  const res = await kv.atomic().check(found).set(keys.self(), rec).commit();
  if (!res.ok) return selfRecord(kv);
  return rec;
}

export async function startAgent(o: AgentOptions): Promise<Agent> {
  const config = o.config.values;
  const lock = await lockDataDir(o.dataDir);
  const cleanups: Array<() => Promise<void> | void> = [() => lock.close()];
  const cleanup = async () => {
    for (const f of cleanups.reverse()) await f();
  };
  try {
    return await start(o, config, lock, cleanups, cleanup);
  } catch (e) {
    await cleanup();
    throw e;
  }
}

async function start(
  o: AgentOptions,
  config: HerdConfig,
  _lock: Deno.FsFile,
  cleanups: Array<() => Promise<void> | void>,
  cleanup: () => Promise<void>,
): Promise<Agent> {
  const startedAt = systemClock.now();
  const kv = await openStore(files(o.dataDir).kv);
  cleanups.push(() => kv.close());
  const self = await selfRecord(kv);

  const probe = new LiveProbe();
  const loaded = await loadProfile(o.profileFrom, probe);
  const profile = loaded.profile;
  const emulated = o.profileFrom !== undefined;
  const nodeClass = classify(profile);
  const name = config["node.name"] || profile.hostname;
  const capacity = capacityOf(profile, config);

  const plugins = new PluginSet();
  for (const path of config["plugins.paths"]) plugins.add(await importPlugin(path), path);

  // The live load: re-read on an interval, never on a request's path.
  let load: LiveLoad | undefined = emulated ? undefined : await liveLoad(probe);
  let refreshMeta = () => {};
  // At most one announcement per `agent.loadAnnounceInterval`; the first after a quiet
  // spell goes out at once (50 ms: the jobs of one request land together).
  let announceTimer: ReturnType<typeof setTimeout> | undefined;
  let lastAnnounce = -Infinity;
  const announceSoon = () => {
    if (announceTimer !== undefined) return;
    const wait = Math.max(
      50,
      lastAnnounce + config["agent.loadAnnounceInterval"] - systemClock.now(),
    );
    announceTimer = setTimeout(() => {
      announceTimer = undefined;
      lastAnnounce = systemClock.now();
      refreshMeta();
    }, wait);
  };
  cleanups.push(() => clearTimeout(announceTimer));
  const loadTimer = setInterval(async () => {
    try {
      if (!emulated) load = await liveLoad(probe);
    } catch (e) {
      o.log(`herd: reading the live load failed: ${(e as Error).message}`);
    }
    refreshMeta();
  }, config["agent.loadInterval"]);
  cleanups.push(() => clearInterval(loadTimer));

  const counters: Record<string, number> = {};
  // Built once the mesh is up; the runner reports ends through it.
  const late: { jobs?: JobService } = {};
  const hub = new LogHub();
  // Hands back code pages touched only while starting or running jobs (page_release.ts).
  const pages = startPageReleaser({
    delayMs: config["agent.releasePagesAfter"],
    busy: () => runner.runningCount > 0,
    log: o.log,
  });
  cleanups.push(() => pages.stop());
  const runner = new JobRunner({
    kv,
    nodeId: self.id,
    config,
    plugins,
    capacity,
    liveMemAvailable: () => load?.memAvailableBytes,
    clock: systemClock,
    random: cryptoRandom,
    hub,
    checkpointRoot: `${o.dataDir}/checkpoints`,
    log: o.log,
    ended: (r) => late.jobs?.jobEnded(r),
    observe: (e) => {
      const k = e.type === "refused"
        ? `jobs_refused{reason=${e.code}}`
        : e.type === "finished"
        ? `jobs_finished{state=${e.record.state}}`
        : "jobs_submitted";
      counters[k] = (counters[k] ?? 0) + 1;
      // What is free changed: tell the cluster soon, once for a burst of jobs.
      if (e.type !== "refused") announceSoon();
      if (e.type === "finished") pages.poke();
    },
  });
  const lost = await runner.recover();
  for (const j of lost) {
    o.log(`herd: job ${j.id} (${j.spec.name}) was running when the agent stopped: marked lost`);
  }
  await runner.prune();

  const events = new EventHub(() => systemClock.now());
  const peers = normalizePeers(o.peers ?? []);
  const { identity, how } = await establishIdentity({
    kv,
    nodeId: self.id,
    clock: systemClock,
    random: cryptoRandom,
    config,
    plugins,
    token: o.join,
    peers,
    requestJoin: (r) =>
      requestJoin({
        ...r,
        timeoutMs: config["transport.joinTimeout"],
        now: () => systemClock.now(),
        random: cryptoRandom,
      }),
    log: o.log,
  });
  // The cluster's revocation list (core/mesh/revocations.ts). What it applies reaches the
  // mesh, the meta and the event stream once they exist.
  const revocationHooks: { applied?: (added: string[]) => void } = {};
  const revocations = await RevocationBook.open({
    kv,
    ca: identity.ca,
    selfId: self.id,
    caKeyPem: identity.caKeyPem,
    clock: systemClock,
    log: o.log,
    applied: (_list, added) => revocationHooks.applied?.(added),
  });
  const metaNow = () => {
    const alloc = runner.allocation();
    return buildMeta({
      name,
      nodeClass,
      profile,
      labels: config["node.labels"],
      capacity: {
        cpu: capacity.cpuMilli / 1000,
        memBytes: capacity.memBytes,
        gpus: capacity.gpus.length,
      },
      load: {
        cpuFree: (capacity.cpuMilli - alloc.cpuMilli) / 1000,
        memFree: capacity.memBytes - alloc.memBytes,
        gpuFree: capacity.gpus.length - alloc.gpus.length,
        load1: load?.load1,
        batteryPercent: load?.batteryPercent ?? profile.power.batteryPercent,
        onBattery: load?.onBattery ?? profile.power.source === "battery",
        temperatureC: load?.temperatureC ?? profile.temperatureC,
      },
      ca: identity.caKeyPem !== undefined,
      version: VERSION,
      revocations: revocations.version,
    });
  };
  let meta = metaNow();
  const mesh = await startMesh({
    kv,
    identity,
    config,
    plugins,
    events,
    clock: systemClock,
    random: cryptoRandom,
    meta,
    seeds: peers,
    revoked: () => revocations.set,
    log: o.log,
  });
  cleanups.push(() => mesh.stop());
  let announcedAt = performance.now();
  refreshMeta = () => {
    const m = metaNow();
    const change = metaChange(meta, m);
    if (change === "none") return;
    // Every announcement is a rumor each member re-sends ~4·log10 N times: live readings
    // alone go out at most once per agent.liveMetaInterval.
    const now = performance.now();
    if (change === "live" && now - announcedAt < config["agent.liveMetaInterval"]) return;
    announcedAt = now;
    meta = m;
    mesh.setMeta(m);
  };

  const token = await ensureToken(o.dataDir);
  let apiUrl = "";
  // A promise, as the API's other sources of state are.
  const status = (): Promise<NodeStatus> => Promise.resolve(statusNow());
  const statusNow = (): NodeStatus => {
    const alloc = runner.allocation();
    const cap = {
      cpu: capacity.cpuMilli / 1000,
      memBytes: capacity.memBytes,
      gpus: capacity.gpus.length,
    };
    const used = { cpu: alloc.cpuMilli / 1000, memBytes: alloc.memBytes, gpus: alloc.gpus.length };
    return {
      id: self.id,
      name,
      class: nodeClass,
      classLabel: classLabel(nodeClass),
      arch: profile.cpu.arch,
      emulated,
      profileSource: o.profileFrom,
      version: VERSION,
      pid: Deno.pid,
      startedAt,
      uptimeMs: systemClock.now() - startedAt,
      dataDir: o.dataDir,
      apiUrl,
      configProfile: o.config.profile,
      labels: { ...config["node.labels"] },
      capacity: cap,
      allocated: used,
      free: {
        cpu: cap.cpu - used.cpu,
        memBytes: cap.memBytes - used.memBytes,
        gpus: cap.gpus - used.gpus,
      },
      load: load ? { ...load } : {
        onBattery: profile.power.source === "battery",
        batteryPercent: profile.power.batteryPercent,
        temperatureC: profile.temperatureC,
      },
      jobs: { running: runner.runningCount },
      executors: plugins.names("executor"),
      cluster: {
        fingerprint: identity.ca.fingerprint,
        address: mesh.address,
        caHolder: identity.caKeyPem !== undefined,
        members: mesh.counts(),
      },
    };
  };
  const clusterToken = () => identity.token;
  const placer = new Placer({
    selfId: self.id,
    plugins,
    settings: schedulerSettings(config),
    defaultPolicy: config["scheduler.policy"],
    members: () => mesh.nodes().map((n) => ({ id: n.id, state: n.state, meta: n })),
    rtt: (a, b) => mesh.rttMs(a, b),
    now: () => systemClock.now(),
    // The target announces within loadAnnounceInterval; gossip takes it round within ~1 s.
    holdMs: config["agent.loadAnnounceInterval"] + 1_000,
  });
  cleanups.push(() => placer.close());
  const rpc = new Rpc({
    selfId: self.id,
    send: (nodeId, msg) => mesh.sendApp(nodeId, msg),
    scheduler: realScheduler,
    log: o.log,
  });
  cleanups.push(() => rpc.close());
  mesh.onApp((from, msg) => rpc.receive(from, msg));
  rpc.handle("revocation", "get", () => revocations.list ?? null);
  revocationHooks.applied = (added) => {
    for (const id of added) {
      if (id === self.id) {
        o.log(
          "herd: this node's certificate has been revoked by the cluster's CA holder: " +
            "members refuse its connections from now on",
        );
        continue;
      }
      o.log(`herd: node ${id} is revoked: its connections are closed and refused`);
      mesh.disconnect(id, "cert-revoked");
      events.publish("NodeRevoked", { id });
    }
    refreshMeta();
  };
  // A member holding a newer list (its meta says `rv`): fetch it from that member.
  const fetchingFrom = new Set<string>();
  const fetchRevocations = (memberId: string) => {
    if (fetchingFrom.has(memberId)) return;
    fetchingFrom.add(memberId);
    rpc.call(memberId, "revocation", "get", null, 10_000)
      .then((list) => list === null ? undefined : revocations.offer(list, memberId))
      .catch((e) => o.log(`herd: fetching the revocation list from ${memberId}: ${e.message}`))
      .finally(() => fetchingFrom.delete(memberId));
  };
  const service = new JobService({
    selfId: self.id,
    kv,
    runner,
    hub,
    rpc,
    placer,
    liveIds: () => mesh.liveIds(),
    clock: systemClock,
    random: cryptoRandom,
    historyLimit: config["jobs.historyLimit"],
    killGraceMs: config["jobs.killGrace"],
    checkpointRoot: `${o.dataDir}/checkpoints`,
    log: o.log,
  });
  late.jobs = service;
  mesh.onMembership((e) => {
    service.membershipChanged(e);
    if (
      (e.type === "NodeJoined" || e.type === "NodeUpdated") && e.member.id !== self.id &&
      (readMeta(e.member.meta).revocations ?? 0) > revocations.version
    ) fetchRevocations(e.member.id);
    // Members joining and leaving touch code an idle node does not (handshakes, pushes
    // of the full state): once the members are quiet again, those pages go back too.
    if (e.type !== "NodeUpdated") pages.poke();
  });
  service.lostAtStart(lost);
  service.start();
  cleanups.push(() => service.close());
  if (lost.length > 0) {
    // Their owners learn of the loss once this node has found its members again.
    setTimeout(() => lost.forEach((j) => service.jobEnded(j)), 3_000);
  }
  const api = createApi({
    placer,
    jobs: service,
    jobDefaults: { cpu: config["jobs.defaultCpu"], memBytes: config["jobs.defaultMem"] },
    revocations,
    apiToken: token,
    profile,
    config: o.config,
    status,
    counters: () => counters,
    mesh,
    events,
    token: clusterToken,
    leave: () => {
      // Answer first; the agent leaves and stops right after.
      setTimeout(() => stop("herd leave", { leave: true }), 10);
    },
  });
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: config["api.host"],
      port: config["api.port"],
      onListen: () => {},
      onError: (e) => {
        o.log(`herd: API error: ${(e as Error).stack ?? e}`);
        return new Response("internal error", { status: 500 });
      },
    }, api.fetch);
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new HerdError(`the API port ${config["api.host"]}:${config["api.port"]} is in use`, {
        hint:
          "another program (or herd node) has it: start with --api-port N, or --api-port 0 for any free port",
        cause: e,
      });
    }
    throw e;
  }
  cleanups.push(() => server.shutdown());
  apiUrl = `http://${server.addr.hostname}:${server.addr.port}`;
  const info: AgentInfo = { pid: Deno.pid, nodeId: self.id, apiUrl, startedAt };
  await writeAgentInfo(o.dataDir, info);
  cleanups.push(() => removeAgentInfo(o.dataDir));

  let resolveFinished!: () => void;
  const finished = new Promise<void>((r) => resolveFinished = r);
  let stopping: Promise<void> | undefined;
  const stop = (reason: string, opts: { leave?: boolean } = {}) => {
    stopping ??= (async () => {
      o.log(`herd: stopping (${reason})`);
      if (opts.leave) await mesh.leave();
      await removeAgentInfo(o.dataDir);
      await runner.shutdown(`the node stopped (${reason}) while the job was running`);
      await cleanup();
      resolveFinished();
    })();
    return stopping;
  };
  return {
    info,
    name,
    class: nodeClass,
    profile,
    capacity,
    emulated,
    mesh,
    cluster: { fingerprint: identity.ca.fingerprint, how, token: identity.token },
    finished,
    stop,
  };
}
