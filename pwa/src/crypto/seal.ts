// Photo seal v2 (crypto/FORMAT.md, CPS1 version 2): HPKE base mode to the hospital's P-256 key
// seals a random payload key; the photo itself is cut into 64 KiB chunks, each sealed with
// AES-256-GCM under nonce = prefix || counter || last flag (the STREAM construction).
// The device seals and never opens; SealOpener / openSeal exist for tests and interop checks.
import { Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from "@hpke/core";
import { concat, sha256, toHex, utf8, uuidBytes, fromHex } from "./bytes.ts";

const MAGIC = utf8("CPS1");
const VERSION = 0x02;
const INFO_LABEL = utf8("clinphoto/seal/v2");
const ENC_LEN = 65;
const TAG_LEN = 16;
const KEY_LEN = 32;
const PREFIX_LEN = 7;
const WRAPPED_LEN = ENC_LEN + KEY_LEN + PREFIX_LEN + TAG_LEN; // 120
export const CHUNK_SIZE = 65536;
const CHUNK_CT_SIZE = CHUNK_SIZE + TAG_LEN;
const KID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** The reasons of crypto/FORMAT.md, the same words as the Python side's CryptoError.reason. */
export type SealReason = "invalid_argument" | "malformed" | "wrong_photo" | "wrong_sequence" | "hash_mismatch" | "unknown_key" | "decrypt_failed";

export class SealError extends Error {
  constructor(readonly code: SealReason, message: string = code) {
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

/** The clear header both seals share: magic, version, kid, UUIDs, SHA-256 (crypto/_sealing.py). */
export function clearHeader(magic: Uint8Array, version: number, kid: string, ids: string[], digest: Uint8Array): Uint8Array<ArrayBuffer> {
  if (!KID_RE.test(kid)) throw new SealError("invalid_argument", "kid must be 1..64 base64url characters");
  if (digest.length !== 32) throw new SealError("invalid_argument", "digest must be 32 bytes");
  const idBytes = ids.map((id) => {
    try {
      return uuidBytes(id);
    } catch {
      throw new SealError("invalid_argument", "ids must be canonical lowercase UUIDs");
    }
  });
  const kidBytes = utf8(kid);
  return concat(magic, new Uint8Array([version, kidBytes.length]), kidBytes, ...idBytes, digest);
}

export interface ClearHeader {
  kid: string;
  ids: string[];
  sha256: string;
  length: number;
}

/** Header length from its first 6 bytes (null while fewer are in); malformed as soon as they are wrong. */
export function clearHeaderLength(blob: Uint8Array, magic: Uint8Array, version: number, uuids: number, what: string): number | null {
  if (blob.length < 6) return null;
  for (let i = 0; i < 4; i++) if (blob[i] !== magic[i]) throw new SealError("malformed", `not a ClinPhoto ${what}`);
  if (blob[4] !== version) throw new SealError("malformed", `unsupported ${what} version`);
  const kidLen = blob[5]!;
  if (kidLen < 1 || kidLen > 64) throw new SealError("malformed", "bad key id length");
  return 6 + kidLen + 16 * uuids + 32;
}

export function parseClearHeader(blob: Uint8Array, magic: Uint8Array, version: number, uuids: number, what: string): ClearHeader {
  const length = blob.length >= 7 + 16 * uuids + 32 ? clearHeaderLength(blob, magic, version, uuids, what) : null;
  if (length === null || blob.length < length) throw new SealError("malformed", `truncated ${what} header`);
  const kidEnd = length - 16 * uuids - 32;
  const kid = String.fromCharCode(...blob.subarray(6, kidEnd));
  if (!KID_RE.test(kid)) throw new SealError("malformed", "key id is not base64url");
  const ids = [];
  for (let at = kidEnd; at < length - 32; at += 16) ids.push(uuidText(blob.subarray(at, at + 16)));
  return { kid, ids, sha256: toHex(blob.subarray(length - 32, length)), length };
}

export function sealHeader(kid: string, photoId: string, sequenceId: string, digest: Uint8Array): Uint8Array<ArrayBuffer> {
  return clearHeader(MAGIC, VERSION, kid, [photoId, sequenceId], digest);
}

export interface Sealed {
  blob: ArrayBuffer;
  sha256: string; // plaintext, lowercase hex
  sealedSha256: string;
  size: number; // plaintext bytes
}

function nonce(prefix: Uint8Array, counter: number, last: boolean): Uint8Array<ArrayBuffer> {
  const n = new Uint8Array(12);
  n.set(prefix, 0);
  new DataView(n.buffer).setUint32(PREFIX_LEN, counter, false);
  n[11] = last ? 1 : 0;
  return n;
}

/** Seal `plaintext` for the hospital. Hashes first; the digest is bound into the HPKE info. */
export async function sealPhoto(plaintext: Uint8Array<ArrayBuffer>, to: SealingKey, photoId: string, sequenceId: string): Promise<Sealed> {
  const digest = await sha256(plaintext);
  const header = sealHeader(to.kid, photoId, sequenceId, digest);
  const secret = crypto.getRandomValues(new Uint8Array(KEY_LEN + PREFIX_LEN));
  const { enc, ct } = await hpke().seal({ recipientPublicKey: to.key, info: concat(INFO_LABEL, header) }, secret);
  if (enc.byteLength !== ENC_LEN || ct.byteLength !== WRAPPED_LEN - ENC_LEN) throw new SealError("malformed", "unexpected HPKE output length");
  const key = await crypto.subtle.importKey("raw", secret.subarray(0, KEY_LEN), "AES-GCM", false, ["encrypt"]);
  const prefix = secret.slice(KEY_LEN);
  secret.fill(0);
  const chunks = Math.max(1, Math.ceil(plaintext.length / CHUNK_SIZE));
  const start = header.length + WRAPPED_LEN;
  const out = new Uint8Array(start + plaintext.length + chunks * TAG_LEN);
  out.set(header, 0);
  out.set(new Uint8Array(enc), header.length);
  out.set(new Uint8Array(ct), header.length + ENC_LEN);
  // every chunk at once: WebCrypto runs them off the main thread
  await Promise.all(
    Array.from({ length: chunks }, async (_, i) => {
      const part = plaintext.subarray(i * CHUNK_SIZE, Math.min(plaintext.length, (i + 1) * CHUNK_SIZE));
      const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce(prefix, i, i === chunks - 1) }, key, part);
      out.set(new Uint8Array(sealed), start + i * CHUNK_CT_SIZE);
    }),
  );
  const blob = out.buffer;
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
  const { kid, ids, sha256, length } = parseClearHeader(blob, MAGIC, VERSION, 2, "seal");
  return { kid, photoId: ids[0]!, sequenceId: ids[1]!, sha256, length };
}

/** A private key the opener may use, under its kid (ECDH P-256, extractable for @hpke/core). */
export interface OpeningKey {
  kid: string;
  key: CryptoKey;
}

export interface ExpectedPhoto {
  photoId: string;
  sequenceId: string;
  sha256: string;
}

/**
 * Tests and interop only: opens a blob as its bytes arrive, with the checks and reasons of
 * crypto/FORMAT.md. `update` returns only plaintext whose chunk tag has been checked; `finalize`
 * opens the last chunk and checks the whole photo's hash. Any failure throws a SealError, and
 * the same one again from every later call.
 */
export class SealOpener {
  private pending = new Uint8Array(0);
  private headerLength: number | null = null;
  private key: CryptoKey | null = null;
  private prefix = new Uint8Array(0);
  private counter = 0;
  private received: Uint8Array[] = [];
  private failure: SealError | null = null;
  private done = false;

  constructor(private readonly keys: OpeningKey[], private readonly expected: ExpectedPhoto) {}

  async update(data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    this.usable();
    try {
      this.pending = concat(this.pending, data);
      if (!this.key && !(await this.takeHead())) return new Uint8Array(0);
      const out: Uint8Array[] = [];
      let at = 0;
      while (this.pending.length - at > CHUNK_CT_SIZE) {
        out.push(await this.openChunk(this.pending.subarray(at, at + CHUNK_CT_SIZE), false));
        at += CHUNK_CT_SIZE;
      }
      this.pending = this.pending.slice(at);
      return concat(...out);
    } catch (e) {
      throw this.fail(e);
    }
  }

  async finalize(): Promise<Uint8Array<ArrayBuffer>> {
    this.usable();
    try {
      if (!this.key && !(await this.takeHead())) throw new SealError("malformed", "truncated seal");
      if (this.pending.length < TAG_LEN) throw new SealError("malformed", "the last chunk is shorter than its tag");
      if (this.pending.length === TAG_LEN && this.counter > 0) throw new SealError("malformed", "an empty last chunk after a full one");
      const last = await this.openChunk(this.pending, true);
      if (toHex(await sha256(concat(...this.received))) !== this.expected.sha256) throw new SealError("hash_mismatch", "plaintext hash differs from the header");
      this.done = true;
      return last;
    } catch (e) {
      throw this.fail(e);
    }
  }

  private usable(): void {
    if (this.failure) throw this.failure;
    if (this.done) throw new SealError("invalid_argument", "this opener is already finalized");
  }

  private fail(e: unknown): SealError {
    this.failure = e instanceof SealError ? e : new SealError("decrypt_failed", String(e));
    this.key = null;
    this.received = [];
    return this.failure;
  }

  private async takeHead(): Promise<boolean> {
    if (this.headerLength === null) {
      const length = clearHeaderLength(this.pending, MAGIC, VERSION, 2, "seal");
      if (length === null || this.pending.length < length) return false;
      const h = parseSealHeader(this.pending);
      if (h.photoId !== this.expected.photoId) throw new SealError("wrong_photo");
      if (h.sequenceId !== this.expected.sequenceId) throw new SealError("wrong_sequence");
      if (h.sha256 !== this.expected.sha256) throw new SealError("hash_mismatch", "header hash differs from the expected one");
      if (!this.keys.some((k) => k.kid === h.kid)) throw new SealError("unknown_key");
      this.headerLength = length;
    }
    const length = this.headerLength;
    if (this.pending.length < length + WRAPPED_LEN) return false;
    const kid = parseSealHeader(this.pending).kid;
    const recipientKey = this.keys.find((k) => k.kid === kid)!.key;
    let secret: Uint8Array<ArrayBuffer>;
    try {
      secret = new Uint8Array(
        await hpke().open(
          { recipientKey, enc: this.pending.slice(length, length + ENC_LEN).buffer, info: concat(INFO_LABEL, this.pending.subarray(0, length)) },
          this.pending.slice(length + ENC_LEN, length + WRAPPED_LEN).buffer,
        ),
      );
    } catch {
      throw new SealError("decrypt_failed", "the payload key does not open");
    }
    this.key = await crypto.subtle.importKey("raw", secret.subarray(0, KEY_LEN), "AES-GCM", false, ["decrypt"]);
    this.prefix = secret.slice(KEY_LEN);
    this.pending = this.pending.slice(length + WRAPPED_LEN);
    return true;
  }

  private async openChunk(chunk: Uint8Array, last: boolean): Promise<Uint8Array<ArrayBuffer>> {
    let plain: Uint8Array<ArrayBuffer>;
    try {
      plain = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce(this.prefix, this.counter, last) }, this.key!, chunk.slice()));
    } catch {
      throw new SealError("decrypt_failed", `chunk ${this.counter} does not open`);
    }
    this.counter++;
    this.received.push(plain);
    return plain;
  }
}

/** Tests and interop only: open a whole blob (SealOpener fed at once). */
export async function openSeal(blob: Uint8Array, keys: OpeningKey[], expected: ExpectedPhoto): Promise<Uint8Array<ArrayBuffer>> {
  const opener = new SealOpener(keys, expected);
  const first = await opener.update(blob);
  return concat(first, await opener.finalize());
}

export { fromHex };
