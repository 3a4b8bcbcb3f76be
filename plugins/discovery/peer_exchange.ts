// The `peer-exchange` discovery plugin: offers again, every interval, the members this
// node knows or knew (`ctx.knownPeers()`, remembered by the agent across restarts), so a
// restarted node, or one cut off by a partition, finds its cluster again without any
// other discovery: Serf's snapshot + reconnect. Sends and listens to nothing itself.

import type { Candidate, DiscoveryContext, DiscoveryPlugin } from "../sdk.ts";
import { checkCandidate, every, OccasionalLog, readInterval, sessions } from "./_common.ts";

/** Peers offered per interval at most; a longer list is offered in turns. */
export const MAX_PEERS_PER_ROUND = 1024;

function open(ctx: DiscoveryContext, signal: AbortSignal) {
  const log = (m: string) => ctx.log(`peer-exchange: ${m}`);
  const notes = new OccasionalLog(ctx.log);
  let offset = 0;
  const offer = () => {
    let known: Candidate[];
    try {
      known = ctx.knownPeers();
    } catch (e) {
      notes.note("known", `peer-exchange: cannot read known peers: ${(e as Error).message}`);
      return;
    }
    if (!Array.isArray(known) || known.length === 0) return;
    const start = offset % known.length;
    const turn = [...known.slice(start), ...known.slice(0, start)].slice(0, MAX_PEERS_PER_ROUND);
    offset = start + turn.length;
    for (const k of turn) {
      if (k?.nodeId !== undefined && k.nodeId === ctx.self.id) continue;
      const c: Candidate = {
        address: k?.address,
        port: k?.port,
        via: "peer-exchange",
        ...(k?.nodeId !== undefined ? { nodeId: k.nodeId } : {}),
        ...(k?.cluster !== undefined ? { cluster: k.cluster } : {}),
      };
      const wrong = checkCandidate(c);
      if (wrong) notes.note("bad", `peer-exchange: skipping a known peer: ${wrong}`);
      else ctx.found(c);
    }
  };
  return Promise.resolve({ closed: every(readInterval(ctx), signal, offer, log) });
}

export const plugin = {
  kind: "discovery",
  name: "peer-exchange",
  sdk: 1,
  description: "Offers the members this node knows or knew, every interval (reconnect).",
  ...sessions(open),
} satisfies DiscoveryPlugin;
