// Photo seal v1 (crypto/FORMAT.md): HPKE base mode to the hospital's P-256 key.
// The device seals and never opens; openSeal exists for tests and interop checks only.
import { Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from "@hpke/core";
import { concat, sha256, toHex, utf8, uuidBytes, fromHex } from "./bytes.ts";

const MAGIC = utf8("CPS1");
const VERSION = 0x01;
const INFO_LABEL = utf8("clinphoto/seal/v1");
const ENC_LEN = 65;
const KID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export class SealError extends Error {
  constructor(readonly code: "invalid_argument" | "malformed" | "open_failed", message: string) {
    super(message);
  }
}

let suite: CipherSuite | undefined;
export function hpke(): CipherSuite {
  suite ??= new CipherSuite({ kem: new DhkemP256HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
  return suite;
}

export interface SealingKey {
  kid: string;
  key: CryptoKey; // ECDH P-256 public key
}

export async function importSealingKey(jwk: JsonWebKey & { kid?: string }): Promise<SealingKey> {
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.kid) throw new SealError("invalid_argument", "sealing key must be an EC P-256 JWK with a kid");
  const { kty, crv, x, y } = jwk;
  const key = await crypto.subtle.importKey("jwk", { kty, crv, x, y }, { name: "ECDH", namedCurve: "P-256" }, true, []);
  return { kid: jwk.kid, key };
}

export function sealHeader(kid: string, photoId: string, sequenceId: string, digest: Uint8Array): Uint8Array<ArrayBuffer> {
  if (!KID_RE.test(kid)) throw new SealError("invalid_argument", "kid must be 1..64 base64url characters");
  if (digest.length !== 32) throw new SealError("invalid_argument", "digest must be 32 bytes");
  const kidBytes = utf8(kid);
  return concat(MAGIC, new Uint8Array([VERSION, kidBytes.length]), kidBytes, uuidBytes(photoId), uuidBytes(sequenceId), digest);
}

export interface Sealed {
  blob: ArrayBuffer;
  sha256: string; // plaintext, lowercase hex
  sealedSha256: string;
  size: number; // plaintext bytes
}

/** Seal `plaintext` for the hospital. Hashes first; the digest is bound into the HPKE info. */
export async function sealPhoto(plaintext: Uint8Array<ArrayBuffer>, to: SealingKey, photoId: string, sequenceId: string): Promise<Sealed> {
  const digest = await sha256(plaintext);
  const header = sealHeader(to.kid, photoId, sequenceId, digest);
  const { enc, ct } = await hpke().seal({ recipientPublicKey: to.key, info: concat(INFO_LABEL, header) }, plaintext);
  if (enc.byteLength !== ENC_LEN) throw new SealError("malformed", "unexpected enc length");
  const blob = concat(header, new Uint8Array(enc), new Uint8Array(ct)).buffer;
  return { blob, sha256: toHex(digest), sealedSha256: toHex(await sha256(blob)), size: plaintext.length };
}

export interface SealHeaderFields {
  kid: string;
  photoId: string;
  sequenceId: string;
  sha256: string;
  length: number;
}

export function uuidText(bytes: Uint8Array): string {
  const h = toHex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function parseSealHeader(blob: Uint8Array): SealHeaderFields {
  if (blob.length < 71 || toHex(blob.subarray(0, 4)) !== toHex(MAGIC)) throw new SealError("malformed", "not a ClinPhoto seal");
  if (blob[4] !== VERSION) throw new SealError("malformed", "unsupported seal version");
  const kidLen = blob[5]!;
  const length = 6 + kidLen + 64;
  if (kidLen < 1 || kidLen > 64 || blob.length < length) throw new SealError("malformed", "bad header");
  const kid = new TextDecoder().decode(blob.subarray(6, 6 + kidLen));
  const at = 6 + kidLen;
  return {
    kid,
    photoId: uuidText(blob.subarray(at, at + 16)),
    sequenceId: uuidText(blob.subarray(at + 16, at + 32)),
    sha256: toHex(blob.subarray(at + 32, at + 64)),
    length,
  };
}

/** Tests and interop only: open a blob with the hospital's private key (ECDH P-256, PKCS#8). */
export async function openSeal(
  blob: Uint8Array<ArrayBuffer>,
  privateKey: CryptoKey,
  expected?: { photoId: string; sequenceId: string; sha256: string },
): Promise<Uint8Array<ArrayBuffer>> {
  const h = parseSealHeader(blob);
  if (expected && (expected.photoId !== h.photoId || expected.sequenceId !== h.sequenceId || expected.sha256 !== h.sha256)) {
    throw new SealError("open_failed", "the blob is not the photo expected");
  }
  const header = blob.slice(0, h.length);
  const enc = blob.slice(h.length, h.length + ENC_LEN);
  const ct = blob.slice(h.length + ENC_LEN);
  let pt: ArrayBuffer;
  try {
    pt = await hpke().open({ recipientKey: privateKey, enc: enc.buffer, info: concat(INFO_LABEL, header) }, ct.buffer);
  } catch {
    throw new SealError("open_failed", "seal does not open");
  }
  const out = new Uint8Array(pt);
  if (toHex(await sha256(out)) !== h.sha256) throw new SealError("open_failed", "plaintext hash mismatch");
  return out;
}

export { fromHex };
