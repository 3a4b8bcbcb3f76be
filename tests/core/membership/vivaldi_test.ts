import assert from "node:assert/strict";
import { seededRng } from "../../../core/membership/rng.ts";
import {
  estimateRttMs,
  isValidCoordinate,
  newCoordinate,
  VIVALDI_DEFAULTS,
  VivaldiClient,
} from "../../../core/membership/vivaldi.ts";

/** Serf's Simulate: each cycle, every node samples one random other. */
function simulate(truthMs: number[][], cycles: number, dims = 8): VivaldiClient[] {
  const rng = seededRng(1);
  const cfg = { ...VIVALDI_DEFAULTS, dimensionality: dims };
  const clients = truthMs.map(() => new VivaldiClient(cfg, rng));
  for (let c = 0; c < cycles; c++) {
    for (let i = 0; i < clients.length; i++) {
      const j = rng.int(clients.length);
      if (j !== i) clients[i].update(`n${j}`, clients[j].coordinate, truthMs[i][j]);
    }
  }
  return clients;
}

/** Average and worst relative error of estimated vs true round trips. */
function evaluate(clients: VivaldiClient[], truthMs: number[][]) {
  let sum = 0, max = 0, count = 0;
  for (let i = 0; i < clients.length; i++) {
    for (let j = i + 1; j < clients.length; j++) {
      const est = estimateRttMs(clients[i].coordinate, clients[j].coordinate);
      const err = Math.abs(est - truthMs[i][j]) / truthMs[i][j];
      sum += err;
      max = Math.max(max, err);
      count++;
    }
  }
  return { avg: sum / count, max };
}

const matrix = (n: number, f: (i: number, j: number) => number) =>
  Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 0 : f(i, j))));

// Serf's coordinate/performance_test.go: same topologies, same 1,000 cycles, same bounds
// on the average and worst relative error of the estimated round trips.
const side = 5;
const topologies: [string, number[][], { avg: number; max: number }][] = [
  ["a line, 10 ms apart", matrix(10, (i, j) => 10 * Math.abs(i - j)), { avg: 0.0031, max: 0.013 }],
  [
    "a 5×5 grid, 10 ms apart",
    matrix(
      25,
      (i, j) => 10 * Math.hypot(i % side - j % side, Math.floor(i / side) - Math.floor(j / side)),
    ),
    { avg: 0.0016, max: 0.023 },
  ],
  [
    "two sites, 1 ms LAN and +10 ms WAN",
    matrix(25, (i, j) => (i <= 12) === (j <= 12) ? 1 : 11),
    { avg: 0.00006, max: 0.00048 },
  ],
];

for (const [name, truth, bound] of topologies) {
  Deno.test(`coordinates converge on known round trips: ${name}`, () => {
    const stats = evaluate(simulate(truth, 1_000), truth);
    assert.ok(stats.avg < bound.avg, `average error ${stats.avg}`);
    assert.ok(stats.max < bound.max, `worst error ${stats.max}`);
  });
}

Deno.test("a foreign or broken coordinate, or an impossible round trip, changes nothing", () => {
  const c = new VivaldiClient(VIVALDI_DEFAULTS, seededRng(2));
  const before = c.coordinate;
  assert.equal(c.update("x", { ...newCoordinate(), vec: [1, 2] }, 5), false);
  assert.equal(c.update("x", { ...newCoordinate(), height: NaN }, 5), false);
  assert.equal(c.update("x", newCoordinate(), -1), false);
  assert.equal(c.update("x", newCoordinate(), 60_000), false);
  assert.equal(c.coordinate, before);
  assert.equal(c.update("x", newCoordinate(), 5), true);
  assert.ok(isValidCoordinate(c.coordinate, 8));
  assert.notEqual(c.coordinate, before);
});
