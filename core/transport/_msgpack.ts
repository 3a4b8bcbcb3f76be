// The one MessagePack configuration of the transport, shared by the message codec and
// the control frames. Private to core/transport.
//
// The decoder's limits bound what a hostile input can make it allocate before any schema
// runs: no string or binary over 2 MiB (a job's module source; job output rides in
// chunks of at most 60 KiB), no array longer than a full member list, no map wider than
// 1,024 keys, and no extension types at all (MessagePack's timestamp would decode to a
// Date, which no message contains). The frame's own size limit comes first.

// The package's ESM build, by path: its package.json has no "exports", so the bare name
// resolves to the CommonJS build, and loading CommonJS brings in Deno's Node compatibility
// layer: ~7 MB more RSS (measured: 48.5 vs 41.9 MB for a process that only encodes).
import { Decoder, Encoder } from "@msgpack/msgpack/dist.esm/index.mjs";
import * as v from "valibot";
import { MAX_MEMBERS } from "../membership/member_table.ts";

export const MAX_WIRE_STRING = 2 * 1024 * 1024;

// ignoreUndefined: an optional field left undefined is omitted, not sent as nil (which
// the strict schemas would refuse).
const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder({
  maxStrLength: MAX_WIRE_STRING,
  maxBinLength: MAX_WIRE_STRING,
  maxArrayLength: MAX_MEMBERS,
  maxMapLength: 1_024,
  maxExtLength: 0,
});

export const packValue = (value: unknown): Uint8Array => encoder.encode(value);

/** The value, or the decoder's complaint (any bytes may arrive: every failure is expected). */
export function unpackValue(bytes: Uint8Array): { ok: true; value: unknown } | {
  ok: false;
  detail: string;
} {
  try {
    return { ok: true, value: decoder.decode(bytes) };
  } catch (e) {
    // DecodeError (bad type byte, limits, `__proto__` keys) or RangeError (truncated,
    // trailing bytes): all mean "not one valid MessagePack value".
    return { ok: false, detail: e instanceof Error ? e.message : String(e) };
  }
}

/** A plain object as the decoder makes them (not an array, not binary). */
export const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);

/** One line about the first schema issue: where and what. */
export function firstIssue(issues: readonly v.BaseIssue<unknown>[]): string {
  const issue = issues[0];
  if (!issue) return "invalid";
  const path = v.getDotPath(issue);
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** Binary of exactly `min` bytes, or between `min` and `max`. */
export const bytesOf = (min: number, max = min) =>
  v.custom<Uint8Array>(
    (b) => b instanceof Uint8Array && b.length >= min && b.length <= max,
    min === max ? `must be ${min} bytes` : `must be ${min}\u2013${max} bytes`,
  );
