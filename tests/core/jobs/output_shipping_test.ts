import assert from "node:assert/strict";
import { type GoneReason, Receiver } from "../../../core/jobs/output_shipping.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("receiver: in-order output flows; a missing message or a gone member is told apart", async () => {
  const sent: Array<[string, string, unknown]> = [];
  const r = new Receiver((to, op, body) => (sent.push([to, op, body]), true));
  const why: GoneReason[] = [];
  const a = r.open("n1", (w) => why.push(w));
  assert.equal(a.nodeId, "n1");
  const reader = a.stream.getReader();
  r.receive("n1", { sub: a.sub, seq: 0, d: bytes("one\n") });
  r.receive("n2", { sub: a.sub, seq: 1, d: bytes("spoofed\n") }); // not the node followed
  assert.equal(new TextDecoder().decode((await reader.read()).value), "one\n");
  r.receive("n1", { sub: a.sub, seq: 2, d: bytes("three\n") }); // seq 1 never came
  assert.deepEqual(why, ["gap"]);
  assert.deepEqual(sent.at(-1), ["n1", "unfollow", { sub: a.sub }]);

  a.close(); // as the session does before it follows again
  const b = r.open("n1", (w) => why.push(w));
  r.gone("n1");
  assert.deepEqual(why, ["gap", "gone"]);
  b.close();
});
