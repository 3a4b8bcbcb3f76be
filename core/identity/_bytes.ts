// Byte helpers shared by the identity modules: PEM, hex, base64url, and the framing
// every signed or MACed transcript uses. Private to core/identity.

const encoder = new TextEncoder();

export const utf8 = (text: string): Uint8Array<ArrayBuffer> => encoder.encode(text);

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Lower- or upper-case hex of even length, else undefined. */
export function fromHex(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** RFC 4648 §5, without padding. */
export const toBase64url = (bytes: Uint8Array): string =>
  toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** Strict: only the URL-safe alphabet, no padding; anything else is undefined. */
export function fromBase64url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return fromBase64(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
}

/** One PEM block with its label, lines of 64 characters. */
export function pemEncode(label: string, der: Uint8Array): string {
  const body = toBase64(der).replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/** The DER inside the first PEM block with this label, or undefined. */
export function pemDecode(pem: string, label: string): Uint8Array<ArrayBuffer> | undefined {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`)
    .exec(pem);
  if (!m) return undefined;
  const der = fromBase64(m[1].replace(/\s+/g, ""));
  return der && der.length > 0 ? der : undefined;
}

/**
 * The transcript encoding: a context label, then each field with its length, so no
 * two different field lists encode to the same bytes, and a signature made for one
 * purpose (label) can never be presented for another.
 *
 *   u16 label length || label (UTF-8) || for each field: u32 length || bytes
 */
export function frame(label: string, fields: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const l = utf8(label);
  const size = 2 + l.length + fields.reduce((n, f) => n + 4 + f.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint16(0, l.length);
  out.set(l, 2);
  let at = 2 + l.length;
  for (const f of fields) {
    view.setUint32(at, f.length);
    out.set(f, at + 4);
    at += 4 + f.length;
  }
  return out;
}

/** A millisecond timestamp as 8 big-endian bytes. */
export function u64(value: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(Math.trunc(value)));
  return out;
}

/** Copies into a fresh ArrayBuffer-backed array (what WebCrypto's types ask for). */
export const own = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(bytes);

/** Human-readable duration for refusal details: "42s", "7m", "3h". */
export function roughDuration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

/** An untrusted string for a log line: quoted and escaped (no newlines), at most ~64 characters. */
export const quote = (text: unknown): string => {
  const s = String(text);
  return JSON.stringify(s.length > 64 ? s.slice(0, 64) + "\u2026" : s);
};
