// The Raspberry Pi target, checked by emulation: an aarch64 Deno (from the npm
// package @deno/linux-arm64-glibc) runs the herd agent under qemu-user through
// binfmt_misc; the x86_64 CLI talks to it. Set up by scripts/setup_aarch64.sh
// (which .ci/run calls); without it this test says why and does not run.

import assert from "node:assert/strict";
import { DENO_FLAGS, expectCode, herd, MAIN } from "./_harness.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DEST = Deno.env.get("HERD_AARCH64_DIR") ?? `${ROOT}.cache/aarch64`;
const LD_PREFIX = "/usr/aarch64-linux-gnu";

async function missing(): Promise<string | undefined> {
  const need = [`${DEST}/deno`, `${DEST}/bin/uname`, LD_PREFIX, "/proc/sys/fs/binfmt_misc/status"];
  for (const p of need) {
    try {
      await Deno.stat(p);
    } catch {
      return `${p} is missing: run 'bash scripts/setup_aarch64.sh' (as root) to set up aarch64 emulation`;
    }
  }
  const reg = await Deno.readTextFile("/proc/sys/fs/binfmt_misc/qemu-aarch64").catch(() => "");
  if (!reg.includes("enabled")) {
    return "qemu-aarch64 is not registered with binfmt_misc: run 'bash scripts/setup_aarch64.sh'";
  }
  return undefined;
}

const why = await missing();
if (why) console.error(`aarch64 test NOT RUN: ${why}`);

Deno.test({
  name: "an aarch64 node under emulation profiles as aarch64 and runs aarch64 jobs",
  ignore: why !== undefined,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "herd-arm-" });
    const child = new Deno.Command(`${DEST}/deno`, {
      args: [...DENO_FLAGS, MAIN, "up", "--api-port", "0", "--profile", "local", "--name", "pi"],
      env: {
        HERD_DATA_DIR: dataDir,
        QEMU_LD_PREFIX: LD_PREFIX,
        // As on a Pi, the node's programs are aarch64 ones.
        PATH: `${DEST}/bin:${Deno.env.get("PATH")}`,
        NO_COLOR: "1",
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const dec = new TextDecoder();
    let out = "";
    const reading = (async () => {
      for await (const c of child.stdout) out += dec.decode(c);
    })();
    const errText = child.stderr.pipeThrough(new TextDecoderStream());
    let err = "";
    const readingErr = (async () => {
      for await (const c of errText) err += c;
    })();
    try {
      const deadline = Date.now() + 120_000;
      while (!/api\s+http/.test(out)) {
        assert.ok(Date.now() < deadline, `aarch64 agent did not start in 120 s:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.match(out, /resources\s+\d+ CPUs \(aarch64\)/);

      const p = await herd(dataDir, ["profile", "--json"]);
      expectCode(p, 0, "profile");
      const profile = JSON.parse(p.stdout);
      assert.equal(profile.profile.cpu.arch, "aarch64");
      assert.equal(profile.emulated, false, "probed for real, not recorded");

      const r = await herd(dataDir, ["run", "--", "uname", "-m"]);
      expectCode(r, 0, "run uname");
      assert.equal(r.stdout, "aarch64\n");
    } finally {
      child.kill("SIGTERM");
      const status = await child.status;
      await reading;
      await readingErr;
      assert.equal(status.code, 0, `aarch64 agent exit ${status.code}: ${err}`);
    }
  },
});
