import assert from "node:assert/strict";
import { VERSION } from "../../../core/version.ts";
import { TransportError } from "../../../core/transport/errors.ts";
import { fetchInfo, INFO_REQUEST, parseInfo } from "../../../core/transport/info.ts";
import { fixtures, identityOf, SETTINGS, start, waitFor } from "./_helpers.ts";
import { PROTOCOL_VERSION } from "../../../core/membership/messages.ts";

Deno.test("info: a node tells its id, cluster, CA and port on TCP, same port number", async () => {
  const f = await fixtures();
  const b = await start(await identityOf(f.b));
  try {
    const info = await fetchInfo("127.0.0.1", b.t.port, 5_000);
    assert.deepEqual(info, {
      id: f.b.id,
      cluster: f.ca.fingerprint,
      caPem: f.ca.pem,
      version: VERSION,
      port: b.t.port,
    });
    assert.equal(b.t.stats.infoServed, 1);
  } finally {
    await b.t.close();
  }
});

/** Sends `request` raw and returns whatever comes back before the server closes. */
async function rawRequest(port: number, request: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(request);
    const chunks: number[] = [];
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf).catch((e) => {
        if (e instanceof Deno.errors.ConnectionReset) return null;
        throw e;
      });
      if (n === null) break;
      chunks.push(...buf.subarray(0, n));
    }
    return new TextDecoder().decode(new Uint8Array(chunks));
  } finally {
    conn.close();
  }
}

Deno.test("info: anything but the request line is closed unanswered", async () => {
  const f = await fixtures();
  const b = await start(await identityOf(f.b));
  try {
    assert.equal(
      await rawRequest(b.t.port, new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")),
      "",
    );
    assert.equal(await rawRequest(b.t.port, new TextEncoder().encode("herd-info/2\n")), "");
    const good = await rawRequest(b.t.port, new TextEncoder().encode(INFO_REQUEST));
    assert.equal(JSON.parse(good).id, f.b.id);
    assert.equal(b.t.stats.infoServed, 1);
  } finally {
    await b.t.close();
  }
});

Deno.test("info: a client that sends nothing is closed after dialTimeout", async () => {
  const f = await fixtures();
  const b = await start(await identityOf(f.b), { settings: { ...SETTINGS, dialTimeoutMs: 300 } });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: b.t.port });
    const got = await conn.read(new Uint8Array(16)).catch((e) => {
      if (e instanceof Deno.errors.ConnectionReset) return null;
      throw e;
    });
    assert.equal(got, null); // closed by the server, nothing said
    conn.close();
    assert.equal(b.t.stats.infoServed, 0);
  } finally {
    await b.t.close();
  }
});

Deno.test("info: nothing listening, a silent server, or a bad answer is a TransportError", async () => {
  const f = await fixtures();
  // nothing listening
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  await assert.rejects(() => fetchInfo("127.0.0.1", port, 2_000), (e: unknown) => {
    assert.ok(e instanceof TransportError && e.hint);
    return true;
  });
  // a server that accepts and says nothing: the client's deadline
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of silent) held.push(c);
  })();
  try {
    await assert.rejects(
      () => fetchInfo("127.0.0.1", (silent.addr as Deno.NetAddr).port, 200),
      /no answer within 200 ms/,
    );
  } finally {
    silent.close();
    await accepting;
    for (const c of held) c.close();
  }
  // answers that are not node info
  const info = { id: f.b.id, cluster: f.ca.fingerprint, caPem: f.ca.pem, version: "1", port: 7946 };
  assert.equal(parseInfo(JSON.stringify(info) + "\n", "x").id, f.b.id);
  const bad = [
    "",
    "not json\n",
    JSON.stringify({ ...info, extra: 1 }),
    JSON.stringify({ ...info, id: "NOT-AN-ID" }),
    JSON.stringify({ ...info, port: 0 }),
    JSON.stringify({ ...info, cluster: f.otherCa.fingerprint }), // the CA does not hash to it
    JSON.stringify(info) + "\n" + JSON.stringify(info),
  ];
  for (const text of bad) assert.throws(() => parseInfo(text, "x"), TransportError, text);
});

Deno.test("info: the transport counts a dial's info request and caches the answer", async () => {
  const f = await fixtures();
  const a = await start(await identityOf(f.a));
  const b = await start(await identityOf(f.b));
  try {
    const from = { id: f.a.id, address: a.address };
    const ping = (seq: number) => ({
      type: 0 as const,
      v: PROTOCOL_VERSION as typeof PROTOCOL_VERSION,
      seq,
      target: f.b.id,
      from,
    });
    a.t.send(b.address, ping(1));
    await waitFor(() => b.got.length === 1, "the first ping");
    a.t.send(b.address, ping(2));
    await waitFor(() => b.got.length === 2, "the second ping");
    assert.equal(a.t.stats.infoFetches, 1);
    assert.equal(b.t.stats.infoServed, 1);
  } finally {
    await a.t.close();
    await b.t.close();
  }
});
