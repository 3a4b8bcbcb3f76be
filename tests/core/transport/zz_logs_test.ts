import { fixtures, identityOf, ping, start, waitFor, extraNode, SETTINGS } from "/work/main/tests/core/transport/_helpers.ts";
Deno.test("logs", async () => {
  const f = await fixtures();
  const a = await start(await identityOf(f.a), { settings: { ...SETTINGS, maxConnections: 1 } });
  const b = await start(await identityOf(f.b));
  const c = await start(await identityOf(await extraNode()));
  const aRef = { id: f.a.id, address: a.address };
  a.t.send(b.address, ping(1, aRef, f.b.id));
  await waitFor(() => b.got.length === 1, "b");
  a.t.send(b.address, { ...ping(2, aRef, f.b.id), reliable: true });
  await waitFor(() => b.got.length === 2, "b");
  a.t.send(c.address, ping(2, aRef, "0000000000000000"));
  await waitFor(() => b.t.stats.connectionsOpen === 0, "b closed");
  await new Promise((r) => setTimeout(r, 100));
  await a.t.close(); await c.t.close();
  await b.t.close();
  console.log("A", a.logs, "B", b.logs, "C", c.logs);
});
