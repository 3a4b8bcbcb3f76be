// How a node is named in its certificate: its id (16 characters of [0-9a-z], see
// core/ids.ts) as the single DNS name `<id>.herd`, which is also the QUIC server name
// a dialer asks for.

/** A node id: what `newNodeId` makes (16 lower-case base32 characters), or any [0-9a-z]{16}. */
export const NODE_ID_PATTERN = /^[0-9a-z]{16}$/;

/** The pseudo top-level domain of node names. Not a public TLD: no public CA issues for it. */
export const NODE_NAME_SUFFIX = ".herd";

export const isNodeId = (id: string): boolean => NODE_ID_PATTERN.test(id);

/** `<id>.herd`: the DNS SAN of the node's certificate and the `serverName` to dial. */
export const nodeDnsName = (nodeId: string): string => nodeId + NODE_NAME_SUFFIX;

/** The node id a DNS name carries, or undefined if it is not `<valid id>.herd`. */
export function nodeIdFromDnsName(name: string): string | undefined {
  if (!name.endsWith(NODE_NAME_SUFFIX)) return undefined;
  const id = name.slice(0, -NODE_NAME_SUFFIX.length);
  return isNodeId(id) ? id : undefined;
}
