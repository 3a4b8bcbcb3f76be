// Bad input gets a clear one-line error and a non-zero exit, and loses nothing.
import assert from "node:assert/strict";
import { Agent, expectCode, herd } from "./_harness.ts";

const noNode = await Deno.makeTempDir();

Deno.test("usage errors exit 2 with one clear line", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["ps", "--bogus"], /ps: unknown flag --bogus/],
    [["run", "--mem", "12XB", "--", "true"], /--mem must be a size such as 512M.*got '12XB'/],
    [["run", "--cpu=-1", "--", "true"], /--cpu must be a number >= 0: got '-1'/],
    [["run", "--cpu", "-1", "--", "true"], /flag --cpu needs a value \(write --cpu=-1/],
    [["run", "--cpu", "99999", "--", "true"], /--cpu must be at most 4096/],
    [["run", "--gpu", "1.5", "--", "true"], /--gpu must be a whole number/],
    [["run", "--timeout", "soon", "--", "true"], /--timeout must be a duration/],
    [["run", "--"], /no command after --/],
    [["run"], /nothing to run/],
    [["run", "echo", "hi"], /put the command after --/],
    [["run", "--env", "NOEQUALS", "--", "true"], /--env takes NAME=VALUE/],
    [["run", "--module", "/no/such/file.ts"], /cannot read \/no\/such\/file\.ts/],
    [["run", "--module", "/etc/hostname", "--payload", "{nope"], /--payload must be JSON/],
    [["run", "--payload", "1", "--", "true"], /--payload goes with --module/],
    [["up", "--profile", "moon"], /profile given by --profile must be one of lan, wan, local/],
    [["up", "--api-port", "99999"], /'api\.port' given by --api-port must be <= 65535/],
    [["up", "--set", "jobs.nope=1"], /unknown setting 'jobs\.nope'/],
    [["logs"], /which job\?/],
  ];
  for (const [args, re] of cases) {
    const r = await herd(noNode, args);
    expectCode(r, 2, args.join(" "));
    assert.match(r.stderr, re, args.join(" "));
    assert.ok(r.stderr.trim().split("\n").length <= 2, `short: ${r.stderr}`);
  }
});

Deno.test("commands other than up say no node runs, and how to start one", async () => {
  for (const cmd of [["status"], ["ps"], ["logs", "abc"], ["kill", "abc"]]) {
    const r = await herd(noNode, cmd);
    expectCode(r, 3, cmd.join(" "));
    assert.match(r.stderr, /no herd node is running on .*\n\s+start one with `herd up`/);
  }
  const run = await herd(noNode, ["run", "--", "true"]);
  expectCode(run, 125, "run with no node");
});

Deno.test("a malformed herd.toml stops herd up (and herd config) with the file named", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/herd.toml`, "[jobs\ndefaultCpu = ");
  const up = await herd(dir, ["up", "--api-port", "0"]);
  expectCode(up, 2, "up");
  assert.match(up.stderr, /herd\.toml is not valid TOML/);
  await Deno.writeTextFile(`${dir}/herd.toml`, '[jobs]\ndefaultCpu = "lots"\n');
  const cfg = await herd(dir, ["config"]);
  expectCode(cfg, 2, "config");
  assert.match(cfg.stderr, /'jobs\.defaultCpu' in .*herd\.toml must be a number: got "lots"/);
  const missing = await herd(dir, ["config", "--config", `${dir}/nope.toml`]);
  expectCode(missing, 2);
  assert.match(missing.stderr, /nope\.toml does not exist/);
});

Deno.test("herd config shows each value and where it came from", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/herd.toml`, 'profile = "wan"\n[jobs]\ndefaultMem = "256M"\n');
  const r = await herd(dir, ["config", "--set", "jobs.killGrace=3s"], {
    env: { HERD_JOBS_DEFAULT_CPU: "0.5" },
  });
  expectCode(r, 0);
  assert.match(r.stdout, /profile = wan\s+\(.*herd\.toml\)/);
  assert.match(r.stdout, /jobs\.defaultMem\s+256MiB\s+bytes\s+.*herd\.toml/);
  assert.match(r.stdout, /jobs\.defaultCpu\s+0\.5\s+CPUs\s+env HERD_JOBS_DEFAULT_CPU/);
  assert.match(r.stdout, /jobs\.killGrace\s+3s\s+ms\s+flag --set/);
  assert.match(r.stdout, /agent\.loadInterval\s+15s\s+ms\s+profile wan/);
  assert.match(r.stdout, /api\.port\s+7948\s+TCP port\s+default/);
});

