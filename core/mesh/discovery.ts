// Runs the enabled discovery plugins and hands their candidates on, once each per
// cooldown. Candidates are untrusted: the caller checks them (node info, cluster
// fingerprint, then the authenticated join).

import type { HerdConfig } from "../config.ts";
import { ConfigError } from "../errors.ts";
import type { Candidate, DiscoveryContext, DiscoveryPlugin } from "../../plugins/sdk.ts";
import type { PluginSet } from "../../plugins/loader.ts";

export interface DiscoveryDeps {
  plugins: PluginSet;
  config: HerdConfig;
  self: () => DiscoveryContext["self"];
  knownPeers: () => Candidate[];
  /** Called for a candidate not offered within the cooldown. */
  onCandidate: (c: Candidate) => void;
  now: () => number;
  log: (line: string) => void;
}

/** The `discovery.*` settings, without the prefix, as plugins read them. */
export function discoverySettings(c: HerdConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) {
    if (k.startsWith("discovery.")) out[k.slice("discovery.".length)] = v;
  }
  return out;
}

/** The plugins `discovery.methods` names; an unknown name is a configuration error. */
export function enabledDiscovery(plugins: PluginSet, c: HerdConfig): DiscoveryPlugin[] {
  return c["discovery.methods"].map((name) => {
    const p = plugins.get("discovery", name);
    if (!p) {
      throw new ConfigError(
        `'discovery.methods': no discovery plugin '${name}' (have: ${
          plugins.names("discovery").join(", ")
        })`,
      );
    }
    return p;
  });
}

export class DiscoveryRunner {
  readonly #d: DiscoveryDeps;
  readonly #abort = new AbortController();
  readonly #started: DiscoveryPlugin[] = [];
  /** address:port → when it was last handed on. */
  readonly #recent = new Map<string, number>();
  readonly #cooldownMs: number;
  found = 0;
  offered = 0;

  constructor(d: DiscoveryDeps) {
    this.#d = d;
    this.#cooldownMs = Math.max(1_000, d.config["discovery.interval"] * 2);
  }

  async start(): Promise<void> {
    const settings = discoverySettings(this.#d.config);
    for (const p of enabledDiscovery(this.#d.plugins, this.#d.config)) {
      const ctx: DiscoveryContext = {
        self: this.#d.self(),
        config: settings,
        found: (c) => this.#found(c),
        knownPeers: this.#d.knownPeers,
        log: (m) => this.#d.log(`herd: discovery ${p.name}: ${m}`),
        signal: this.#abort.signal,
      };
      await p.start(ctx);
      this.#started.push(p);
    }
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    for (const p of this.#started.splice(0).reverse()) await p.stop();
  }

  #found(c: Candidate): void {
    this.found++;
    if (typeof c?.address !== "string" || !Number.isInteger(c.port) || c.port <= 0) return;
    const key = `${c.address}:${c.port}`;
    const now = this.#d.now();
    const last = this.#recent.get(key);
    if (last !== undefined && now - last < this.#cooldownMs) return;
    this.#recent.set(key, now);
    if (this.#recent.size > 4096) {
      for (const [k, t] of this.#recent) if (now - t >= this.#cooldownMs) this.#recent.delete(k);
    }
    this.offered++;
    this.#d.onCandidate(c);
  }
}
