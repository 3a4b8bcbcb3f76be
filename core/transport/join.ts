// Joining over the transport, both sides (docs/security.md, "Joining"):
//
//   joiner                                              member (answers joins)
//   fetchInfo over TCP: the CA and the member's id
//   checkCaForToken: the CA's hash is the token's  (nothing secret-derived is sent before)
//   QUIC to <id>.herd with caCerts: [CA]
//   JoinHello                                      -->
//                                                  <--  JoinChallenge { nonce }
//   JoinRequest (join.ts: MAC and signature)       -->  handler.grant(request, ...)
//                                                  <--  JoinGranted { certPem, caPem } | Refused
//
// The token's secret never leaves the joiner: only a MAC over the transcript does. A join
// connection never carries membership traffic; it is closed once answered.

import type { Clock, RandomBytes } from "../clock.ts";
import {
  checkCaForToken,
  type JoinNonces,
  JoinRefusal,
  type JoinRequest,
  makeJoinRequest,
} from "../identity/join.ts";
import type { NodeKey } from "../identity/keys.ts";
import { nodeDnsName } from "../identity/names.ts";
import { constantTimeEqual, parseToken, TokenRefusal } from "../identity/token.ts";
import { certDer, fingerprintDer, verifyNodeCert } from "../identity/verify.ts";
import { parseIp } from "./acl.ts";
import { formatAddress } from "./address.ts";
import { ControlChannel, ProtocolError, TransportRefusal } from "./channel.ts";
import { ALPN, type ControlOf, ControlType } from "./control.ts";
import { JoinError, TransportError } from "./errors.ts";
import { fetchInfo } from "./info.ts";

// -- server side -------------------------------------------------------------

export type JoinGrant =
  | { ok: true; certPem: string; caPem: string }
  | { ok: false; reason: string; detail: string };

/**
 * Answers joins. The transport issues each joiner a challenge from `nonces` (made with
 * `identity.nonceTtl`); `grant` checks the request against the same nonces - the agent's
 * does it with grantJoin (verifyJoinRequest, then a certificate).
 */
export interface JoinHandler {
  nonces: JoinNonces;
  /** `remoteAddress`: host:port the join came from, for logs. */
  grant(request: JoinRequest, remoteAddress: string): Promise<JoinGrant>;
}

export interface ServeJoinOptions {
  handler?: JoinHandler;
  remoteAddress: string;
  log(line: string): void;
}

/** Answers one join on `channel` (its JoinHello already read). Returns what was decided. */
export async function serveJoin(channel: ControlChannel, o: ServeJoinOptions): Promise<JoinGrant> {
  const refuse = async (reason: string, detail: string): Promise<JoinGrant> => {
    await channel.send({ type: ControlType.Refused, reason });
    return { ok: false, reason, detail };
  };
  if (!o.handler) {
    return await refuse(TransportRefusal.JoinUnavailable, "this node does not answer joins");
  }
  const { nonce } = o.handler.nonces.issue();
  await channel.send({ type: ControlType.JoinChallenge, nonce });
  const r = await channel.expect(ControlType.JoinRequest);
  if (r.type === ControlType.Refused) {
    return {
      ok: false,
      reason: TransportRefusal.Closed,
      detail: `the joiner gave up: ${r.reason}`,
    };
  }
  const request: JoinRequest = {
    nonce: r.nonce,
    serverNodeId: r.serverNodeId,
    nodeId: r.nodeId,
    publicKeySpki: r.publicKeySpki,
    timestampMs: r.timestampMs,
    mac: r.mac,
    signature: r.signature,
  };
  let grant: JoinGrant;
  try {
    grant = await o.handler.grant(request, o.remoteAddress);
  } catch (e) {
    // Our own side failed (the CA key unusable, issuing broke): the joiner learns only
    // that; the detail is for our log.
    o.log(`herd: answering the join of ${r.nodeId} from ${o.remoteAddress} failed: ${e}`);
    return await refuse(TransportRefusal.JoinFailed, String(e));
  }
  if (!grant.ok) return await refuse(grant.reason, grant.detail);
  await channel.send({ type: ControlType.JoinGranted, certPem: grant.certPem, caPem: grant.caPem });
  return grant;
}

// -- joiner side -------------------------------------------------------------

export interface RequestJoinOptions {
  /** The join token, as the user pasted it. */
  token: string;
  /** A member's mesh address. */
  host: string;
  port: number;
  /** The joiner's new node id and key (the certificate will be for them). */
  nodeId: string;
  key: NodeKey;
  /** For the whole join: info, QUIC handshake, the exchange. */
  timeoutMs: number;
  /** Wall clock, ms since the epoch (the request's timestamp, the certificate check). */
  now(): number;
  /**
   * Accepted for symmetry with the server side; unused: the request's only randomness is
   * the server's nonce and the ECDSA signature (WebCrypto's own).
   */
  random?: RandomBytes;
}

export interface JoinResult {
  certPem: string;
  caPem: string;
  /** The member that granted it. */
  serverId: string;
}

