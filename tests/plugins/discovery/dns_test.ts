// plugins/discovery/_dns.ts against npm:dns-packet 5.6.1, which the mdns plugin used before:
// the hex below is what dns-packet encoded for the same packets, and what it decoded from a
// compressed response (built by hand the way avahi and mDNSResponder write them).

import assert from "node:assert/strict";
import { decodePacket, type DnsPacket, encodePacket } from "../../../plugins/discovery/_dns.ts";
import { announcement, SERVICE } from "../../../plugins/discovery/mdns.ts";

const ID = "abcdefghij012345";
const CLUSTER = "0123456789abcdef".repeat(4);
const self = { id: ID, port: 7946, cluster: CLUSTER };

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (h: string) => Uint8Array.from(h.match(/../g)!, (x) => parseInt(x, 16));
const bytes = (s: string) => new TextEncoder().encode(s);

/** dns-packet's encodings (uncompressed names, class IN, the flush bit in the class). */
const ENCODED = {
  query: [
    "000000000001000000000000055f68657264045f756470056c6f63616c00000c0001",
  ].join(""),
  announcement: [
    "000080000000000500000000055f68657264045f756470056c6f63616c00000c0001000000780028",
    "15686572642d6162636465666768696a303132333435055f68657264045f756470056c6f63616c00",
    "15686572642d6162636465666768696a303132333435055f68657264045f756470056c6f63616c00",
    "00218001000000780023000000001f0a15686572642d6162636465666768696a303132333435056c",
    "6f63616c0015686572642d6162636465666768696a303132333435055f68657264045f756470056c",
    "6f63616c000010800100000078003103763d311369643d6162636465666768696a30313233343518",
    "636c75737465723d3031323334353637383961626364656615686572642d6162636465666768696a",
    "303132333435056c6f63616c0000018001000000780004c0a8010515686572642d61626364656667",
    "68696a303132333435056c6f63616c00000180010000007800040a000007",
  ].join(""),
  goodbye: [
    "000080000000000300000000055f68657264045f756470056c6f63616c00000c0001000000000028",
    "15686572642d6162636465666768696a303132333435055f68657264045f756470056c6f63616c00",
    "15686572642d6162636465666768696a303132333435055f68657264045f756470056c6f63616c00",
    "00218001000000000023000000001f0a15686572642d6162636465666768696a303132333435056c",
    "6f63616c0015686572642d6162636465666768696a303132333435055f68657264045f756470056c",
    "6f63616c000010800100000000001803763d311369643d6162636465666768696a303132333435",
  ].join(""),
  withAdditionals: [
    "000080000000000100000003055f68657264045f756470056c6f63616c00000c0001000000780028",
    "15686572642d6162636465666768696a303132333435055f68657264045f756470056c6f63616c00",
    "15686572642d6162636465666768696a303132333435055f68657264045f756470056c6f63616c00",
    "00218001000000780023000000001f0a15686572642d6162636465666768696a303132333435056c",
    "6f63616c0015686572642d6162636465666768696a303132333435055f68657264045f756470056c",
    "6f63616c000010800100000078003103763d311369643d6162636465666768696a30313233343518",
    "636c75737465723d3031323334353637383961626364656615686572642d6162636465666768696a",
    "303132333435056c6f63616c0000018001000000780004c0a80105",
  ].join(""),
};

Deno.test("dns: packets encode as dns-packet encoded them", () => {
  const a = announcement(self, ["192.168.1.5", "10.0.0.7"]);
  const ptrOnly = announcement(self, ["192.168.1.5"]).answers;
  const cases: Array<[keyof typeof ENCODED, DnsPacket]> = [
    ["query", { type: "query", questions: [{ name: SERVICE, type: "PTR" }] }],
    ["announcement", { type: "response", ...a }],
    ["goodbye", { type: "response", ...announcement({ ...self, cluster: "" }, [], 0) }],
    ["withAdditionals", {
      type: "response",
      answers: [ptrOnly[0]],
      additionals: ptrOnly.slice(1),
    }],
  ];
  for (const [name, packet] of cases) assert.equal(hex(encodePacket(packet)), ENCODED[name], name);
});

