// Answering a join: only the node holding the cluster CA key issues certificates.
// Any other member refuses and names the holder, so the joiner can go there.

import type { Clock, RandomBytes } from "../clock.ts";
import type { HerdConfig } from "../config.ts";
import {
  grantJoin,
  type JoinConfig,
  JoinNonces,
  type JoinRequest,
  resolveJoinConfig,
} from "../identity/join.ts";
import { parseToken } from "../identity/token.ts";
import type { MeshIdentity } from "./identity.ts";

export { JoinNonces };

/** Refusal reason of a member that does not hold the CA key. */
export const NOT_CA_HOLDER = "join-not-ca-holder";

export type GrantResult =
  | { ok: true; certPem: string; caPem: string }
  | { ok: false; reason: string; detail: string };

export function parseJoinConfig(c: HerdConfig): JoinConfig {
  return resolveJoinConfig({
    nonceTtlMs: c["identity.nonceTtl"],
    maxClockSkewMs: c["identity.maxClockSkew"],
  });
}

export interface GrantDeps {
  identity: MeshIdentity;
  clock: Clock;
  random: RandomBytes;
  nonces: JoinNonces;
  config: HerdConfig;
  /** A live member already has this id: a joiner must use a fresh one. */
  isMember: (nodeId: string) => boolean;
  /** The live member that holds the CA, when this node does not. */
  caHolder: () => { id: string; address: string } | undefined;
}

export function makeGrant(d: GrantDeps): (r: JoinRequest, remote: string) => Promise<GrantResult> {
  const caKeyPem = d.identity.caKeyPem;
  const token = d.identity.token ? parseToken(d.identity.token) : undefined;
  const config = parseJoinConfig(d.config);
  return async (r) => {
    if (!caKeyPem || !token?.ok) {
      const h = d.caHolder();
      return {
        ok: false,
        reason: NOT_CA_HOLDER,
        detail: h
          ? `this member cannot issue certificates: join through ${h.address} (node ${h.id}, it holds the cluster CA)`
          : "this member cannot issue certificates and knows no live member that can",
      };
    }
    const res = await grantJoin(r, {
      token: token.token,
      selfNodeId: d.identity.nodeId,
      nonces: d.nonces,
      clock: d.clock,
      config,
      nodeIdInUse: d.isMember,
      ca: { caCertPem: d.identity.ca.pem, caKeyPkcs8Pem: caKeyPem },
      random: d.random,
    });
    return res.ok ? { ok: true, certPem: res.certPem, caPem: d.identity.ca.pem } : res;
  };
}
