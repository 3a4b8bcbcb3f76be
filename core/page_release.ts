// Handing start-up code pages back to the kernel.
//
// Most of a resident agent's RSS is not its data: it is pages of the runtime binary
// (the TypeScript loader, module resolution, TLS set-up, the Node layer of npm
// packages) touched once while starting and never again. Measured here: 71 MB right
// after start, of which 47 MB file-backed; the pages an idle agent actually keeps
// using are ~25 MB of them. Linux keeps those clean pages mapped until memory gets
// tight; on a 1 GB Raspberry Pi that is memory other programs want now.
//
// madvise(MADV_PAGEOUT) on the read-only file mappings drops them from this process.
// Pages in use fault straight back in (from the page cache, or from disk if the
// kernel reclaimed them), so only what is really used stays resident. Anonymous
// memory (the JS heap, KV, sockets) is never touched: nothing is lost, only re-read.
//
// Two more things, measured with the idle agent of `deno task bench` (Linux 6.18, x86_64):
// - A page that faults back in brings its neighbours along (read-ahead, fault-around): an
//   idle agent references ~3 MB of the binary in 5 s but maps 5× that. The constants
//   (`r--p`: V8's snapshot and ICU data, mostly read once) are advised MADV_RANDOM first,
//   which stops the read-ahead there: -2.7 MB. Code keeps its read-ahead (a job's first
//   run after a quiet spell would otherwise fault it in page by page).
// - malloc_trim(0) returns the C heap's free pages: start-up work that had to transpile
//   or resolve modules (a cold Deno cache, an edited source) leaves ~8 MB of them behind.
//
// Linux >= 5.4 with glibc only; elsewhere `release` reports why it did nothing.

const MADV_RANDOM = 1;
const MADV_PAGEOUT = 21;

export interface ReleaseResult {
  /** Mappings advised. */
  mappings: number;
  /** Bytes of those mappings (their size, not what was resident). */
  bytes: number;
}

/** A read-only, private, file-backed mapping: code (`exec`) or constants. */
export interface FileMapping {
  start: bigint;
  end: bigint;
  path: string;
  exec: boolean;
}

/** The read-only, private, file-backed mappings of /proc/self/maps: code and constants. */
export function fileMappings(maps: string): FileMapping[] {
  const out: FileMapping[] = [];
  for (const line of maps.split("\n")) {
    // 55d0c0a00000-55d0c4f3d000 r-xp 02a00000 08:01 1234  /usr/bin/deno
    const m = /^([0-9a-f]+)-([0-9a-f]+) (r-[-x]p) [0-9a-f]+ \S+ (\d+)\s+(\/.*)$/.exec(line);
    if (!m || m[4] === "0") continue; // inode 0: not a file
    const [start, end] = [BigInt("0x" + m[1]), BigInt("0x" + m[2])];
    out.push({ start, end, path: m[5], exec: m[3] === "r-xp" });
  }
  return out;
}

/**
 * Advises the kernel to page out this process's read-only file mappings. Throws when
 * it cannot (not Linux, no glibc, FFI not allowed); the caller logs that once.
 */
export function releaseFilePages(): ReleaseResult {
  if (Deno.build.os !== "linux") throw new Error(`not supported on ${Deno.build.os}`);
  const libc = Deno.dlopen("libc.so.6", {
    madvise: { parameters: ["usize", "usize", "i32"], result: "i32" },
    malloc_trim: { parameters: ["usize"], result: "i32" },
  });
  try {
    let mappings = 0;
    let bytes = 0n;
    let failed = 0;
    for (const m of fileMappings(Deno.readTextFileSync("/proc/self/maps"))) {
      // Constants fault back in without read-ahead (see the top); a failure only costs that.
      if (!m.exec) libc.symbols.madvise(m.start, m.end - m.start, MADV_RANDOM);
      if (libc.symbols.madvise(m.start, m.end - m.start, MADV_PAGEOUT) === 0) {
        mappings++;
        bytes += m.end - m.start;
      } else failed++;
    }
    // EINVAL on every mapping: a kernel older than 5.4 has no MADV_PAGEOUT.
    if (mappings === 0 && failed > 0) {
      throw new Error("madvise(MADV_PAGEOUT) refused (Linux < 5.4?)");
    }
    libc.symbols.malloc_trim(0n);
    return { mappings, bytes: Number(bytes) };
  } finally {
    libc.close();
  }
}

export interface PageReleaser {
  /** Something ran (a job ended): release again once the node has been quiet a while. */
  poke(): void;
  stop(): void;
}

/**
 * Releases `delayMs` after start, and `delayMs` after the last poke when nothing runs
 * then. The first failure is logged and ends the releases: it would fail every time.
 */
export function startPageReleaser(o: {
  delayMs: number;
  busy: () => boolean;
  log: (line: string) => void;
  release?: () => ReleaseResult;
}): PageReleaser {
  const release = o.release ?? releaseFilePages;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let broken = false;
  const fire = () => {
    timer = undefined;
    if (broken) return;
    if (o.busy()) return; // the end of the work pokes again
    try {
      release();
    } catch (e) {
      broken = true;
      o.log(`herd: not releasing start-up memory pages: ${(e as Error).message}`);
    }
  };
  const arm = () => {
    if (o.delayMs <= 0 || broken) return;
    if (timer !== undefined) clearTimeout(timer);
    const t = setTimeout(fire, o.delayMs);
    Deno.unrefTimer(t);
    timer = t;
  };
  arm();
  return {
    poke: arm,
    stop() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      broken = true;
    },
  };
}
