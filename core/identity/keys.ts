// A node's own key pair: ECDSA P-256, made with WebCrypto (no library). The private
// key is kept as PKCS#8 PEM (what `Deno.QuicEndpoint.listen({ key })` takes) and used
// as a non-extractable CryptoKey to sign connection proofs and join requests.

import { own, pemDecode, pemEncode } from "./_bytes.ts";
import { IdentityError } from "./errors.ts";

export const EC_KEY = { name: "ECDSA", namedCurve: "P-256" } as const;
export const ECDSA_SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;

export interface NodeKey {
  /** Signs proofs; not extractable. */
  privateKey: CryptoKey;
  /** PKCS#8 PEM ("PRIVATE KEY"): store it with mode 0600; give it to the QUIC listener. */
  privateKeyPem: string;
  /** SubjectPublicKeyInfo PEM ("PUBLIC KEY"): what the CA certifies. */
  publicKeySpkiPem: string;
  /** The same public key as DER. */
  publicKeySpki: Uint8Array<ArrayBuffer>;
}

export async function generateNodeKey(): Promise<NodeKey> {
  const pair = await crypto.subtle.generateKey(EC_KEY, true, ["sign", "verify"]);
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  return {
    privateKey: await importPkcs8(pkcs8),
    privateKeyPem: pemEncode("PRIVATE KEY", pkcs8),
    publicKeySpkiPem: pemEncode("PUBLIC KEY", spki),
    publicKeySpki: spki,
  };
}

async function importPkcs8(der: Uint8Array): Promise<CryptoKey> {
  return await crypto.subtle.importKey("pkcs8", own(der), EC_KEY, false, ["sign"]);
}

/** A stored node key back from its PEM; throws IdentityError if it is not a P-256 key. */
export async function loadNodeKey(privateKeyPem: string): Promise<NodeKey> {
  const der = pemDecode(privateKeyPem, "PRIVATE KEY");
  if (!der) throw new IdentityError("the node key is not a PKCS#8 PEM private key");
  try {
    // Re-derive the public half through a JWK round trip (WebCrypto has no direct way).
    const full = await crypto.subtle.importKey("pkcs8", der, EC_KEY, true, ["sign"]);
    const jwk = await crypto.subtle.exportKey("jwk", full);
    delete jwk.d;
    jwk.key_ops = ["verify"];
    const pub = await crypto.subtle.importKey("jwk", jwk, EC_KEY, true, ["verify"]);
    const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pub));
    return {
      privateKey: await importPkcs8(der),
      privateKeyPem,
      publicKeySpkiPem: pemEncode("PUBLIC KEY", spki),
      publicKeySpki: spki,
    };
  } catch (e) {
    throw new IdentityError("the node key is not an ECDSA P-256 key", { cause: e });
  }
}

/** A P-256 public key for verifying, from SPKI DER; undefined if it is anything else. */
export async function importPublicKey(spki: Uint8Array): Promise<CryptoKey | undefined> {
  try {
    return await crypto.subtle.importKey("spki", own(spki), EC_KEY, false, ["verify"]);
  } catch {
    return undefined;
  }
}
