import assert from "node:assert/strict";
import { seededRandom } from "../../../core/clock.ts";
import {
  constantTimeEqual,
  makeToken,
  parseToken,
  redactToken,
  TOKEN_SECRET_BYTES,
  tokenNamesCa,
  TokenRefusal,
} from "../../../core/identity/token.ts";

const FP = "9f".repeat(32);

Deno.test("a token round-trips: herd1.<sha256 hex>.<base64url secret>", () => {
  const text = makeToken(FP.toUpperCase(), seededRandom(1));
  assert.match(text, /^herd1\.[0-9a-f]{64}\.[A-Za-z0-9_-]{43}$/);
  const r = parseToken(`  ${text}\n`);
  assert.ok(r.ok);
  assert.equal(r.token.caFingerprint, FP);
  assert.equal(r.token.secret.length, TOKEN_SECRET_BYTES);
  assert.deepEqual(r.token.secret, seededRandom(1)(TOKEN_SECRET_BYTES));
  assert.ok(tokenNamesCa(r.token, FP));
  assert.ok(!tokenNamesCa(r.token, "00".repeat(32)));
  assert.equal(redactToken(text), `herd1.${FP}.<secret>`);
});

Deno.test("malformed tokens are refused with their reason", () => {
  const secret = "A".repeat(43);
  const cases: [string, string, RegExp][] = [
    ["", TokenRefusal.Malformed, /1 part/],
    [`herd1.${FP}`, TokenRefusal.Malformed, /2 part/],
    [`herd1.${FP}.${secret}.x`, TokenRefusal.Malformed, /4 part/],
    [`K10.${FP}.${secret}`, TokenRefusal.WrongPrefix, /starts with "herd1\."/],
    [`herdx.${FP}.${secret}`, TokenRefusal.WrongPrefix, /herdx/],
    [`herd2.${FP}.${secret}`, TokenRefusal.WrongVersion, /"herd2" is not supported/],
    [`herd0.${FP}.${secret}`, TokenRefusal.WrongVersion, /herd0/],
    [`herd1.${FP.slice(2)}.${secret}`, TokenRefusal.BadHash, /got 62$/],
    [`herd1.${"zz".repeat(32)}.${secret}`, TokenRefusal.BadHash, /non-hex/],
    [`herd1.${FP}.not+base64url`, TokenRefusal.BadSecret, /base64url/],
    [`herd1.${FP}.${"A".repeat(20)}`, TokenRefusal.ShortSecret, /15 bytes: at least 16/],
    [`herd1.${FP}.`, TokenRefusal.ShortSecret, /0 bytes/],
  ];
  for (const [text, reason, detail] of cases) {
    const r = parseToken(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) {
      assert.equal(r.reason, reason, text);
      assert.match(r.detail, detail, text);
      assert.ok(!r.detail.includes(secret), "a refusal never repeats the secret");
    }
  }
});

Deno.test("makeToken refuses a fingerprint that is not SHA-256 hex", () => {
  assert.throws(() => makeToken("abc", seededRandom(1)), /'caFingerprint' must be 64 hex/);
});

Deno.test("constant-time equality", () => {
  const a = Uint8Array.of(1, 2, 3);
  assert.ok(constantTimeEqual(a, Uint8Array.of(1, 2, 3)));
  assert.ok(!constantTimeEqual(a, Uint8Array.of(1, 2, 4)));
  assert.ok(!constantTimeEqual(a, Uint8Array.of(1, 2)));
  assert.ok(constantTimeEqual(new Uint8Array(), new Uint8Array()));
});
