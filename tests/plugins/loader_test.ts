import assert from "node:assert/strict";
import { checkPlugin, importPlugin, PluginError, PluginSet } from "../../plugins/loader.ts";
import { BUILTIN_PLUGINS } from "../../plugins/registry.ts";

const fixture = (name: string) => new URL(`../fixtures/plugins/${name}`, import.meta.url).href;

Deno.test("a plugin written against the SDK alone loads and runs", async () => {
  const p = await importPlugin(fixture("shout_executor.ts"));
  assert.equal(p.kind, "executor");
  const set = new PluginSet();
  set.add(p, "shout_executor.ts");
  const shout = set.get("executor", "shout")!;
  assert.equal(shout.validate({}), "task.text must be a string");
  const out: string[] = [];
  const res = await shout.run({
    jobId: "j",
    attempt: 1,
    task: { text: "hi" },
    env: {},
    timeoutMs: 0,
    killGraceMs: 0,
    signal: new AbortController().signal,
    stdout: (b) => void out.push(new TextDecoder().decode(b)),
    stderr: () => {},
  });
  assert.deepEqual(res, { status: "exited", exitCode: 0 });
  assert.deepEqual(out, ["HI\n"]);
  assert.deepEqual(set.names("executor"), ["deno", "exec", "shout"]);
});

Deno.test("a module that breaks the contract is refused with what is wrong", async () => {
  await assert.rejects(
    () => importPlugin(fixture("bad_plugin.ts")),
    (e: Error) => e instanceof PluginError && /must have run\(\)/.test(e.message),
  );
  await assert.rejects(() => importPlugin(fixture("missing.ts")), /cannot be imported/);
  assert.throws(() => checkPlugin({ kind: "teleporter", name: "x", sdk: 1 }, "t"), /unknown kind/);
  assert.throws(
    () => checkPlugin({ kind: "executor", name: "x", sdk: 99, run() {}, validate() {} }, "t"),
    /SDK 99/,
  );
  assert.throws(() => new PluginSet([...BUILTIN_PLUGINS, BUILTIN_PLUGINS[0]]), /already loaded/);
});

Deno.test("built-in plugins import nothing but the SDK (and their own files)", () => {
  const dirs = [
    "plugins/executors",
    "plugins/discovery",
    "schedulers",
    "discovery",
    "plugins/topologies",
  ];
  const root = new URL("../../", import.meta.url);
  let checked = 0;
  for (const dir of dirs) {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(new URL(dir, root))];
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    for (const e of entries.filter((e) => e.name.endsWith(".ts"))) {
      const src = Deno.readTextFileSync(new URL(`${dir}/${e.name}`, root));
      for (const m of src.matchAll(/^\s*(?:import|export)[^;]*?from\s+"([^"]+)"/gm)) {
        const spec = m[1];
        const ok = spec.endsWith("/sdk.ts") || (spec.startsWith("./") && !spec.includes("..")) ||
          spec.startsWith("node:");
        assert.ok(ok, `${dir}/${e.name} imports ${spec}: a plugin may import only the SDK`);
        checked++;
      }
    }
  }
  assert.ok(checked > 0);
  for (const p of BUILTIN_PLUGINS) checkPlugin(p, p.name);
});