Deno.test("dns: what it encodes decodes back to the same records", () => {
  const p = decodePacket(unhex(ENCODED.announcement));
  assert.equal(p.type, "response");
  assert.deepEqual(p.questions, []);
  const a = announcement(self, ["192.168.1.5", "10.0.0.7"]).answers;
  assert.deepEqual(
    p.answers,
    a.map((r) =>
      r.type === "TXT"
        ? { ...r, flush: true, data: (r.data as string[]).map(bytes) }
        : { ...r, flush: r.flush ?? false }
    ),
  );
  const q = decodePacket(unhex(ENCODED.query));
  assert.equal(q.type, "query");
  assert.deepEqual(q.questions, [{ name: SERVICE, type: "PTR", class: "IN" }]);
});

/** A response with compressed names, a QU question, an unknown type and an NSEC record. */
const COMPRESSED = [
  "123484000001000100010004055f68657264045f756470056c6f63616c00000c8001c00c000c0001",
  "00001194001815686572642d62636465666768696a30313233343536c00cc00c006300010000000a",
  "0003010203c02e0021800100000078001e000000001f0a15686572642d62636465666768696a3031",
  "3233343536c017c02e0010800100001194001903763d311369643d62636465666768696a30313233",
  "34353600c06700018001000000780004c0a80106c067002f8001000000780008c067000440000008",
].join("");

Deno.test("dns: a compressed response decodes as dns-packet decoded it", () => {
  const p = decodePacket(unhex(COMPRESSED));
  const host = "herd-bcdefghij0123456.local";
  const instance = "herd-bcdefghij0123456._herd._udp.local";
  assert.equal(p.type, "response");
  assert.equal(p.id, 0x1234);
  assert.equal(p.flags, 0x0400);
  assert.deepEqual(p.questions?.map((q) => [q.name, q.type]), [[SERVICE, "PTR"]]);
  assert.deepEqual(p.answers, [
    { name: SERVICE, type: "PTR", ttl: 4500, class: "IN", flush: false, data: instance },
  ]);
  // dns-packet called type 99 "SPF" and parsed NSEC; herd reads neither: raw bytes.
  assert.deepEqual(p.authorities?.map((r) => [r.name, r.data]), [[
    SERVICE,
    Uint8Array.of(1, 2, 3),
  ]]);
  const [srv, txt, a, nsec] = p.additionals!;
  assert.deepEqual(srv, {
    name: instance,
    type: "SRV",
    ttl: 120,
    class: "IN",
    flush: true,
    data: { priority: 0, weight: 0, port: 7946, target: host },
  });
  assert.deepEqual(txt, {
    name: instance,
    type: "TXT",
    ttl: 4500,
    class: "IN",
    flush: true,
    data: [bytes("v=1"), bytes("id=bcdefghij0123456"), new Uint8Array()],
  });
  assert.deepEqual(a, {
    name: host,
    type: "A",
    ttl: 120,
    class: "IN",
    flush: true,
    data: "192.168.1.6",
  });
  assert.deepEqual([nsec.name, nsec.type, nsec.flush], [host, "NSEC", true]);
});

Deno.test("dns: malformed packets throw, they are never half read", () => {
  const good = unhex(COMPRESSED);
  for (let n = 0; n < good.length; n += 7) {
    assert.throws(() => decodePacket(good.subarray(0, n)), Error, `truncated at ${n}`);
  }
  // A pointer to itself, and one forward.
  const loop = unhex("000084000000000100000000c00c000c00010000000a0000");
  assert.throws(() => decodePacket(loop), /bad pointer/);
  const forward = unhex("000084000000000100000000c020000c00010000000a0000");
  assert.throws(() => decodePacket(forward), /bad pointer/);
  assert.throws(() => decodePacket(unhex("0000")), /12 bytes/);
});
