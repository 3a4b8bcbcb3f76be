import assert from "node:assert/strict";
import {
  announcement,
  answerQuery,
  hostName,
  instanceName,
  mdnsInterfaces,
  type MdnsPacket,
  parseResponse,
  SERVICE,
  SERVICES_META,
} from "../../../plugins/discovery/mdns.ts";
import { CLUSTER, ID_A, ID_B } from "./_ctx.ts";

const self = { id: ID_A, port: 7946, cluster: CLUSTER };
const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("mdns: the advertisement is PTR, SRV, TXT and A records of herd-<id>", () => {
  const { answers } = announcement(self, ["10.0.0.5"]);
  assert.deepEqual(answers, [
    { name: SERVICE, type: "PTR", class: "IN", ttl: 120, data: `herd-${ID_A}._herd._udp.local` },
    {
      name: `herd-${ID_A}._herd._udp.local`,
      type: "SRV",
      class: "IN",
      ttl: 120,
      flush: true,
      data: { priority: 0, weight: 0, port: 7946, target: `herd-${ID_A}.local` },
    },
    {
      name: `herd-${ID_A}._herd._udp.local`,
      type: "TXT",
      class: "IN",
      ttl: 120,
      flush: true,
      data: ["v=1", `id=${ID_A}`, `cluster=${CLUSTER.slice(0, 16)}`],
    },
    { name: `herd-${ID_A}.local`, type: "A", class: "IN", ttl: 120, flush: true, data: "10.0.0.5" },
  ]);
  // Goodbye: the same records with TTL 0. Before joining: no cluster in the TXT.
  assert.ok(announcement(self, ["10.0.0.5"], 0).answers.every((r) => r.ttl === 0));
  assert.deepEqual(announcement({ ...self, cluster: "" }, []).answers[2].data, [
    "v=1",
    `id=${ID_A}`,
  ]);
});

Deno.test("mdns: queries for the service, the instance, the host and the service list are answered", () => {
  const addrs = ["10.0.0.5"];
  const q = (name: string, type: string, known: MdnsPacket["answers"] = []): MdnsPacket => ({
    type: "query",
    questions: [{ name, type }],
    answers: known,
  });
  const browse = answerQuery(q("_HERD._udp.local", "PTR"), self, addrs)!;
  assert.deepEqual(browse.answers.map((r) => r.type), ["PTR"]);
  assert.deepEqual(browse.additionals.map((r) => r.type), ["SRV", "TXT", "A"]);
  assert.deepEqual(
    answerQuery(q(instanceName(ID_A), "SRV"), self, addrs)!.answers.map((r) => r.type),
    ["SRV"],
  );
  assert.deepEqual(
    answerQuery(q(instanceName(ID_A), "ANY"), self, addrs)!.answers.map((r) => r.type),
    ["SRV", "TXT"],
  );
  assert.deepEqual(
    answerQuery(q(hostName(ID_A), "A"), self, addrs)!.answers.map((r) => r.data),
    ["10.0.0.5"],
  );
  assert.deepEqual(answerQuery(q(SERVICES_META, "PTR"), self, addrs)!.answers[0].data, SERVICE);
  // Not ours: no answer.
  assert.equal(answerQuery(q(instanceName(ID_B), "SRV"), self, addrs), undefined);
  assert.equal(answerQuery(q("_http._tcp.local", "PTR"), self, addrs), undefined);
  assert.equal(answerQuery(q(SERVICE, "AAAA"), self, addrs), undefined);
  assert.equal(answerQuery({ type: "query" }, self, addrs), undefined);
  // Known-answer suppression: the asker already has our PTR with most of its TTL left.
  const ptr = { name: SERVICE, type: "PTR", ttl: 100, data: instanceName(ID_A) };
  assert.equal(answerQuery(q(SERVICE, "PTR", [ptr]), self, addrs), undefined);
  assert.ok(answerQuery(q(SERVICE, "PTR", [{ ...ptr, ttl: 30 }]), self, addrs));
});

