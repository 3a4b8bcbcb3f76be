import assert from "node:assert/strict";
import { ConfigError } from "../../../core/errors.ts";
import { RateLimiter, sourceKey } from "../../../core/transport/rate_limit.ts";

function clock() {
  let t = 1_000;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

Deno.test("rate limit: a burst, then the rate", () => {
  const c = clock();
  const r = new RateLimiter({ ratePerSecond: 2, burst: 3, now: c.now });
  assert.deepEqual([1, 2, 3, 4].map(() => r.take("a")), [true, true, true, false]);
  assert.equal(r.take("b"), true); // sources are separate
  c.advance(499);
  assert.equal(r.take("a"), false);
  c.advance(1);
  assert.equal(r.take("a"), true); // one token per 500 ms
  assert.equal(r.take("a"), false);
  c.advance(60_000);
  assert.deepEqual([1, 2, 3, 4].map(() => r.take("a")), [true, true, true, false]); // capped at burst
});

Deno.test("rate limit: the table is bounded; the source unseen longest is forgotten", () => {
  const c = clock();
  const r = new RateLimiter({ ratePerSecond: 1, burst: 1, maxSources: 3, now: c.now });
  for (const k of ["a", "b", "c"]) assert.equal(r.take(k), true);
  assert.equal(r.take("a"), false); // a is now the most recent
  assert.equal(r.take("d"), true); // evicts b
  assert.equal(r.size, 3);
  assert.equal(r.take("c"), false); // still remembered
  assert.equal(r.take("b"), true); // forgotten: a full bucket again
});

Deno.test("rate limit: a clock going backwards refills nothing", () => {
  const c = clock();
  const r = new RateLimiter({ ratePerSecond: 1, burst: 1, now: c.now });
  assert.equal(r.take("a"), true);
  c.advance(-10_000);
  assert.equal(r.take("a"), false);
});

Deno.test("rate limit: bad settings are ConfigErrors", () => {
  const now = () => 0;
  assert.throws(() => new RateLimiter({ ratePerSecond: 0, burst: 1, now }), ConfigError);
  assert.throws(() => new RateLimiter({ ratePerSecond: 1, burst: 0.5, now }), ConfigError);
});

Deno.test("rate limit: one IPv4 address or one IPv6 /64 is one source", () => {
  assert.equal(sourceKey("10.0.0.1"), sourceKey("::ffff:10.0.0.1"));
  assert.notEqual(sourceKey("10.0.0.1"), sourceKey("10.0.0.2"));
  assert.equal(sourceKey("2001:db8:1:2::1"), sourceKey("2001:db8:1:2:ffff::9"));
  assert.notEqual(sourceKey("2001:db8:1:2::1"), sourceKey("2001:db8:1:3::1"));
});
