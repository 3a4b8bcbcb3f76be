// A member's metadata on the wire: a MessagePack value of its own, nested as bytes in the
// message (memberlist carries its node meta as opaque bytes too). Private to core/transport.
//
// Why: the same metas travel again and again, in every alive rumor about a member and in
// every entry of every push-pull, while each changes at most once per announcement. As
// bytes, a meta is encoded once by whoever sends it first and decoded once by each
// receiver; the next copies are a cache lookup. In V8's lite mode (the agent's, for RSS)
// MessagePack is interpreted JavaScript: a push-pull of 50 members cost ~4 ms to encode
// and ~4.5 ms to decode, two thirds of it the metas.
//
// A decoded meta is frozen and shared by every message that carries the same bytes, so no
// holder can change what another sees. The schema still checks each distinct meta once.

import { packValue, unpackValue } from "./_msgpack.ts";

/** Distinct metas remembered by their bytes: a few per member as its load changes. */
export const META_CACHE_ENTRIES = 4_096;

/** The bytes each meta object went out or came in as. */
const bytesOf = new WeakMap<object, Uint8Array>();
/** Decoded metas by their bytes (as a string key), oldest first. */
const decoded = new Map<string, unknown>();
/** Metas the schema has accepted (codec.ts): a cached meta is not checked again. */
const accepted = new WeakSet<object>();
// windows-1252 as WHATWG defines it maps each of the 256 bytes to its own code point.
const keyDecoder = new TextDecoder("latin1");

/** The meta as it goes on the wire: its bytes, encoded once per meta object. */
export function metaToWire(meta: unknown): unknown {
  if (typeof meta !== "object" || meta === null) return meta;
  let bytes = bytesOf.get(meta);
  if (!bytes) {
    bytes = packValue(meta);
    bytesOf.set(meta, bytes);
  }
  return bytes;
}

/**
 * The meta a wire value stands for. Anything but bytes that decode is returned as it is,
 * for the schema to refuse; so is a value that decodes to something other than an object.
 */
export function metaFromWire(x: unknown): unknown {
  if (!(x instanceof Uint8Array)) return x;
  const key = keyDecoder.decode(x);
  const hit = decoded.get(key);
  if (hit !== undefined) return hit;
  const raw = unpackValue(x);
  if (!raw.ok || typeof raw.value !== "object" || raw.value === null) return x;
  const meta = deepFreeze(raw.value);
  bytesOf.set(meta, x);
  if (decoded.size >= META_CACHE_ENTRIES) decoded.delete(decoded.keys().next().value!);
  decoded.set(key, meta);
  return meta;
}

/** Whether the schema accepted this meta object before. */
export const wasAccepted = (meta: unknown): boolean =>
  typeof meta === "object" && meta !== null && accepted.has(meta);

/** Remembers that the schema accepted `meta`; true, to end the check that called it. */
export function markAccepted(meta: unknown): true {
  if (typeof meta === "object" && meta !== null) accepted.add(meta);
  return true;
}

/** Freezes plain values; bytes (which no valid meta holds: the schema refuses them) stay as they are. */
function deepFreeze<T>(x: T): T {
  if (typeof x === "object" && x !== null && !ArrayBuffer.isView(x) && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const k in x) deepFreeze((x as Record<string, unknown>)[k]);
  }
  return x;
}
