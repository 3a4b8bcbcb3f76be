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
  AuthRefusal,
  newChallenge,
  proveConnection,
  proveWithSecret,
  verifyConnectionProof,
  verifySecretProof,
} from "../identity/connection_auth.ts";
import type { TicketStore } from "./tickets.ts";
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
  /** Resumption tickets (tickets.ts); without them every connection signs. */
  tickets?: TicketStore;
}

export type AuthOutcome =
  /** `resumed`: proved with a ticket's secret (tickets.ts), not with signatures. */
  | { ok: true; peerId: string; resumed?: boolean }
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
  const held = c.tickets?.held(serverId);
  await channel.send({
    type: ControlType.AuthHello,
    id: me.nodeId,
    cert: me.certPem,
    challenge,
    ...(held ? { ticket: held.id } : {}),
  });
  const reply = await channel.expect(ControlType.AuthServerProof);
  if (reply.type === ControlType.Refused) return refusedByPeer(reply.reason, serverId);
  const ctx = { challenge, serverNodeId: serverId, dialerNodeId: me.nodeId };
  let signature: Uint8Array;
  if (reply.resumed) {
    // The server took our ticket: its certificate is still checked, then the HMAC.
    const cert = verifyNodeCert(reply.cert, me.ca, c.now(), { revoked: me.revoked?.() });
    const fail = !held
      ? { reason: AuthRefusal.Malformed, detail: `${serverId} resumed without a ticket` }
      : !cert.ok
      ? { reason: cert.reason, detail: cert.detail }
      : cert.nodeId !== serverId
      ? { reason: AuthRefusal.WrongNode, detail: `${serverId} resumed as ${cert.nodeId}` }
      : !(await verifySecretProof(reply.signature, { role: "server", ...ctx }, held.key))
      ? { reason: AuthRefusal.BadSignature, detail: `${serverId}: resumed proof does not verify` }
      : undefined;
    if (fail) {
      c.tickets?.drop(serverId);
      await channel.send({ type: ControlType.Refused, reason: fail.reason });
      return { ok: false, ...fail, byPeer: false, claimedId: serverId };
    }
    verified(serverId);
    signature = await proveWithSecret(
      { role: "dialer", ...ctx, challenge: reply.challenge },
      held!.key,
    );
  } else {
    if (held) c.tickets?.drop(serverId); // the server forgot it
    const server = await verifyConnectionProof(
      { certPem: reply.cert, signature: reply.signature },
      { role: "server", ...ctx },
      { ca: me.ca, now: c.now(), revoked: me.revoked?.() },
    );
    if (!server.ok) {
      await channel.send({ type: ControlType.Refused, reason: server.reason });
      return { ...server, byPeer: false, claimedId: serverId };
    }
    verified(serverId);
    signature = await proveConnection(
      { role: "dialer", ...ctx, challenge: reply.challenge },
      me.privateKey,
    );
  }
  await channel.send({ type: ControlType.AuthDialerProof, signature });
  const verdict = await channel.expect(ControlType.AuthOk);
  if (verdict.type === ControlType.Refused) {
    c.tickets?.drop(serverId);
    return refusedByPeer(verdict.reason, serverId);
  }
  if (verdict.ticket && verdict.secret) {
    await c.tickets?.keep(serverId, verdict.ticket, verdict.secret);
  }
  return { ok: true, peerId: serverId, ...(reply.resumed ? { resumed: true } : {}) };
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
  const ctx = { serverNodeId: me.nodeId, dialerNodeId: claimedId };
  // A ticket we issued to this node for this very certificate: HMACs instead of signatures.
  const ticket = hello.ticket && c.tickets?.issued(hello.ticket);
  const resumed = ticket && ticket.peerId === claimedId && ticket.certPem === hello.cert &&
      cert.nodeId === claimedId
    ? ticket
    : undefined;
  const signature = resumed
    ? await proveWithSecret({ role: "server", challenge: hello.challenge, ...ctx }, resumed.key)
    : await proveConnection({ role: "server", challenge: hello.challenge, ...ctx }, me.privateKey);
  await channel.send({
    type: ControlType.AuthServerProof,
    challenge,
    cert: me.certPem,
    signature,
    ...(resumed ? { resumed: true as const } : {}),
  });
  const proof = await channel.expect(ControlType.AuthDialerProof);
  if (proof.type === ControlType.Refused) return refusedByPeer(proof.reason, claimedId);
  if (resumed) {
    const good = await verifySecretProof(
      proof.signature,
      { role: "dialer", challenge, ...ctx },
      resumed.key,
    );
    if (!good) {
      return await refuse(AuthRefusal.BadSignature, `${claimedId}: resumed proof does not verify`);
    }
    verified(claimedId);
    await channel.send({ type: ControlType.AuthOk });
    return { ok: true, peerId: claimedId, resumed: true };
  }
  const verdict = await verifyConnectionProof(
    { certPem: hello.cert, signature: proof.signature },
    { role: "dialer", challenge, ...ctx },
    { ca: me.ca, now: c.now(), revoked: me.revoked?.() },
  );
  if (!verdict.ok) return await refuse(verdict.reason, verdict.detail);
  verified(verdict.nodeId);
  const next = await c.tickets?.issue(verdict.nodeId, hello.cert);
  await channel.send({
    type: ControlType.AuthOk,
    ...(next ? { ticket: next.id, secret: next.secret } : {}),
  });
  return { ok: true, peerId: verdict.nodeId };
}
