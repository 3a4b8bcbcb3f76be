import assert from "node:assert/strict";
import { resolveConfig, SETTINGS } from "../../../core/config.ts";
import { ConfigError } from "../../../core/errors.ts";
import { membershipTimings } from "../../../core/membership/timings.ts";

const timingsOf = (profile: string, env: Record<string, string> = {}) =>
  membershipTimings(resolveConfig({ env, profileFlag: profile }).values);

Deno.test("lan defaults, and wan/local as overrides of them", () => {
  const lan = timingsOf("lan");
  assert.equal(lan.probeIntervalMs, 500);
  assert.equal(lan.probeTimeoutMs, 100);
  assert.equal(lan.indirectChecks, 3);
  assert.equal(lan.suspicionMult, 3);
  assert.equal(lan.suspicionUnitMs, 150);
  assert.equal(lan.suspicionMaxTimeoutMult, 6);
  assert.equal(lan.retransmitMult, 4);
  assert.equal(lan.pushPullIntervalMs, 60_000);
  assert.equal(lan.gossipIntervalMs, 200);
  assert.equal(lan.gossipNodes, 3);
  assert.equal(lan.awarenessMaxMultiplier, 8);
  assert.equal(lan.reconnectIntervalMs, 30_000);
  assert.equal(lan.reconnectTimeoutMs, 24 * 3_600_000);
  assert.equal(lan.fallbackPing, true);

  const wan = timingsOf("wan");
  assert.equal(wan.probeIntervalMs, 5_000);
  assert.equal(wan.probeTimeoutMs, 3_000);
  assert.equal(wan.suspicionMult, 6);
  assert.equal(wan.gossipNodes, 4);
  assert.equal(wan.indirectChecks, lan.indirectChecks, "not overridden");

  const local = timingsOf("local");
  assert.equal(local.probeIntervalMs, 100);
  assert.equal(local.indirectChecks, 1);
});

Deno.test("every membership setting says its unit and what it does", () => {
  const keys = Object.keys(SETTINGS).filter((k) => k.startsWith("membership."));
  assert.ok(keys.length >= 18);
  for (const k of keys) {
    const s = SETTINGS[k as keyof typeof SETTINGS];
    assert.ok(s.unit && s.doc.length > 20, k);
  }
});

Deno.test("a probe timeout at or past the probe interval is refused, naming both", () => {
  assert.throws(
    () => timingsOf("lan", { HERD_MEMBERSHIP_PROBE_TIMEOUT: "600ms" }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /'membership.probeTimeout' must be below 'membership.probeInterval': got 600 ms >= 500 ms/
        .test(e.message),
  );
  assert.equal(timingsOf("lan", { HERD_MEMBERSHIP_FALLBACK_PING: "false" }).fallbackPing, false);
});
