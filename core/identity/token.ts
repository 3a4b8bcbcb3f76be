// The join token: `herd1.<ca-sha256>.<secret>`.
//
//   herd1      format and version; a later format is herd2, and this code says so
//   ca-sha256  SHA-256 of the cluster CA certificate's DER, 64 lower-case hex characters
//              (what `openssl x509 -in ca.pem -outform der | sha256sum` prints)
//   secret     32 random bytes, base64url without padding (43 characters); at least 16
//
// The hash lets a joiner trust a CA certificate it fetched over any channel; the secret
// lets it prove it was invited. The secret never travels: join.ts MACs a transcript with it.

import type { RandomBytes } from "../clock.ts";
import { fromBase64url, fromHex, toBase64url } from "./_bytes.ts";
import { IdentityError } from "./errors.ts";

export const TOKEN_PREFIX = "herd";
export const TOKEN_VERSION = 1;
/** Bytes of secret in a new token. */
export const TOKEN_SECRET_BYTES = 32;
/** Fewer secret bytes than this are refused (128 bits). */
export const TOKEN_MIN_SECRET_BYTES = 16;
/** SHA-256: 32 bytes, 64 hex characters. */
export const CA_FINGERPRINT_HEX_LENGTH = 64;

export interface JoinToken {
  version: typeof TOKEN_VERSION;
  /** Lower-case hex SHA-256 of the CA certificate's DER. */
  caFingerprint: string;
  secret: Uint8Array;
}

/** Why a token was refused. Append only. */
export const TokenRefusal = {
  /** Not three parts separated by dots. */
  Malformed: "token-malformed",
  /** Does not start with "herd". */
  WrongPrefix: "token-wrong-prefix",
  /** "herd<N>" with a version this node does not speak. */
  WrongVersion: "token-wrong-version",
  /** The CA hash is not 64 hex characters. */
  BadHash: "token-bad-hash",
  /** The secret is not base64url. */
  BadSecret: "token-bad-secret",
  /** The secret is shorter than TOKEN_MIN_SECRET_BYTES. */
  ShortSecret: "token-short-secret",
} as const;
export type TokenRefusal = typeof TokenRefusal[keyof typeof TokenRefusal];

export type TokenResult =
  | { ok: true; token: JoinToken }
  | { ok: false; reason: TokenRefusal; detail: string };

const HEX64 = /^[0-9a-f]{64}$/;

/** A new token for the CA with this fingerprint (lower-case hex, as `caFingerprint` gives). */
export function makeToken(caFingerprint: string, random: RandomBytes): string {
  const fp = caFingerprint.toLowerCase();
  if (!HEX64.test(fp)) {
    throw new IdentityError(
      `'caFingerprint' must be ${CA_FINGERPRINT_HEX_LENGTH} hex characters: got "${caFingerprint}"`,
    );
  }
  return formatToken({
    version: TOKEN_VERSION,
    caFingerprint: fp,
    secret: random(TOKEN_SECRET_BYTES),
  });
}

export const formatToken = (t: JoinToken): string =>
  `${TOKEN_PREFIX}${t.version}.${t.caFingerprint}.${toBase64url(t.secret)}`;

/** The token with its secret hidden, for logs and error messages. */
export function redactToken(text: string): string {
  const parts = text.trim().split(".");
  return parts.length === 3 ? `${parts[0]}.${parts[1]}.<secret>` : "<token>";
}

/** Parses a token as typed or pasted (surrounding white space is ignored). */
export function parseToken(text: string): TokenResult {
  const refuse = (reason: TokenRefusal, detail: string): TokenResult => ({
    ok: false,
    reason,
    detail,
  });
  const parts = text.trim().split(".");
  if (parts.length !== 3) {
    return refuse(
      TokenRefusal.Malformed,
      `a join token is herd1.<ca-sha256>.<secret>: this one has ${parts.length} part(s)`,
    );
  }
  const [head, hash, secretText] = parts;
  const m = /^herd(\d+)$/.exec(head);
  if (!m) {
    return refuse(TokenRefusal.WrongPrefix, `a join token starts with "herd1.": got "${head}."`);
  }
  if (Number(m[1]) !== TOKEN_VERSION) {
    return refuse(
      TokenRefusal.WrongVersion,
      `token version "${head}" is not supported: this node reads ${TOKEN_PREFIX}${TOKEN_VERSION}`,
    );
  }
  const fp = hash.toLowerCase();
  if (!HEX64.test(fp)) {
    return refuse(
      TokenRefusal.BadHash,
      `the CA hash must be ${CA_FINGERPRINT_HEX_LENGTH} hex characters (SHA-256): got ${hash.length}` +
        (/^[0-9a-fA-F]*$/.test(hash) ? "" : " including non-hex characters"),
    );
  }
  const secret = fromBase64url(secretText);
  if (!secret) return refuse(TokenRefusal.BadSecret, "the secret is not base64url");
  if (secret.length < TOKEN_MIN_SECRET_BYTES) {
    return refuse(
      TokenRefusal.ShortSecret,
      `the secret has ${secret.length} bytes: at least ${TOKEN_MIN_SECRET_BYTES} are needed`,
    );
  }
  return { ok: true, token: { version: TOKEN_VERSION, caFingerprint: fp, secret } };
}

/**
 * Equal length and equal bytes, in time that depends only on the length (lengths are
 * not secret here: MACs, hashes and secrets have fixed sizes).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Whether a CA fingerprint (hex) is the one the token names, compared in constant time. */
export function tokenNamesCa(token: JoinToken, caFingerprint: string): boolean {
  const want = fromHex(token.caFingerprint);
  const got = fromHex(caFingerprint.toLowerCase());
  return !!want && !!got && constantTimeEqual(want, got);
}
