// Connection authentication on the first bidirectional stream, both sides, over
// core/identity/connection_auth.ts (docs/security.md has the exchange and why it holds):
//
//   dialer                                            server
//   AuthHello { id, cert, challenge_D }          -->  verify the dialer's cert (cheap refusal)
//                                                <--  AuthServerProof { challenge_S, cert, sign_S }
//   verify the server's cert and signature
//   AuthDialerProof { sign_D }                   -->  verify the dialer's signature
//                                                <--  AuthOk, or Refused { reason }
//
// Either side sends `Refused { reason }` (never the detail) when it refuses the other.
// Timeouts are the caller's: it closes the connection, which ends any pending read.
//
// `verified(peerId)` is called the moment a side has proof of the other - the dialer on a
// good server proof, the server just before it sends AuthOk - so the caller can accept
// the peer's messages before the peer can send any: a server may send the moment it has
// verified the dialer, a dialer the moment it reads AuthOk.

import type { RandomBytes } from "../clock.ts";
import {
  newChallenge,
  proveConnection,
  verifyConnectionProof,
} from "../identity/connection_auth.ts";
import { type ClusterCa, type Revocations, verifyNodeCert } from "../identity/verify.ts";
import type { ControlChannel } from "./channel.ts";
import { type ControlOf, ControlType } from "./control.ts";

/** What this node proves itself with, and what it trusts. */
export interface LocalIdentity {
  nodeId: string;
  /** Our node certificate (PEM), issued by `ca`. */
  certPem: string;
  /** Our node key, PKCS#8 PEM: what the QUIC listener presents the certificate with. */
  keyPem: string;
  /** The same key as a CryptoKey: signs connection proofs. */
  privateKey: CryptoKey;
  ca: ClusterCa;
  /** The current revocation set, read at each authentication. */
  revoked?: () => Revocations;
}

export interface AuthContext {
  self: LocalIdentity;
  /** Wall clock, ms since the epoch (certificate validity). */
  now(): number;
  random: RandomBytes;
}

export type AuthOutcome =
  | { ok: true; peerId: string }
  /** `byPeer`: the other side refused us; else we refused it. */
  | { ok: false; reason: string; detail: string; byPeer: boolean; claimedId?: string };

const refusedByPeer = (reason: string, claimedId?: string): AuthOutcome => ({
  ok: false,
  reason,
  detail: "the peer refused this node",
  byPeer: true,
  claimedId,
});

/** The dialer's side. `serverId` is the node id it dialed (the TLS name it verified). */
export async function authenticateAsDialer(
  channel: ControlChannel,
  serverId: string,
  c: AuthContext,
  verified: (peerId: string) => void = () => {},
): Promise<AuthOutcome> {
  const me = c.self;
  const challenge = newChallenge(c.random);
  await channel.send({ type: ControlType.AuthHello, id: me.nodeId, cert: me.certPem, challenge });
  const reply = await channel.expect(ControlType.AuthServerProof);
  if (reply.type === ControlType.Refused) return refusedByPeer(reply.reason, serverId);
  const server = await verifyConnectionProof(
    { certPem: reply.cert, signature: reply.signature },
    { role: "server", challenge, serverNodeId: serverId, dialerNodeId: me.nodeId },
    { ca: me.ca, now: c.now(), revoked: me.revoked?.() },
  );
  if (!server.ok) {
    await channel.send({ type: ControlType.Refused, reason: server.reason });
    return { ...server, byPeer: false, claimedId: serverId };
  }
  verified(serverId);
  const signature = await proveConnection(
    {
      role: "dialer",
      challenge: reply.challenge,
      serverNodeId: serverId,
      dialerNodeId: me.nodeId,
    },
    me.privateKey,
  );
  await channel.send({ type: ControlType.AuthDialerProof, signature });
  const verdict = await channel.expect(ControlType.AuthOk);
  if (verdict.type === ControlType.Refused) return refusedByPeer(verdict.reason, serverId);
  return { ok: true, peerId: serverId };
}

/** The server's side, once the first frame turned out to be an AuthHello. */
export async function authenticateAsServer(
  channel: ControlChannel,
  hello: ControlOf<typeof ControlType.AuthHello>,
  c: AuthContext,
  verified: (peerId: string) => void = () => {},
): Promise<AuthOutcome> {
  const me = c.self;
  const claimedId = hello.id;
  const refuse = async (reason: string, detail: string): Promise<AuthOutcome> => {
    await channel.send({ type: ControlType.Refused, reason });
    return { ok: false, reason, detail, byPeer: false, claimedId };
  };
  // The dialer's certificate first: a stranger is refused before we sign anything.
  const cert = verifyNodeCert(hello.cert, me.ca, c.now(), { revoked: me.revoked?.() });
  if (!cert.ok) return await refuse(cert.reason, cert.detail);
  const challenge = newChallenge(c.random);
  const signature = await proveConnection(
    {
      role: "server",
      challenge: hello.challenge,
      serverNodeId: me.nodeId,
      dialerNodeId: claimedId,
    },
    me.privateKey,
  );
  await channel.send({ type: ControlType.AuthServerProof, challenge, cert: me.certPem, signature });
  const proof = await channel.expect(ControlType.AuthDialerProof);
  if (proof.type === ControlType.Refused) return refusedByPeer(proof.reason, claimedId);
  const verdict = await verifyConnectionProof(
    { certPem: hello.cert, signature: proof.signature },
    { role: "dialer", challenge, serverNodeId: me.nodeId, dialerNodeId: claimedId },
    { ca: me.ca, now: c.now(), revoked: me.revoked?.() },
  );
  if (!verdict.ok) return await refuse(verdict.reason, verdict.detail);
  verified(verdict.nodeId);
  await channel.send({ type: ControlType.AuthOk });
  return { ok: true, peerId: verdict.nodeId };
}
