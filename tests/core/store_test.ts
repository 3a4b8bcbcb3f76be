import assert from "node:assert/strict";
import { keys, openStore, SCHEMA_VERSION } from "../../core/store.ts";
import { StoreError } from "../../core/errors.ts";

async function tempKv(): Promise<string> {
  const dir = await Deno.makeTempDir();
  return `${dir}/herd.kv`;
}

Deno.test("a new store gets the schema version; reopening keeps data", async () => {
  const path = await tempKv();
  const kv = await openStore(path);
  await kv.set(["jobs", "x"], { keep: true });
  kv.close();
  const again = await openStore(path);
  assert.equal((await again.get(keys.schema())).value, SCHEMA_VERSION);
  assert.deepEqual((await again.get(["jobs", "x"])).value, { keep: true });
  again.close();
});

Deno.test("a corrupt file is refused and left exactly as it was", async () => {
  const path = await tempKv();
  const garbage = new TextEncoder().encode("this is not a database\n".repeat(50));
  await Deno.writeFile(path, garbage);
  await assert.rejects(
    () => openStore(path),
    (e: Error) => e instanceof StoreError && /corrupt or not a herd store/.test(e.hint ?? ""),
  );
  assert.deepEqual(await Deno.readFile(path), garbage);
});

Deno.test("a store from a newer herd is refused and not changed", async () => {
  const path = await tempKv();
  const kv = await Deno.openKv(path);
  await kv.set(keys.schema(), SCHEMA_VERSION + 1);
  await kv.set(["jobs", "j1"], { precious: 1 });
  kv.close();
  await assert.rejects(
    () => openStore(path),
    (e: Error) => e instanceof StoreError && /newer herd/.test(e.message),
  );
  const check = await Deno.openKv(path);
  assert.equal((await check.get(keys.schema())).value, SCHEMA_VERSION + 1);
  assert.deepEqual((await check.get(["jobs", "j1"])).value, { precious: 1 });
  check.close();
});

Deno.test("a KV store that is not herd's is refused", async () => {
  const path = await tempKv();
  const kv = await Deno.openKv(path);
  await kv.set(["someone", "else"], 1);
  kv.close();
  await assert.rejects(() => openStore(path), /no herd schema version/);
});
