// Network coordinates (Vivaldi with height vectors and an adjustment term), the
// algorithm Serf uses (hashicorp/serf coordinate/). Each node keeps a point; each
// measured round trip pulls or pushes it like a spring, so the distance between two
// points comes to estimate the round trip between their nodes without measuring it.
// Internally in seconds, as Serf (its constants — heightMin, gravityRho — are in
// seconds); the API takes and gives milliseconds.

import type { Rng } from "./rng.ts";

export interface Coordinate {
  vec: number[];
  /** Confidence in the estimate: 0 is certain, errorMax is knows nothing. */
  error: number;
  /** Seconds added to every distance: the node's own delay, learned from samples. */
  adjustment: number;
  /** Seconds: the access link, which no direction in the plane can express. */
  height: number;
}

export interface VivaldiConfig {
  dimensionality: number;
  errorMax: number;
  /** How much a sample moves the error estimate. */
  ce: number;
  /** How much a sample moves the coordinate. */
  cc: number;
  /** Samples averaged into `adjustment`; 0 turns it off. */
  adjustmentWindow: number;
  heightMin: number;
  /** Per-peer median filter over this many samples. */
  latencyFilterSize: number;
  /** Pull toward the origin, so the whole system does not drift (seconds). */
  gravityRho: number;
}

/** Serf's DefaultConfig. */
export const VIVALDI_DEFAULTS: VivaldiConfig = {
  dimensionality: 8,
  errorMax: 1.5,
  ce: 0.25,
  cc: 0.25,
  adjustmentWindow: 20,
  heightMin: 10e-6,
  latencyFilterSize: 3,
  gravityRho: 150,
};

/** Round trips beyond this are refused as samples (Serf: 10 s). */
export const MAX_RTT_MS = 10_000;
/** Peers whose recent samples are kept for the median filter. */
export const MAX_FILTERED_PEERS = 1_024;

const ZERO = 1e-6;

export function newCoordinate(c: VivaldiConfig = VIVALDI_DEFAULTS): Coordinate {
  return {
    vec: new Array(c.dimensionality).fill(0),
    error: c.errorMax,
    adjustment: 0,
    height: c.heightMin,
  };
}

/** A coordinate from the network is only used if it has our shape and finite numbers. */
export function isValidCoordinate(c: unknown, dimensionality: number): c is Coordinate {
  if (!c || typeof c !== "object") return false;
  const k = c as Coordinate;
  return Array.isArray(k.vec) && k.vec.length === dimensionality &&
    k.vec.every(Number.isFinite) && Number.isFinite(k.error) &&
    Number.isFinite(k.adjustment) && Number.isFinite(k.height);
}

