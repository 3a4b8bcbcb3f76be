// Shared pieces of the transport tests: settings for loopback, transports for the fixture
// nodes, and waiting with a deadline (a test fails, it never hangs).

import { cryptoRandom } from "../../../core/clock.ts";
import { issueNodeCert } from "../../../core/identity/issue.ts";
import { generateNodeKey } from "../../../core/identity/keys.ts";
import type { ClusterCa } from "../../../core/identity/verify.ts";
import { newNodeId } from "../../../core/ids.ts";
import type { Message } from "../../../core/membership/messages.ts";
import { MessageType, PROTOCOL_VERSION } from "../../../core/membership/messages.ts";
import type { LocalIdentity } from "../../../core/transport/auth.ts";
import {
  type Sender,
  Transport,
  type TransportOptions,
  type TransportSettings,
} from "../../../core/transport/transport.ts";
import { fixtures, type Node } from "../identity/_fixtures.ts";

export { fixtures, type Node };

/** Generous: a slow 2-core machine under `deno test --parallel` must not fail these. */
export const SETTINGS: TransportSettings = {
  maxConnections: 32,
  idleTimeoutMs: 30_000,
  dialTimeoutMs: 5_000,
  maxMessageBytes: 4 * 1024 * 1024,
  handshakeRate: 1_000,
  handshakeBurst: 1_000,
  allow: [],
  deny: [],
};

/** A node's identity, trusting `ca` (the fixture cluster's unless given). */
export async function identityOf(n: Node, ca?: ClusterCa): Promise<LocalIdentity> {
  return {
    nodeId: n.id,
    certPem: n.certPem,
    keyPem: n.key.privateKeyPem,
    privateKey: n.key.privateKey,
    ca: ca ?? (await fixtures()).ca,
  };
}

export interface Running {
  t: Transport;
  got: Array<{ from: Sender; msg: Message }>;
  logs: string[];
  address: string;
}

/** A transport on 127.0.0.1, port 0, recording what it receives and logs. */
export async function start(
  identity: LocalIdentity,
  o: Partial<TransportOptions> & { names?: Map<string, string> } = {},
): Promise<Running> {
  const logs: string[] = [];
  const names = o.names ?? new Map<string, string>();
  const t = await Transport.listen({
    host: "127.0.0.1",
    port: 0,
    identity,
    settings: SETTINGS,
    now: () => Date.now(),
    random: cryptoRandom,
    log: (line) => logs.push(line),
    resolve: (address) => names.get(address),
    ...o,
  });
  const got: Running["got"] = [];
  t.onMessage((from, msg) => got.push({ from, msg }));
  return { t, got, logs, address: `127.0.0.1:${t.port}` };
}

/** Polls `pred` every 10 ms until it holds; throws after `ms` with `what`. */
export async function waitFor(pred: () => boolean, what: string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A member of the fixture cluster made on demand (fresh key and id). */
export async function extraNode(validity?: { now: number; days: number }): Promise<Node> {
  const f = await fixtures();
  const key = await generateNodeKey();
  const id = newNodeId(cryptoRandom);
  const certPem = await issueNodeCert(f.material, {
    nodeId: id,
    publicKeySpkiPem: key.publicKeySpkiPem,
    now: validity?.now ?? f.t0,
    validityDays: validity?.days,
  });
  return { id, key, certPem };
}

export const ping = (seq: number, from: { id: string; address: string }, target: string) =>
  ({
    type: MessageType.Ping,
    v: PROTOCOL_VERSION,
    seq,
    target,
    from,
  }) satisfies Message;
