// The local key: AES-GCM key for previews and the patient list, kept in IndexedDB only wrapped
// by a key-encryption key that comes from a passkey (WebAuthn PRF) or a PIN (PBKDF2-SHA256).
import { concat, fromUtf8, utf8 } from "./bytes.ts";

export const PIN_ITERATIONS = 600_000;
const PRF_INFO = utf8("clinphoto/unlock/v1");

export interface Wrapped {
  iv: Uint8Array<ArrayBuffer>;
  ct: ArrayBuffer;
}

export async function kekFromPin(pin: string, salt: Uint8Array<ArrayBuffer>, iterations = PIN_ITERATIONS): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", utf8(pin), "PBKDF2", false, ["deriveKey"]);
  return crypto.subtle.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

export async function kekFromPrf(prfOutput: BufferSource, salt: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", prfOutput, "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt, info: PRF_INFO }, base, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

/** A fresh local key: the raw bytes wrapped under `kek`, and the usable non-extractable key. */
export async function newLocalKey(kek: CryptoKey): Promise<{ wrapped: Wrapped; key: CryptoKey }> {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const wrapped = await encrypt(kek, raw);
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", true, ["encrypt", "decrypt"]); // extractable: wrapped for a person added later (keywrap.ts)
  raw.fill(0);
  return { wrapped, key };
}

/** Unwrap the local key; throws when the KEK is wrong (bad PIN, other passkey). */
export async function unwrapLocalKey(kek: CryptoKey, wrapped: Wrapped): Promise<CryptoKey> {
  const raw = new Uint8Array(await decrypt(kek, wrapped));
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", true, ["encrypt", "decrypt"]); // extractable: wrapped for a person added later (keywrap.ts)
  raw.fill(0);
  return key;
}

export async function encrypt(key: CryptoKey, data: BufferSource, aad?: Uint8Array<ArrayBuffer>): Promise<Wrapped> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(aad ? { name: "AES-GCM", iv, additionalData: aad } : { name: "AES-GCM", iv }, key, data);
  return { iv, ct };
}

export async function decrypt(key: CryptoKey, w: Wrapped, aad?: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer> {
  return crypto.subtle.decrypt(aad ? { name: "AES-GCM", iv: w.iv, additionalData: aad } : { name: "AES-GCM", iv: w.iv }, key, w.ct);
}

export async function encryptJson(key: CryptoKey, value: unknown, aad?: string): Promise<Wrapped> {
  return encrypt(key, utf8(JSON.stringify(value)), aad === undefined ? undefined : utf8(aad));
}

export async function decryptJson<T>(key: CryptoKey, w: Wrapped, aad?: string): Promise<T> {
  return JSON.parse(fromUtf8(await decrypt(key, w, aad === undefined ? undefined : utf8(aad)))) as T;
}

export { concat };
