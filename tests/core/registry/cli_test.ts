import assert from "node:assert/strict";
import { run } from "../../../cli/registry.ts";
import { UsageError } from "../../../core/errors.ts";

const ROOT = new URL("../../../", import.meta.url);

Deno.test("herd registry: --help, and bad flags are one-line usage errors", async () => {
  const log = console.log;
  const out: string[] = [];
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  try {
    assert.equal(await run(["--help"]), 0);
  } finally {
    console.log = log;
  }
  assert.match(out.join("\n"), /^Usage: herd registry \[flags\]/);
  const cases: [string[], RegExp][] = [
    [["--port", "x"], /^registry: --port must be 0 to 65535: got 'x'$/],
    [["--port", "70000"], /^registry: --port must be 0 to 65535/],
    [["--ttl", "5"], /--ttl must be a duration such as 30s/],
    [["--ttl", "500ms"], /^registry: --ttl must be at least 1s: got '500ms'$/],
    [["--host", ""], /--host must not be empty/],
    [["--bogus"], /^registry: unknown flag --bogus$/],
    [["extra"], /^registry: unexpected argument 'extra'$/],
  ];
  for (const [args, why] of cases) {
    await assert.rejects(() => run(args), (e: Error) => {
      assert.ok(e instanceof UsageError, `${args.join(" ")}: ${e}`);
      assert.equal(e.exitCode, 2);
      assert.match(e.message, why);
      return true;
    });
  }
});

Deno.test("herd registry: prints its URL, serves, and stops cleanly on SIGINT and SIGTERM", async () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--config",
        new URL("deno.json", ROOT).pathname,
        `import { run } from ${JSON.stringify(new URL("cli/registry.ts", ROOT).href)};
         Deno.exit(await run(["--host", "127.0.0.1", "--port", "0", "--ttl", "10s"]));`,
      ],
      cwd: ROOT.pathname,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!/listening on (\S+)\n/.test(out)) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      const url = /listening on (\S+)\n/.exec(out)?.[1];
      assert.ok(url?.startsWith("http://127.0.0.1:"), out);
      const health = await fetch(`${url}/healthz`);
      assert.deepEqual(await health.json(), { ok: true, entries: 0 });
      const announced = await fetch(`${url}/v1/announce`, {
        method: "POST",
        body: JSON.stringify({ id: "aaaaaaaaaaaaaaaa", port: 7946, cluster: "ab".repeat(32) }),
      });
      assert.deepEqual(await announced.json(), { address: "127.0.0.1", ttlMs: 10_000 });
      child.kill(signal);
      const rest = (async () => {
        for (;;) if ((await reader.read()).done) return;
      })();
      const [status, stderr] = await Promise.all([
        child.status,
        new Response(child.stderr).text(),
        rest,
      ]);
      assert.equal(status.code, 0, stderr);
      assert.match(stderr, new RegExp(`received ${signal}, stopping\\n.*stopped`, "s"));
    } finally {
      clearTimeout(killer);
    }
  }
});
