import assert from "node:assert/strict";
import { resolveConfig } from "../../../core/config.ts";
import { ConfigError } from "../../../core/errors.ts";
import {
  defaultSchedulerSettings,
  enabledPolicy,
  schedulerSettings,
} from "../../../core/scheduler/settings.ts";
import { PluginSet } from "../../../plugins/loader.ts";

Deno.test("scheduler settings: without the prefix, from every source", () => {
  const r = resolveConfig({
    file: { path: "h.toml", text: '[scheduler]\npolicy = "balanced"\nweightCost = 3\n' },
    env: { HERD_SCHEDULER_COST_EDGE: "0.2", HERD_SCHEDULER_MIN_BATTERY: "35" },
  });
  const s = schedulerSettings(r.values);
  assert.equal(s.policy, "balanced");
  assert.equal(s.weightCost, 3);
  assert.equal(s.costEdge, 0.2);
  assert.equal(s.minBattery, 35);
  assert.equal(s.maxTemperature, 80);
  assert.equal(s.costDataCenter, 3);
  assert.deepEqual(Object.keys(s).sort(), Object.keys(defaultSchedulerSettings()).sort());
  assert.equal(Object.keys(s).length, 12);
  assert.ok(!Object.keys(s).some((k) => k.includes(".")));
});

Deno.test("scheduler settings: bad values are refused with the key", () => {
  assert.throws(
    () => resolveConfig({ env: { HERD_SCHEDULER_MIN_BATTERY: "120" } }),
    /'scheduler\.minBattery' in HERD_SCHEDULER_MIN_BATTERY must be <= 100/,
  );
  assert.throws(
    () => resolveConfig({ env: { HERD_SCHEDULER_WEIGHT_FIT: "-1" } }),
    /'scheduler\.weightFit' .* must be >= 0/,
  );
});

Deno.test("scheduler.policy names a loaded policy; best-fit by default", () => {
  const plugins = new PluginSet();
  assert.equal(enabledPolicy(plugins, resolveConfig({ env: {} }).values).name, "best-fit");
  const r = resolveConfig({ env: { HERD_SCHEDULER_POLICY: "round-robin" } });
  assert.equal(enabledPolicy(plugins, r.values).name, "round-robin");
  assert.throws(
    () => enabledPolicy(plugins, resolveConfig({ env: { HERD_SCHEDULER_POLICY: "nope" } }).values),
    (e: Error) =>
      e instanceof ConfigError &&
      e.message ===
        "'scheduler.policy': no scheduling policy 'nope' (have: balanced, best-fit, " +
          "cost-optimized, first-fit, locality-aware, power-aware, round-robin)",
  );
});
