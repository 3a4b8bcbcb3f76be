import assert from "node:assert/strict";
import { envName, resolveConfig, SETTINGS, unknownEnv } from "../../core/config.ts";
import { ConfigError } from "../../core/errors.ts";

Deno.test("every setting has a unit, a doc and a default of its kind", () => {
  for (const [key, s] of Object.entries(SETTINGS)) {
    assert.ok(s.unit.length > 0, `${key} has no unit`);
    assert.ok(s.doc.length > 10, `${key} has no doc`);
    if (["int", "number", "bytes", "duration"].includes(s.kind)) {
      assert.equal(typeof s.default, "number", key);
    }
  }
});

Deno.test("defaults, then profile, file, env and flags: later wins, each source recorded", () => {
  const r = resolveConfig({
    file: {
      path: "/x/herd.toml",
      text: 'profile = "local"\n[jobs]\ndefaultCpu = 0.5\ndefaultMem = "256M"\nkillGrace = "3s"\n',
    },
    env: { HERD_JOBS_DEFAULT_MEM: "1G" },
    flags: [{ key: "jobs.killGrace", value: "1s", flag: "--set" }],
  });
  assert.equal(r.profile, "local");
  assert.deepEqual(r.profileSource, { from: "file", path: "/x/herd.toml" });
  assert.equal(r.values["jobs.defaultCpu"], 0.5);
  assert.deepEqual(r.sources["jobs.defaultCpu"], { from: "file", path: "/x/herd.toml" });
  assert.equal(r.values["jobs.defaultMem"], 1024 ** 3);
  assert.deepEqual(r.sources["jobs.defaultMem"], { from: "env", name: "HERD_JOBS_DEFAULT_MEM" });
  assert.equal(r.values["jobs.killGrace"], 1000);
  assert.deepEqual(r.sources["jobs.killGrace"], { from: "flag", name: "--set" });
  // From the local profile, untouched by file/env/flags:
  assert.equal(r.values["agent.loadInterval"], 500);
  assert.deepEqual(r.sources["agent.loadInterval"], { from: "profile", name: "local" });
  assert.deepEqual(r.sources["api.port"], { from: "default" });
});

Deno.test("a zero is a value, not a missing one", () => {
  const r = resolveConfig({ env: { HERD_API_PORT: "0", HERD_JOBS_DEFAULT_CPU: "0" } });
  assert.equal(r.values["api.port"], 0);
  assert.equal(r.values["jobs.defaultCpu"], 0);
});

Deno.test("flag beats env beats file for the profile", () => {
  const file = { path: "f", text: 'profile = "wan"' };
  assert.equal(resolveConfig({ file, env: {} }).profile, "wan");
  assert.equal(resolveConfig({ file, env: { HERD_PROFILE: "local" } }).profile, "local");
  assert.equal(
    resolveConfig({ file, env: { HERD_PROFILE: "local" }, profileFlag: "lan" }).profile,
    "lan",
  );
});

Deno.test("bad config is refused with the key and the value", () => {
  const cases: Array<[Parameters<typeof resolveConfig>[0], RegExp]> = [
    [{ file: { path: "h.toml", text: "[jobs\nx=1" }, env: {} }, /h\.toml is not valid TOML/],
    [
      { file: { path: "h.toml", text: "[jobs]\ndefaultCPU = 1" }, env: {} },
      /unknown setting 'jobs\.defaultCPU'/,
    ],
    [{ file: { path: "h.toml", text: "[nope]\nx = 1" }, env: {} }, /unknown setting 'nope'/],
    [
      { file: { path: "h.toml", text: 'profile = "moon"' }, env: {} },
      /profile in h\.toml must be one of lan, wan, local/,
    ],
    [{ env: { HERD_API_PORT: "70000" } }, /'api\.port' in HERD_API_PORT must be <= 65535/],
    [{ env: { HERD_API_PORT: "12.5" } }, /whole number/],
    [{ env: { HERD_JOBS_DEFAULT_CPU: "-1" } }, /must be >= 0/],
    [{ env: { HERD_JOBS_DEFAULT_MEM: "12XB" } }, /'jobs\.defaultMem'/],
    [
      { env: {}, flags: [{ key: "jobs.nope", value: "1", flag: "--set" }] },
      /unknown setting 'jobs\.nope' in --set/,
    ],
    [{ env: {}, flags: [{ key: "node.labels", value: "novalue", flag: "--label" }] }, /key=value/],
  ];
  for (const [input, re] of cases) {
    assert.throws(
      () => resolveConfig(input),
      (e: Error) => e instanceof ConfigError && re.test(e.message),
      String(re),
    );
  }
});

Deno.test("env names and typo warnings", () => {
  assert.equal(envName("jobs.defaultCpu"), "HERD_JOBS_DEFAULT_CPU");
  assert.equal(envName("api.port"), "HERD_API_PORT");
  assert.deepEqual(
    unknownEnv({
      HERD_JOBS_DEFAULT_CPUS: "1",
      HERD_API_PORT: "1",
      HERD_DATA_DIR: "/x",
      PATH: "/bin",
    }),
    [
      "HERD_JOBS_DEFAULT_CPUS",
    ],
  );
});

Deno.test("labels from a TOML table and from flags", () => {
  const r = resolveConfig({
    file: { path: "f", text: '[node.labels]\nzone = "lab"\nrack = "3"' },
    env: {},
  });
  assert.deepEqual(r.values["node.labels"], { zone: "lab", rack: "3" });
  const f = resolveConfig({
    env: {},
    flags: [{ key: "node.labels", value: "a=1,b=2", flag: "--label" }],
  });
  assert.deepEqual(f.values["node.labels"], { a: "1", b: "2" });
});
