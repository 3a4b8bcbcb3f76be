import assert from "node:assert/strict";
import { metaChange, metaWorthSending } from "../../../core/mesh/meta_change.ts";

const base = { v: 1, n: "pi", k: "Edge", c: 4, l: { c: 4, m: 1024, g: 0, l: 1, b: 60, t: 50 } };
const withLoad = (l: Record<string, number | boolean>) => ({ ...base, l: { ...base.l, ...l } });

Deno.test("meta change: what placement reads is news at once", () => {
  assert.equal(metaWorthSending(base, { ...base }), false);
  assert.equal(metaWorthSending(base, withLoad({ c: 3.5 })), true, "free CPUs");
  assert.equal(metaWorthSending(base, withLoad({ m: 960 })), true, "free memory");
  assert.equal(metaWorthSending(base, withLoad({ g: 1 })), true, "free GPUs");
  assert.equal(metaWorthSending(base, withLoad({ ob: true })), true, "on battery");
  assert.equal(metaWorthSending(base, { ...base, n: "pi2" }), true, "name");
  assert.equal(metaWorthSending(base, { ...base, lb: { zone: "a" } }), true, "labels");
});

Deno.test("meta change: live readings must move a step", () => {
  assert.equal(metaWorthSending(base, withLoad({ l: 1.5 })), false, "load jitter");
  assert.equal(metaWorthSending(base, withLoad({ l: 2 })), true, "load +1");
  assert.equal(metaWorthSending(base, withLoad({ b: 55 })), false, "battery -5");
  assert.equal(metaWorthSending(base, withLoad({ b: 50 })), true, "battery -10");
  assert.equal(metaWorthSending(base, withLoad({ t: 52 })), false, "temperature +2");
  assert.equal(metaWorthSending(base, withLoad({ t: 56 })), true, "temperature +6");
  const { t: _t, ...noTemp } = base.l;
  assert.equal(metaWorthSending(base, { ...base, l: noTemp }), true, "a reading went away");
});

Deno.test("meta change: live readings alone are 'live' (spaced out), the rest 'now'", () => {
  assert.equal(metaChange(base, { ...base }), "none");
  assert.equal(metaChange(base, withLoad({ l: 1.5 })), "none");
  assert.equal(metaChange(base, withLoad({ l: 2 })), "live");
  assert.equal(metaChange(base, withLoad({ l: 2, c: 3 })), "now");
  assert.equal(metaChange(base, withLoad({ ob: true })), "now");
});
