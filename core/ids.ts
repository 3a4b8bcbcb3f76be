// Identifiers. Job ids sort by creation time (so KV lists jobs oldest first) and
// are lower-case base32, safe in URLs, file names and DNS labels.

import type { RandomBytes } from "./clock.ts";

const B32 = "0123456789abcdefghjkmnpqrstvwxyz";

function base32(value: bigint, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) {
    out = B32[Number(value & 31n)] + out;
    value >>= 5n;
  }
  return out;
}

function randomBigint(bytes: Uint8Array): bigint {
  return bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

/** 16 characters: 9 of milliseconds since the epoch, 7 random (35 bits). */
export function newJobId(nowMs: number, random: RandomBytes): string {
  return base32(BigInt(nowMs), 9) + base32(randomBigint(random(5)), 7);
}

/** 16 characters, random (80 bits): a node id, also a DNS label in its certificate. */
export function newNodeId(random: RandomBytes): string {
  return base32(randomBigint(random(10)), 16);
}

export const JOB_ID_PATTERN = /^[0-9a-z]{16}$/;
