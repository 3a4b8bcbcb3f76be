// A DiscoveryContext for tests: records what a plugin found and logged, and waits
// with a deadline (a test fails, it never hangs).

import type { Candidate, DiscoveryContext } from "../../../plugins/sdk.ts";

export const CLUSTER = "ab".repeat(32);
export const OTHER_CLUSTER = "cd".repeat(32);

/** Node ids for tests: 16 of [0-9a-z]. */
export const ID_A = "aaaaaaaaaaaaaaaa";
export const ID_B = "bbbbbbbbbbbbbbbb";
export const ID_C = "cccccccccccccccc";

/** Deadlines are generous: a slow 2-core machine under `deno test --parallel` must pass. */
export const DEADLINE_MS = 15_000;

export interface TestContext {
  ctx: DiscoveryContext;
  found: Candidate[];
  logs: string[];
  /** Ends the plugin's session (its ctx.signal). */
  abort(): void;
}

export function testContext(o: {
  self?: Partial<DiscoveryContext["self"]>;
  config?: Record<string, unknown>;
  knownPeers?: () => Candidate[];
} = {}): TestContext {
  const found: Candidate[] = [];
  const logs: string[] = [];
  const ac = new AbortController();
  const ctx: DiscoveryContext = {
    self: { id: ID_A, address: "", port: 7946, cluster: CLUSTER, ...o.self },
    config: { interval: 100, ...o.config },
    found: (c) => void found.push(c),
    knownPeers: o.knownPeers ?? (() => []),
    log: (m) => void logs.push(m),
    signal: ac.signal,
  };
  return { ctx, found, logs, abort: () => ac.abort() };
}

/** Polls `check` until it returns something other than undefined/false, or fails. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false,
  timeoutMs = DEADLINE_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A UDP port free right now (bound and released). */
export function freeUdpPort(): number {
  const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (s.addr as Deno.NetAddr).port;
  s.close();
  return port;
}
