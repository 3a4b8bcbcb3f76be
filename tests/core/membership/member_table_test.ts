import assert from "node:assert/strict";
import { type Member, MemberState } from "../../../core/membership/member.ts";
import {
  fingerDistances,
  MAX_MEMBERS,
  MemberTable,
} from "../../../core/membership/member_table.ts";
import { seededRng } from "../../../core/membership/rng.ts";

const member = (id: string, state: Member["state"] = MemberState.Alive, changedAt = 0): Member => ({
  id,
  address: `${id}:1`,
  incarnation: 1,
  state,
  meta: {},
  changedAt,
});

Deno.test("each member's probes cycle through its finger neighbours, never self or the failed", () => {
  const t = new MemberTable("self", seededRng(3));
  t.add(member("self"));
  for (let i = 0; i < 20; i++) t.add(member(`m${String(i).padStart(2, "0")}`));
  // ring (sorted): m00 … m19, self; self is at 20, M = 21
  t.setState(t.get("m03")!, MemberState.Dead, 5);
  t.setState(t.get("m04")!, MemberState.Suspect, 5);
  const cycle = fingerDistances(21);
  assert.deepEqual(cycle, [1, 20, 2, 19, 4, 17, 8, 13, 16, 5]);
  const seen = Array.from({ length: 2 * cycle.length }, (_, r) => t.nextProbeTarget(r)!.id);
  // self + d: 1 → m00, 20 → m19, 2 → m01, 19 → m18, 4 → m03 (failed: m04, suspect, is next
  // up), 17 → m16, 8 → m07, 13 → m12, 16 → m15, 5 → m04
  const first = ["m00", "m19", "m01", "m18", "m04", "m16", "m07", "m12", "m15", "m04"];
  assert.deepEqual(seen, [...first, ...first]);
  assert.deepEqual(
    t.neighbours().map((m) => m.id).sort(),
    ["m00", "m01", "m04", "m07", "m12", "m15", "m16", "m18", "m19"],
  );
  assert.equal(t.live, 20);
  assert.equal(t.count(MemberState.Dead), 1);
});

Deno.test("finger distances: each power of two below M and its mirror, once; ~2·log2 M of them", () => {
  assert.deepEqual(fingerDistances(2), [1]);
  assert.deepEqual(fingerDistances(3), [1, 2]);
  assert.deepEqual(fingerDistances(4), [1, 3, 2]);
  for (const m of [5, 10, 50, 100, 1000, 10_000]) {
    const d = fingerDistances(m);
    assert.equal(new Set(d).size, d.length);
    assert.ok(d.every((x) => x >= 1 && x < m));
    for (const x of d) assert.ok(d.includes(m - x), `${m}: ${x} without its mirror`);
    assert.ok(d.length <= 2 * Math.ceil(Math.log2(m)), `${m}: ${d.length}`);
  }
  assert.equal(fingerDistances(100).length, 14);
});

Deno.test("neighbours: the probe targets of a cycle, refreshed when the ring or liveness changes", () => {
  const ids = Array.from({ length: 40 }, (_, i) => `n${String(i).padStart(2, "0")}`);
  const t = new MemberTable("n00", seededRng(8));
  for (const id of ids) t.add(member(id));
  const cycle = fingerDistances(40).length;
  const probed = new Set(Array.from({ length: cycle }, (_, r) => t.nextProbeTarget(r)!.id));
  assert.deepEqual(new Set(t.neighbours().map((m) => m.id)), probed);
  assert.ok(probed.size <= 12, String([...probed]));
  t.setState(t.get("n01")!, MemberState.Dead, 1);
  assert.ok(!t.neighbours().some((m) => m.id === "n01"));
  assert.ok(t.neighbours().some((m) => m.id === "n02"), "the next one up takes its place");
  t.remove("n02");
  assert.ok(t.neighbours().some((m) => m.id === "n03"));
});

Deno.test("near members: neighbours first, then random others up to k", () => {
  const ids = Array.from({ length: 64 }, (_, i) => `n${String(i).padStart(2, "0")}`);
  const t = new MemberTable("n00", seededRng(9));
  for (const id of ids) t.add(member(id));
  const near = new Set(t.neighbours().map((m) => m.id));
  const alive = (m: Member) => m.id !== "n00" && m.state === MemberState.Alive;
  const three = t.nearMembers(3, alive);
  assert.equal(three.length, 3);
  assert.ok(three.every((m) => near.has(m.id)));
  const many = t.nearMembers(near.size + 5, alive);
  assert.equal(new Set(many).size, near.size + 5);
  assert.ok([...near].every((id) => many.some((m) => m.id === id)));
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