Deno.test("mdns: answers become candidates (SRV port, A address or the source), own and bad ones dropped", () => {
  // As dns-packet decodes it: TXT strings are byte arrays.
  const wire = (p: MdnsPacket): MdnsPacket => ({
    ...p,
    answers: p.answers?.map((r) =>
      r.type === "TXT" ? { ...r, data: (r.data as string[]).map(bytes) } : r
    ),
  });
  const b = { id: ID_B, port: 7000, cluster: CLUSTER };
  const fromB = wire(announcement(b, ["10.0.0.6"]));
  assert.deepEqual(parseResponse(fromB, "10.0.0.99", ID_A), [{
    address: "10.0.0.6",
    port: 7000,
    via: "mdns",
    nodeId: ID_B,
    cluster: CLUSTER.slice(0, 16),
  }]);
  // Several A records: the one the packet came from wins; none: the packet's source.
  assert.equal(
    parseResponse(wire(announcement(b, ["10.0.0.6", "10.0.0.7"])), "10.0.0.7", ID_A)[0].address,
    "10.0.0.7",
  );
  assert.equal(parseResponse(wire(announcement(b, [])), "10.0.0.99", ID_A)[0].address, "10.0.0.99");
  // Our own answer, and goodbyes (TTL 0), are not candidates.
  assert.deepEqual(parseResponse(wire(announcement(self, ["10.0.0.5"])), "10.0.0.5", ID_A), []);
  assert.deepEqual(parseResponse(wire(announcement(b, ["10.0.0.6"], 0)), "10.0.0.6", ID_A), []);
  // Another TXT version is ignored; a SRV alone (no TXT) takes the id from the instance name.
  const v2 = wire(announcement(b, ["10.0.0.6"]));
  (v2.answers![2].data as Uint8Array[])[0] = bytes("v=2");
  assert.deepEqual(parseResponse(v2, "10.0.0.6", ID_A), []);
  const srvOnly = {
    answers: announcement(b, ["10.0.0.6"]).answers.filter((r) => r.type !== "TXT"),
  };
  assert.equal(parseResponse(srvOnly, "10.0.0.6", ID_A)[0].nodeId, ID_B);
  // Malformed: reported, not thrown.
  const why: string[] = [];
  const bad: MdnsPacket = {
    answers: [
      { name: `x._herd._udp.local`, type: "SRV", ttl: 120, data: { port: 1, target: "x.local" } },
      { name: instanceName(ID_B), type: "SRV", ttl: 120, data: { port: 0, target: "h.local" } },
      { name: instanceName(ID_B), type: "SRV", ttl: 120, data: "garbage" },
      { name: `herd-${ID_B}._http._tcp.local`, type: "SRV", ttl: 120, data: {} },
      null as never,
    ],
  };
  assert.deepEqual(parseResponse(bad, "10.0.0.6", ID_A, (w) => why.push(w)), []);
  assert.equal(why.length, 3);
  assert.match(why.join("\n"), /no valid node id/);
  assert.match(why.join("\n"), /bad port 0/);
  assert.match(why.join("\n"), /SRV without a target/);
  assert.deepEqual(parseResponse({}, "10.0.0.6", ID_A), []);
});

Deno.test("mdns: runs on IPv4 interfaces, loopback only when it is all there is", () => {
  const lo = { name: "lo", family: "IPv4", address: "127.0.0.1" };
  const eth = { name: "eth0", family: "IPv4", address: "192.168.1.5" };
  const v6 = { name: "eth0", family: "IPv6", address: "fe80::1" };
  assert.deepEqual(mdnsInterfaces([lo, eth, v6]), [{ ...eth, family: "IPv4" }]);
  assert.deepEqual(mdnsInterfaces([lo, v6]), [{ ...lo, family: "IPv4" }]);
  assert.deepEqual(mdnsInterfaces([]), []);
});

// Two plugin instances over real multicast need a network where it is allowed: a fresh
// network namespace whose loopback has multicast on (never the host's). That needs root
// and unshare(1); without them this test says so and is skipped.
const canUnshare = (() => {
  try {
    if (Deno.uid() !== 0) return false;
    const ok = (cmd: string, flag: string) =>
      new Deno.Command(cmd, { args: [flag], stdout: "null", stderr: "null" }).outputSync()
        .success;
    return ok("unshare", "--version") && ok("ip", "-V");
  } catch {
    return false;
  }
})();
if (!canUnshare) {
  console.error(
    "mdns_test: SKIPPING the multicast test between two instances: needs root, unshare and ip",
  );
}

Deno.test({
  name: "mdns: two instances find each other over multicast in a private network namespace",
  ignore: !canUnshare,
  async fn() {
    const root = new URL("../../../", import.meta.url).pathname;
    const inner = new URL("./_mdns_lo.ts", import.meta.url).pathname;
    const script = [
      "ip link set lo up",
      "ip link set lo multicast on",
      "ip route add 224.0.0.0/4 dev lo",
      `exec "$0" test -A --unstable-net --no-check "${inner}"`,
    ].join(" && ");
    const child = new Deno.Command("unshare", {
      args: ["--net", "sh", "-c", script, Deno.execPath()],
      cwd: root,
      env: { NO_COLOR: "1", HERD_MDNS_NETNS: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const killer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    const out = await child.output();
    clearTimeout(killer);
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    assert.match(text, /ok \| 1 passed/);
  },
});
