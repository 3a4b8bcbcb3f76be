import assert from "node:assert/strict";
import { fileMappings, releaseFilePages, startPageReleaser } from "../../core/page_release.ts";

const MAPS = `
55d0c0a00000-55d0c2a00000 r--p 00000000 fe:00 2146382                    /usr/bin/deno
55d0c2a00000-55d0c6a00000 r-xp 02000000 fe:00 2146382                    /usr/bin/deno
55d0c6a00000-55d0c6c00000 rw-p 06000000 fe:00 2146382                    /usr/bin/deno
7f0000000000-7f0000100000 rw-p 00000000 00:00 0
7f0000100000-7f0000200000 r--s 00000000 fe:00 99                         /root/.cache/deno/v8_code_cache_v2
7f0000200000-7f0000300000 r-xp 00000000 00:00 0                          [vdso]
7f0000300000-7f0000400000 r--p 00000000 fe:00 77                         /usr/lib/libc.so.6 (deleted)
`;

Deno.test("page release: only read-only private file mappings", () => {
  const m = fileMappings(MAPS);
  assert.deepEqual(m.map((x) => x.path), [
    "/usr/bin/deno",
    "/usr/bin/deno",
    "/usr/lib/libc.so.6 (deleted)",
  ]);
  assert.equal(m[1].end - m[1].start, 0x4000000n);
});

Deno.test("page release: this process's own mappings are advised", {
  ignore: Deno.build.os !== "linux",
}, () => {
  const r = releaseFilePages();
  assert.ok(r.mappings > 0 && r.bytes > 0, JSON.stringify(r));
});

Deno.test("page release: waits for quiet, and a failure ends it with one log line", async () => {
  let busy = true;
  let calls = 0;
  const lines: string[] = [];
  const rel = startPageReleaser({
    delayMs: 20,
    busy: () => busy,
    log: (l) => lines.push(l),
    release: () => {
      calls++;
      if (calls === 2) throw new Error("madvise refused");
      return { mappings: 1, bytes: 4096 };
    },
  });
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(calls, 0, "busy: nothing released");
  busy = false;
  rel.poke();
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(calls, 1);
  rel.poke();
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(calls, 2);
  assert.deepEqual(lines, ["herd: not releasing start-up memory pages: madvise refused"]);
  rel.poke();
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(calls, 2, "no more attempts after a failure");
  rel.stop();
});
