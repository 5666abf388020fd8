// Signed receipts: Ed25519 over JCS(receipt), checked against the pinned signing key.
import { fromBase64Url, utf8 } from "./bytes.ts";
import { canonicalize } from "./jcs.ts";

export interface SignedDocument<T = unknown> {
  receipt: T;
  signature: { alg: string; kid: string; sig: string };
}

export async function importSigningKey(jwk: JsonWebKey): Promise<CryptoKey> {
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || !jwk.x) throw new Error("signing key must be an Ed25519 OKP JWK");
  return crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x }, { name: "Ed25519" }, false, ["verify"]);
}

export async function verifyEd25519(key: CryptoKey, message: Uint8Array<ArrayBuffer>, sigB64Url: string): Promise<boolean> {
  let sig: Uint8Array<ArrayBuffer>;
  try {
    sig = fromBase64Url(sigB64Url);
  } catch {
    return false;
  }
  if (sig.length !== 64) return false;
  return crypto.subtle.verify({ name: "Ed25519" }, key, sig, message);
}

/** True when `doc.signature` is a valid Ed25519 signature by `key` (whose kid is `kid`) over JCS(doc.receipt). */
export async function verifySignedReceipt(doc: SignedDocument, key: CryptoKey, kid: string): Promise<boolean> {
  if (!doc || typeof doc !== "object" || !doc.signature || doc.signature.alg !== "Ed25519") return false;
  if (doc.signature.kid !== kid) return false;
  return verifyEd25519(key, utf8(canonicalize(doc.receipt)), doc.signature.sig);
}
