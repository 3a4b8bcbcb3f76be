// `herd revoke NODE`: the cluster stops trusting a node's certificate.

import { UsageError } from "../core/errors.ts";
import type { RevokedNode } from "../core/identity/revocation.ts";
import { Client, dataDir, parse } from "./common.ts";
import { table } from "./table.ts";

export const REVOKE_HELP = `Usage: herd revoke NODE [--reason TEXT] [--json]
       herd revoke --list [--json]

Revokes a node's certificate: every member closes its connections to the node and
refuses new ones, and it is marked failed. Run it on the node that holds the cluster
CA key (the one that created the cluster). The list is signed with that key, kept in
each member's store and handed on by the members, so a member that was away learns it
when it comes back. A revoked node cannot rejoin with the same identity; to bring the
machine back, start it with a new --data-dir and join with the token.

  NODE           the member (id, id prefix or name), failed or left ones too
  --reason TEXT  kept in the list (at most 200 characters)
  --list         print the revocation list
  --json         print the list as JSON
`;

interface ListAnswer {
  version: number;
  entries: RevokedNode[];
  revoked?: string;
}

export async function revoke(args: string[]): Promise<number> {
  const { values, positionals } = parse("revoke", args, {
    reason: { type: "string" },
    list: { type: "boolean" },
    json: { type: "boolean" },
  }, 1);
  if (values.help) return (console.log(REVOKE_HELP), 0);
  const client = await Client.connect(dataDir(values["data-dir"]).path);
  let answer: ListAnswer;
  if (values.list) {
    if (positionals.length > 0) throw new UsageError("revoke: --list takes no NODE");
    answer = await client.json<ListAnswer>("GET", "/v1/revocations");
  } else {
    if (positionals.length === 0) throw new UsageError("revoke: which node? herd revoke NODE");
    answer = await client.json<ListAnswer>("POST", "/v1/revocations", {
      node: positionals[0],
      ...(values.reason === undefined ? {} : { reason: values.reason }),
    });
  }
  if (values.json) return (console.log(JSON.stringify(answer, null, 2)), 0);
  if (answer.revoked) {
    console.log(`revoked ${answer.revoked} (revocation list version ${answer.version})`);
  } else if (answer.entries.length === 0) console.log("no node is revoked");
  else {
    console.log(table(
      ["NODE", "REVOKED", "REASON"],
      answer.entries.map((e) => [e.nodeId, new Date(e.at).toISOString(), e.reason ?? ""]),
    ));
  }
  return 0;
}