async function fileBytes(path: string) {
  return await Deno.readFile(path);
}

Deno.test("a corrupt KV file: herd up refuses and the file is untouched", async () => {
  const dir = await Deno.makeTempDir();
  const garbage = new TextEncoder().encode("garbage, not sqlite\n".repeat(100));
  await Deno.writeFile(`${dir}/herd.kv`, garbage);
  const r = await herd(dir, ["up", "--api-port", "0"]);
  expectCode(r, 1);
  assert.match(r.stderr, /cannot open the store .*herd\.kv/);
  assert.match(r.stderr, /nothing was changed/);
  assert.deepEqual(await fileBytes(`${dir}/herd.kv`), garbage);
});

Deno.test("a newer-schema KV: herd up refuses and keeps its jobs", async () => {
  const a = await Agent.start();
  const j = await a.herd(["run", "-d", "--", "echo", "precious"]);
  const id = j.stdout.trim();
  await new Promise((r) => setTimeout(r, 300));
  await a.stop();
  const kv = await Deno.openKv(`${a.dataDir}/herd.kv`);
  await kv.set(["meta", "schema"], 99);
  kv.close();
  const r = await herd(a.dataDir, ["up", "--api-port", "0"]);
  expectCode(r, 1);
  assert.match(r.stderr, /written by a newer herd \(store schema 99; this herd reads 1\)/);
  const check = await Deno.openKv(`${a.dataDir}/herd.kv`);
  assert.equal((await check.get(["meta", "schema"])).value, 99);
  assert.equal(((await check.get(["jobs", id])).value as { state: string }).state, "succeeded");
  check.close();
});

Deno.test("the API refuses requests without the token and bad job specs", async () => {
  const a = await Agent.start();
  try {
    const info = JSON.parse(await Deno.readTextFile(`${a.dataDir}/agent.json`));
    const anon = await fetch(`${info.apiUrl}/v1/status`);
    assert.equal(anon.status, 401);
    await anon.body?.cancel();
    const token = (await Deno.readTextFile(`${a.dataDir}/api.token`)).trim();
    const post = (body: string) =>
      fetch(`${info.apiUrl}/v1/jobs`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body,
      });
    const cases: Array<[string, number, RegExp]> = [
      ["{not json", 400, /not JSON/],
      [
        JSON.stringify({ executor: "exec", task: { command: [] } }),
        400,
        /a command to run is required/,
      ],
      [JSON.stringify({ executor: "warp", task: {} }), 400, /no executor named 'warp'/],
      [
        JSON.stringify({ executor: "exec", task: { command: ["true"] }, resources: { cpu: -1 } }),
        400,
        /resources\.cpu/,
      ],
      [JSON.stringify({ executor: "exec", task: { command: ["true"] }, extra: 1 }), 400, /extra/],
    ];
    for (const [body, status, re] of cases) {
      const res = await post(body);
      const json = await res.json();
      assert.equal(res.status, status, body);
      assert.match(json.error.message, re, body);
    }
    const status = await (await fetch(`${info.apiUrl}/v1/status`, {
      headers: { authorization: `Bearer ${token}` },
    })).json();
    assert.equal(status.allocated.cpu, 0, "refused specs reserve nothing");
  } finally {
    await a.stop();
  }
});
