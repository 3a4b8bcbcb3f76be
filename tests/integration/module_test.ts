// Sandboxed function jobs: a module's default export in a permission-scoped worker.
import assert from "node:assert/strict";
import { Agent, expectCode } from "./_harness.ts";

const agent = await Agent.start();
const dir = await Deno.makeTempDir();
const secret = `${dir}/secret.txt`;
await Deno.writeTextFile(secret, "s3cret");
await Deno.writeTextFile(
  `${dir}/double.ts`,
  `export default (p: { n: number }) => { console.log("working on", p.n); return { doubled: p.n * 2 }; };`,
);
await Deno.writeTextFile(
  `${dir}/reader.ts`,
  `export default async (p: { path: string }) => (await Deno.readTextFile(p.path)).length;`,
);
await Deno.writeTextFile(
  `${dir}/thrower.ts`,
  `export default () => { throw new RangeError("bad n"); };`,
);

Deno.test("a module's default export gets the payload; its JSON result is printed", async () => {
  const r = await agent.herd(["run", "--module", `${dir}/double.ts`, "--payload", '{"n":10}']);
  expectCode(r, 0);
  assert.equal(r.stdout, 'working on 10\n{"doubled":20}\n');
});

Deno.test("reading a file that was not granted fails with a permission error", async () => {
  const r = await agent.herd([
    "run",
    "--module",
    `${dir}/reader.ts`,
    "--payload",
    JSON.stringify({ path: secret }),
  ]);
  expectCode(r, 1);
  assert.match(
    r.stderr,
    /permission denied: Requires read access to ".*secret\.txt"; grant it with herd run --allow-read/,
  );
  const granted = await agent.herd([
    "run",
    "--module",
    `${dir}/reader.ts`,
    `--allow-read=${dir}`,
    "--payload",
    JSON.stringify({ path: secret }),
  ]);
  expectCode(granted, 0);
  assert.equal(granted.stdout, "6\n");
});

Deno.test("network and subprocesses are denied unless granted", async () => {
  await Deno.writeTextFile(
    `${dir}/net.ts`,
    `export default async () => { await fetch("http://127.0.0.1:18080/"); };`,
  );
  await Deno.writeTextFile(
    `${dir}/spawn.ts`,
    `export default async () => { await new Deno.Command("true").output(); };`,
  );
  const net = await agent.herd(["run", "--module", `${dir}/net.ts`]);
  expectCode(net, 1);
  assert.match(net.stderr, /permission denied: Requires net access/);
  const spawn = await agent.herd(["run", "--module", `${dir}/spawn.ts`]);
  expectCode(spawn, 1);
  assert.match(spawn.stderr, /permission denied: Requires run access/);
});

Deno.test("an exception in the function fails the job with its message", async () => {
  const r = await agent.herd(["run", "--module", `${dir}/thrower.ts`]);
  expectCode(r, 1);
  assert.match(r.stderr, /RangeError: bad n/);
});

Deno.test("a function past its timeout is stopped", async () => {
  await Deno.writeTextFile(`${dir}/forever.ts`, `export default () => new Promise(() => {});`);
  const r = await agent.herd(["run", "--timeout", "500ms", "--module", `${dir}/forever.ts`]);
  expectCode(r, 124);
});

Deno.test("stop the module agent", async () => {
  assert.equal((await agent.stop()).code, 0);
});
