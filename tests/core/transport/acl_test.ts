import assert from "node:assert/strict";
import { ConfigError } from "../../../core/errors.ts";
import { Acl, parseCidr, parseIp } from "../../../core/transport/acl.ts";

Deno.test("acl: addresses parse, IPv4-mapped IPv6 as IPv4", () => {
  assert.deepEqual(parseIp("10.1.2.3"), { family: 4, value: 0x0a010203n });
  assert.deepEqual(parseIp("::ffff:10.1.2.3"), { family: 4, value: 0x0a010203n });
  assert.deepEqual(parseIp("::ffff:a01:203"), { family: 4, value: 0x0a010203n });
  assert.deepEqual(parseIp("::1"), { family: 6, value: 1n });
  assert.deepEqual(parseIp("[fd00::1]"), { family: 6, value: (0xfd00n << 112n) | 1n });
  assert.deepEqual(parseIp("fe80::1%eth0"), { family: 6, value: (0xfe80n << 112n) | 1n });
  assert.deepEqual(parseIp("1:2:3:4:5:6:7:8")?.family, 6);
  for (
    const bad of [
      "",
      "10.1.2",
      "10.1.2.256",
      "01.1.2.3",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "g::1",
      "host",
    ]
  ) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

Deno.test("acl: CIDR blocks, and why a bad one is bad", () => {
  assert.deepEqual(parseCidr("10.0.0.0/8"), {
    family: 4,
    base: 0x0a000000n,
    prefix: 8,
    text: "10.0.0.0/8",
  });
  assert.equal((parseCidr("192.168.1.7") as { prefix: number }).prefix, 32);
  assert.equal((parseCidr("fd00::/8") as { prefix: number }).prefix, 8);
  // a mapped rule is an IPv4 rule
  assert.deepEqual(parseCidr("::ffff:10.0.0.0/104"), {
    family: 4,
    base: 0x0a000000n,
    prefix: 8,
    text: "::ffff:10.0.0.0/104",
  });
  assert.match(parseCidr("10.0.0.0/33") as string, /prefix length must be 0–32/);
  assert.match(parseCidr("10.0.0.1/8") as string, /host bits/);
  assert.match(parseCidr("nonsense/8") as string, /not an IPv4 or IPv6/);
  assert.match(parseCidr("10.0.0.0/8/9") as string, /more than one/);
  assert.match(parseCidr("::ffff:10.0.0.0/80") as string, /at least \/96/);
});

Deno.test("acl: deny wins over allow; an empty allow list allows all", () => {
  const open = Acl.parse([], []);
  assert.equal(open.check("203.0.113.9"), "allowed");
  const acl = Acl.parse(["10.0.0.0/8", "fd00::/8"], ["10.9.0.0/16", "::1"]);
  assert.equal(acl.check("10.1.2.3"), "allowed");
  assert.equal(acl.check("::ffff:10.1.2.3"), "allowed");
  assert.equal(acl.check("10.9.0.1"), "denied");
  assert.equal(acl.check("::ffff:10.9.0.1"), "denied");
  assert.equal(acl.check("fd12::7"), "allowed");
  assert.equal(acl.check("::1"), "denied");
  assert.equal(acl.check("192.168.1.1"), "not-allowed");
  assert.equal(acl.check("2001:db8::1"), "not-allowed");
  const denyOnly = Acl.parse([], ["0.0.0.0/0"]);
  assert.equal(denyOnly.check("1.2.3.4"), "denied");
  assert.equal(denyOnly.check("::1"), "allowed"); // an IPv4 rule says nothing of IPv6
});

Deno.test("acl: a bad entry is a ConfigError naming the setting and the value", () => {
  assert.throws(() => Acl.parse(["10.0.0.0/8", "10.0.0.1/8"], []), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(
      e.message,
      /'transport\.allow' has an invalid CIDR block "10\.0\.0\.1\/8": host bits/,
    );
    assert.ok(e.hint);
    return true;
  });
  assert.throws(() => Acl.parse([], ["fd00::/129"]), /'transport\.deny'.*"fd00::\/129"/);
});