const HINTS: Record<string, string> = {
  [TokenRefusal.Malformed]: "copy the whole token again (`herd token` on a member prints it)",
  [TokenRefusal.WrongPrefix]: "a join token starts with herd1.: copy it again",
  [TokenRefusal.WrongVersion]: "this herd is older than the member that made the token: upgrade",
  [TokenRefusal.BadHash]: "copy the whole token again (`herd token` on a member prints it)",
  [TokenRefusal.BadSecret]: "copy the whole token again (`herd token` on a member prints it)",
  [TokenRefusal.ShortSecret]: "copy the whole token again (`herd token` on a member prints it)",
  [JoinRefusal.CaMismatch]:
    "that node is in another cluster than the token's: check the address, or the token",
  [JoinRefusal.CaUnusable]: "that node's CA cannot anchor a cluster: is it a herd node?",
  [JoinRefusal.BadMac]: "the token's secret is wrong: get the current token with `herd token`",
  [JoinRefusal.StaleTimestamp]: "this machine's clock is off: set it (NTP) and join again",
  [JoinRefusal.UnknownNonce]: "join again (a challenge can be used once)",
  [JoinRefusal.ExpiredNonce]: "join again (the challenge expired)",
  [JoinRefusal.NodeIdTaken]: "another member has this node id: start this node afresh",
  [TransportRefusal.JoinUnavailable]:
    "that member cannot admit nodes: join through the member that created the cluster",
};
const hintFor = (reason: string) => HINTS[reason] ?? "the member's log says why";

/**
 * Joins through the member at host:port: learns its CA and id (fetchInfo), checks the CA
 * against the token, then asks over QUIC for a node certificate for `nodeId` and `key`.
 * Throws JoinError on a refusal (either side's), TransportError if the member cannot be
 * reached or does not follow the protocol.
 */
export async function requestJoin(o: RequestJoinOptions): Promise<JoinResult> {
  const where = formatAddress(o.host, o.port);
  const parsed = parseToken(o.token);
  if (!parsed.ok) {
    throw new JoinError(parsed.reason, `the join token is not valid: ${parsed.detail}`, {
      hint: hintFor(parsed.reason),
    });
  }
  const token = parsed.token;
  const started = o.now();
  const left = () => Math.max(1, o.timeoutMs - (o.now() - started));

  const info = await fetchInfo(o.host, o.port, o.timeoutMs);
  // Before anything derived from the secret is sent: is this the token's cluster?
  const trusted = checkCaForToken(token, info.caPem);
  if (!trusted.ok) {
    throw new JoinError(trusted.reason, `${where}: ${trusted.detail}`, {
      hint: hintFor(trusted.reason),
    });
  }
  const ca = trusted.ca;

  const endpoint = new Deno.QuicEndpoint({
    hostname: parseIp(o.host)?.family === 4 ? "0.0.0.0" : "::",
    port: 0,
  });
  let conn: Deno.QuicConn | undefined;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    endpoint.close({ closeCode: 0, reason: TransportRefusal.Timeout }); // ends every pending step
  }, left());
  try {
    conn = await Deno.connectQuic({
      endpoint,
      hostname: o.host,
      port: o.port,
      serverName: nodeDnsName(info.id),
      caCerts: [ca.pem],
      alpnProtocols: ALPN,
      maxIdleTimeout: o.timeoutMs,
    });
    const channel = new ControlChannel(await conn.createBidirectionalStream());
    await channel.send({ type: ControlType.JoinHello });
    const challenge = await channel.expect(ControlType.JoinChallenge);
    if (challenge.type === ControlType.Refused) throw refused(challenge, where);
    const request = await makeJoinRequest({
      token,
      challenge: { nonce: challenge.nonce },
      serverNodeId: info.id,
      nodeId: o.nodeId,
      key: o.key,
      clock: { now: o.now } satisfies Clock,
    });
    await channel.send({ type: ControlType.JoinRequest, ...request });
    const answer = await channel.expect(ControlType.JoinGranted);
    if (answer.type === ControlType.Refused) throw refused(answer, where);

    // What we got must be a certificate of this cluster for our id and our key.
    const cert = verifyNodeCert(answer.certPem, ca, o.now());
    const good = cert.ok && cert.nodeId === o.nodeId &&
      constantTimeEqual(cert.publicKeySpki, o.key.publicKeySpki) &&
      sameCa(answer.caPem, ca.fingerprint);
    if (!good) {
      throw new JoinError(
        TransportRefusal.BadGrant,
        `${where} answered the join with a certificate that is not for this node` +
          (cert.ok ? "" : ` (${cert.reason}: ${cert.detail})`),
        { hint: "is that node a member of the token's cluster? its log may say more" },
      );
    }
    return { certPem: answer.certPem, caPem: answer.caPem, serverId: info.id };
  } catch (e) {
    if (e instanceof JoinError) throw e;
    const why = timedOut
      ? `no answer within ${o.timeoutMs} ms`
      : e instanceof ProtocolError
      ? e.message
      : e instanceof Error
      ? e.message
      : String(e);
    throw new TransportError(`joining through ${where} (node ${info.id}) failed: ${why}`, {
      hint: "check the address and that the node is up; its log may say more",
      cause: e,
    });
  } finally {
    clearTimeout(timer);
    conn?.close({ closeCode: 0, reason: "done" });
    endpoint.close();
  }
}

function sameCa(pem: string, fingerprint: string): boolean {
  const der = certDer(pem);
  return der !== undefined && fingerprintDer(der) === fingerprint;
}

function refused(f: ControlOf<typeof ControlType.Refused>, where: string): JoinError {
  return new JoinError(f.reason, `${where} refused the join: ${f.reason}`, {
    hint: hintFor(f.reason),
  });
}
