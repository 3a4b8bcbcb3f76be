// The compact wire form of membership messages. Probes and acks are most of what an
// idle node sends, so every byte of them counts (the goal is < 1 KB/s per node):
//
//  - field names go out as one or two letters (a ping: 93 → 60 bytes), and
//  - a network coordinate goes out as integers: seconds in units of 0.1 µs (a LAN
//    coordinate component fits in 16 bits) and its error in units of 1e-4, instead of
//    MessagePack float64s (an ack: 176 → 90 bytes).
//
//  - a member's `meta` goes out as MessagePack bytes of its own, encoded once and decoded
//    once however many messages carry it (_meta_wire.ts).
//
// Renaming and scaling, both ways: the protocol code and the schemas only ever see the
// long form. `body` (a service's) passes through untouched. A key this table does not
// know passes through too, so the strict schemas still refuse it.

import { metaFromWire, metaToWire } from "./_meta_wire.ts";

const LONG_TO_SHORT: Readonly<Record<string, string>> = {
  type: "t",
  v: "v",
  seq: "s",
  target: "g",
  from: "f",
  id: "i",
  address: "a",
  reliable: "r",
  wantCoord: "w",
  nackAfterMs: "k",
  relayed: "y",
  coord: "c",
  coordAge: "e",
  gossip: "p",
  incarnation: "n",
  meta: "m",
  join: "j",
  members: "M",
  state: "S",
  svc: "x",
  op: "o",
  rid: "q",
  bulk: "B",
  body: "b",
};
const SHORT_TO_LONG: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(LONG_TO_SHORT).map(([l, s]) => [s, l]),
);

/** Wire units per second of a coordinate component: 0.1 µs each. */
export const COORD_UNITS_PER_SECOND = 1e7;
/** Wire units per 1.0 of coordinate error. */
const ERROR_UNITS = 1e4;

interface Coordinate {
  vec: number[];
  error: number;
  adjustment: number;
  height: number;
}

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);

// Divisions, not multiplications by 1e-7: 100 / 1e7 is exactly the double of 1e-5.
const toUnits = (s: number) => Math.round(s * COORD_UNITS_PER_SECOND);
const fromUnits = (u: number) => u / COORD_UNITS_PER_SECOND;

/** [vec..., error, adjustment, height] as integers: one short array. */
function packCoordinate(c: Coordinate): number[] {
  return [
    ...c.vec.map(toUnits),
    Math.round(c.error * ERROR_UNITS),
    toUnits(c.adjustment),
    toUnits(c.height),
  ];
}

/** Anything but an array of at least three integers is left for the schema to refuse. */
function unpackCoordinate(x: unknown): unknown {
  if (!Array.isArray(x) || x.length < 3 || !x.every(Number.isSafeInteger)) return x;
  const n = x.length - 3;
  return {
    vec: x.slice(0, n).map(fromUnits),
    error: x[n] / ERROR_UNITS,
    adjustment: fromUnits(x[n + 1]),
    height: fromUnits(x[n + 2]),
  };
}

function convert(value: unknown, names: Readonly<Record<string, string>>, out: boolean): unknown {
  if (Array.isArray(value)) return value.map((e) => convert(e, names, out));
  if (!isPlainObject(value)) return value;
  const result: Record<string, unknown> = {};
  for (const key in value) {
    const v = value[key];
    if (v === undefined) continue;
    const name = Object.hasOwn(names, key) ? names[key] : key;
    const long = out ? key : name;
    if (long === "body") result[name] = v;
    else if (long === "meta") result[name] = out ? metaToWire(v) : metaFromWire(v);
    else if (long === "coord") {
      result[name] = out ? packCoordinate(v as Coordinate) : unpackCoordinate(v);
    } else result[name] = convert(v, names, out);
  }
  return result;
}

/** The message as it goes on the wire. */
export const toWire = (msg: unknown): unknown => convert(msg, LONG_TO_SHORT, true);

/** A decoded wire value back in the long form (not yet validated). */
export const fromWire = (value: unknown): unknown => convert(value, SHORT_TO_LONG, false);
