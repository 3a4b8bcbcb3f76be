import assert from "node:assert/strict";
import { FrameError, FrameReader, prefixed } from "../../../core/transport/framing.ts";

/** A stream that delivers `bytes` in chunks of `size`. */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

Deno.test("framing: frames come out whole, whatever the chunking", async () => {
  const a = new Uint8Array(1000).map((_, i) => i);
  const b = new Uint8Array(3).fill(9);
  const wire = concat(prefixed(a), prefixed(b), prefixed(new Uint8Array(0)));
  for (const size of [1, 3, 4, 5, 999, 5000]) {
    const r = new FrameReader(chunked(wire, size));
    assert.deepEqual(await r.next(1000), a);
    assert.deepEqual(await r.next(1000), b);
    assert.deepEqual(await r.next(1000), new Uint8Array(0));
    assert.equal(await r.next(1000), undefined);
  }
});

Deno.test("framing: an oversized frame is refused from its prefix alone", async () => {
  // announces 4 GiB - 1 but sends nothing more: refused without waiting for the body
  const r = new FrameReader(chunked(new Uint8Array([0xff, 0xff, 0xff, 0xff]), 4));
  await assert.rejects(() => r.next(1024), (e: unknown) => {
    assert.ok(e instanceof FrameError && e.failure.kind === "too-large");
    return true;
  });
});

Deno.test("framing: a stream that ends inside a frame is truncated", async () => {
  for (const wire of [new Uint8Array([0, 0]), prefixed(new Uint8Array(10)).subarray(0, 9)]) {
    const r = new FrameReader(chunked(wire, 2));
    await assert.rejects(() => r.next(1024), (e: unknown) => {
      assert.ok(e instanceof FrameError && e.failure.kind === "truncated");
      return true;
    });
  }
});
