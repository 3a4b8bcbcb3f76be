import assert from "node:assert/strict";
import { type Member, MemberState } from "../../../core/membership/member.ts";
import { MAX_MEMBERS, MemberTable } from "../../../core/membership/member_table.ts";
import { seededRng } from "../../../core/membership/rng.ts";

const member = (id: string, state: Member["state"] = MemberState.Alive, changedAt = 0): Member => ({
  id,
  address: `${id}:1`,
  incarnation: 1,
  state,
  meta: {},
  changedAt,
});

Deno.test("each member's probes visit every live member once in M − 1 rounds, never self or the failed", () => {
  const t = new MemberTable("self", seededRng(3));
  t.add(member("self"));
  for (let i = 0; i < 20; i++) t.add(member(`m${i}`));
  t.setState(t.get("m3")!, MemberState.Dead, 5);
  t.setState(t.get("m4")!, MemberState.Suspect, 5);
  const seen = Array.from({ length: 20 }, (_, r) => t.nextProbeTarget(r)!.id);
  assert.equal(new Set(seen).size, 19, String(seen));
  assert.ok(!seen.includes("self") && !seen.includes("m3") && seen.includes("m4"));
  assert.equal(t.live, 20);
  assert.equal(t.count(MemberState.Dead), 1);
});

Deno.test("in one round the members' probes are a permutation: each member probed once", () => {
  const ids = Array.from({ length: 12 }, (_, i) => `n${String(i).padStart(2, "0")}`);
  const tables = ids.map((self) => {
    const t = new MemberTable(self, seededRng(7));
    for (const id of ids) t.add(member(id));
    return t;
  });
  for (const round of [0, 1, 5, 10, 11, 1_000_003]) {
    const targets = tables.map((t) => t.nextProbeTarget(round)!.id);
    assert.equal(new Set(targets).size, ids.length, `round ${round}: ${targets}`);
    assert.ok(targets.every((id, i) => id !== ids[i]));
  }
});

Deno.test("random members: distinct, accepted, at most k", () => {
  const t = new MemberTable("self", seededRng(4));
  for (let i = 0; i < 50; i++) t.add(member(`m${i}`, i % 2 ? MemberState.Dead : MemberState.Alive));
  const picked = t.randomMembers(3, (m) => m.state === MemberState.Alive);
  assert.equal(picked.length, 3);
  assert.equal(new Set(picked).size, 3);
  assert.ok(picked.every((m) => m.state === MemberState.Alive));
  assert.equal(new MemberTable("self", seededRng(4)).randomMembers(3, () => true).length, 0);
});

Deno.test("reap forgets only failed or left members whose time is up", () => {
  const t = new MemberTable("self", seededRng(5));
  t.add(member("a", MemberState.Dead, 0));
  t.add(member("b", MemberState.Left, 100));
  t.add(member("c", MemberState.Alive, 0));
  assert.deepEqual(t.reap((m) => m.changedAt < 50), ["a"]);
  assert.equal(t.size, 2);
  assert.equal(t.nextProbeTarget(0)?.id, "c");
});

Deno.test("the table is bounded: a newcomer evicts the longest-failed member, or is refused", () => {
  const t = new MemberTable("self", seededRng(6));
  for (let i = 0; i < MAX_MEMBERS; i++) {
    t.add(member(`m${i}`, i < 2 ? MemberState.Dead : MemberState.Alive, i));
  }
  assert.equal(t.add(member("x")), true);
  assert.equal(t.get("m0"), undefined);
  assert.equal(t.add(member("y")), true);
  assert.equal(t.add(member("z")), false, "every slot holds a live member");
  assert.equal(t.size, MAX_MEMBERS);
});
