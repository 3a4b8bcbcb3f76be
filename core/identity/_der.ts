// DER (X.690), the little of it that herd's certificates need: definite lengths, the
// universal types of an X.509 certificate, and a reader that splits a value into its
// elements. issue.ts builds certificates with it; tests/core/identity/issue_test.ts
// checks the result byte for byte against @peculiar/x509 (which issued them before,
// and cost the resident agent ~4 MB of heap once loaded).

export type Der = Uint8Array<ArrayBuffer>;

function concat(parts: readonly Uint8Array[]): Der {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A value: its tag, its length (short form below 128, else long form), its content. */
export function tlv(tag: number, ...content: readonly Uint8Array[]): Der {
  const body = concat(content);
  const len: number[] = [];
  if (body.length < 0x80) len.push(body.length);
  else {
    for (let v = body.length; v > 0; v = Math.floor(v / 256)) len.unshift(v & 0xff);
    len.unshift(0x80 | len.length);
  }
  return concat([Uint8Array.of(tag, ...len), body]);
}

export const sequence = (...content: readonly Uint8Array[]): Der => tlv(0x30, ...content);
export const set = (...content: readonly Uint8Array[]): Der => tlv(0x31, ...content);
export const boolean = (value: boolean): Der => tlv(0x01, Uint8Array.of(value ? 0xff : 0x00));
export const octetString = (bytes: Uint8Array): Der => tlv(0x04, bytes);
/** A BIT STRING of whole bytes, or with `unused` low bits of the last byte unused. */
export const bitString = (bytes: Uint8Array, unused = 0): Der =>
  tlv(0x03, Uint8Array.of(unused), bytes);
export const printableString = (text: string): Der => tlv(0x13, ascii(text));
export const utf8String = (text: string): Der => tlv(0x0c, new TextEncoder().encode(text));
/** `[n] IMPLICIT` of a primitive type: the content of that type under a context tag. */
export const implicit = (n: number, content: Uint8Array): Der => tlv(0x80 | n, content);
/** `[n] EXPLICIT`: the whole encoding of the inner values under a constructed context tag. */
export const explicit = (n: number, ...inner: readonly Uint8Array[]): Der =>
  tlv(0xa0 | n, ...inner);

/** The bytes of an ASCII text; throws on any other character. */
export function ascii(text: string): Der {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) throw new RangeError(`not ASCII: ${JSON.stringify(text)}`);
    out[i] = c;
  }
  return out;
}

/** A non-negative INTEGER from its big-endian magnitude: minimal, a 0 byte first when needed. */
export function unsignedInteger(magnitude: Uint8Array): Der {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.length === 0 ? Uint8Array.of(0) : magnitude.subarray(i);
  return m[0] & 0x80 ? tlv(0x02, Uint8Array.of(0), m) : tlv(0x02, m);
}

/** A small non-negative INTEGER. */
export function smallInteger(value: number): Der {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`bad integer ${value}`);
  const bytes: number[] = [];
  for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return unsignedInteger(Uint8Array.from(bytes));
}

/** An OBJECT IDENTIFIER from its dotted form. */
export function objectIdentifier(dotted: string): Der {
  const arcs = dotted.split(".").map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0)) {
    throw new RangeError(`bad object identifier ${dotted}`);
  }
  const out: number[] = [];
  const base128 = (v: number) => {
    const groups = [v & 0x7f];
    for (v = Math.floor(v / 128); v > 0; v = Math.floor(v / 128)) groups.unshift(0x80 | (v & 0x7f));
    out.push(...groups);
  };
  base128(arcs[0] * 40 + arcs[1]);
  for (const a of arcs.slice(2)) base128(a);
  return tlv(0x06, Uint8Array.from(out));
}

const two = (n: number) => String(n).padStart(2, "0");

/**
 * A certificate time (RFC 5280 §4.1.2.5): UTCTime through 2049, GeneralizedTime from
 * 2050, whole seconds, UTC.
 */
export function time(ms: number): Der {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  const rest = two(d.getUTCMonth() + 1) + two(d.getUTCDate()) + two(d.getUTCHours()) +
    two(d.getUTCMinutes()) + two(d.getUTCSeconds()) + "Z";
  return year > 2049
    ? tlv(0x18, ascii(String(year).padStart(4, "0") + rest))
    : tlv(0x17, ascii(two(year % 100) + rest));
}

/** One element of a DER value: its tag, its whole encoding and its content. */
export interface Element {
  tag: number;
  whole: Der;
  content: Der;
}

/** The values encoded one after another in `der` (the content of a constructed value). */
export function elements(der: Uint8Array): Element[] {
  const out: Element[] = [];
  let at = 0;
  while (at < der.length) {
    const start = at;
    if (at + 2 > der.length) throw new RangeError("DER: truncated");
    const tag = der[at++];
    if ((tag & 0x1f) === 0x1f) throw new RangeError("DER: multi-byte tags are not supported");
    let len = der[at++];
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4 || at + n > der.length) throw new RangeError("DER: bad length");
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[at++];
    }
    if (at + len > der.length) throw new RangeError("DER: truncated");
    out.push({
      tag,
      whole: new Uint8Array(der.subarray(start, at + len)),
      content: new Uint8Array(der.subarray(at, at + len)),
    });
    at += len;
  }
  return out;
}