const magnitude = (v: readonly number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const diff = (a: readonly number[], b: readonly number[]) => a.map((x, i) => x - b[i]);

function rawDistance(a: Coordinate, b: Coordinate): number {
  return magnitude(diff(a.vec, b.vec)) + a.height + b.height;
}

/** Estimated round trip between two coordinates, in seconds. */
export function distanceSeconds(a: Coordinate, b: Coordinate): number {
  const dist = rawDistance(a, b);
  const adjusted = dist + a.adjustment + b.adjustment;
  return adjusted > 0 ? adjusted : dist;
}

/** Estimated round trip between two coordinates, in milliseconds. */
export const estimateRttMs = (a: Coordinate, b: Coordinate): number => distanceSeconds(a, b) * 1000;

/** The unit vector from b to a, and the distance; a random direction when they coincide. */
function unitVectorAt(a: readonly number[], b: readonly number[], rng: Rng) {
  const d = diff(a, b);
  const mag = magnitude(d);
  if (mag > ZERO) return { unit: d.map((x) => x / mag), mag };
  const r = d.map(() => rng.float() - 0.5);
  const rmag = magnitude(r);
  if (rmag > ZERO) return { unit: r.map((x) => x / rmag), mag: 0 };
  return { unit: d.map((_, i) => (i === 0 ? 1 : 0)), mag: 0 };
}

/** Moves `c` by `force` seconds along the line from `other` (negative: toward it). */
function applyForce(
  c: Coordinate,
  force: number,
  other: Coordinate,
  cfg: VivaldiConfig,
  rng: Rng,
): Coordinate {
  const { unit, mag } = unitVectorAt(c.vec, other.vec, rng);
  const vec = c.vec.map((x, i) => x + unit[i] * force);
  let height = c.height;
  if (mag > ZERO) {
    height = Math.max(cfg.heightMin, ((c.height + other.height) * force) / mag + c.height);
  }
  return { ...c, vec, height };
}

/** One node's coordinate and the state that updates it. */
export class VivaldiClient {
  #coord: Coordinate;
  readonly #origin: Coordinate;
  readonly #filters = new Map<string, number[]>();
  readonly #adjustments: number[];
  #adjustmentAt = 0;

  constructor(readonly config: VivaldiConfig, readonly rng: Rng) {
    this.#coord = newCoordinate(config);
    this.#origin = newCoordinate(config);
    this.#adjustments = new Array(config.adjustmentWindow).fill(0);
  }

  /** The current coordinate. Never mutated: each update makes a new object. */
  get coordinate(): Readonly<Coordinate> {
    return this.#coord;
  }

  /**
   * Takes one round-trip sample to `node`, whose coordinate is `other`. Returns false
   * (and changes nothing) for a foreign-shaped coordinate or an impossible round trip.
   */
  update(node: string, other: Coordinate, rttMs: number): boolean {
    if (!isValidCoordinate(other, this.config.dimensionality)) return false;
    if (!(rttMs >= 0 && rttMs <= MAX_RTT_MS)) return false;
    const rtt = this.#filter(node, rttMs / 1000);
    this.#updateVivaldi(other, rtt);
    this.#updateAdjustment(other, rtt);
    this.#updateGravity();
    if (!isValidCoordinate(this.#coord, this.config.dimensionality)) {
      this.#coord = newCoordinate(this.config);
    }
    return true;
  }

  /** Forgets a peer's samples (it left, or was reaped). */
  forget(node: string): void {
    this.#filters.delete(node);
  }

  /** Median of the peer's last few samples: one slow reply does not yank the point. */
  #filter(node: string, rtt: number): number {
    let samples = this.#filters.get(node);
    if (!samples) {
      if (this.#filters.size >= MAX_FILTERED_PEERS) {
        this.#filters.delete(this.#filters.keys().next().value!);
      }
      samples = [];
      this.#filters.set(node, samples);
    }
    samples.push(rtt);
    if (samples.length > this.config.latencyFilterSize) samples.shift();
    const sorted = [...samples].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  #updateVivaldi(other: Coordinate, rttSeconds: number): void {
    const c = this.config;
    const rtt = Math.max(rttSeconds, ZERO);
    const dist = distanceSeconds(this.#coord, other);
    const wrongness = Math.abs(dist - rtt) / rtt;
    const totalError = Math.max(this.#coord.error + other.error, ZERO);
    const weight = this.#coord.error / totalError;
    const error = Math.min(
      c.errorMax,
      c.ce * weight * wrongness + this.#coord.error * (1 - c.ce * weight),
    );
    const force = c.cc * weight * (rtt - dist);
    this.#coord = applyForce({ ...this.#coord, error }, force, other, c, this.rng);
  }

  #updateAdjustment(other: Coordinate, rtt: number): void {
    const w = this.config.adjustmentWindow;
    if (w === 0) return;
    this.#adjustments[this.#adjustmentAt] = rtt - rawDistance(this.#coord, other);
    this.#adjustmentAt = (this.#adjustmentAt + 1) % w;
    const sum = this.#adjustments.reduce((s, x) => s + x, 0);
    this.#coord = { ...this.#coord, adjustment: sum / (2 * w) };
  }

  #updateGravity(): void {
    const dist = distanceSeconds(this.#origin, this.#coord);
    const force = -1 * Math.pow(dist / this.config.gravityRho, 2);
    this.#coord = applyForce(this.#coord, force, this.#origin, this.config, this.rng);
  }
}
