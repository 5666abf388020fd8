import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fromBase64Url, fromHex, newId, sha256Hex, toHex } from "../src/crypto/bytes.ts";
import { CHUNK_SIZE, importSealingKey, openSeal, parseSealHeader, SealOpener, sealPhoto, type OpeningKey } from "../src/crypto/seal.ts";
import { python, REPO } from "./python.ts";

const TAG = 16;
const WRAPPED = 120;

async function keyPair() {
  const kp = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", kp.publicKey);
  const sealing = await importSealingKey({ ...jwk, kid: "test-kid_1" });
  return { kp, sealing, keys: [{ kid: "test-kid_1", key: kp.privateKey }] as OpeningKey[] };
}

function bytesOf(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + 3) & 0xff;
  return out;
}

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? `not a SealError: ${String(e)}`;
  }
  return "opened";
}

describe("seal", () => {
  it("round-trips every chunk-boundary size, one tag per chunk, and binds the header", async () => {
    const { sealing, keys } = await keyPair();
    for (const n of [0, 6, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE + 5]) {
      const pt = bytesOf(n);
      const photoId = newId();
      const sequenceId = newId();
      const s = await sealPhoto(pt, sealing, photoId, sequenceId);
      const blob = new Uint8Array(s.blob);
      const h = parseSealHeader(blob);
      expect(h).toMatchObject({ kid: "test-kid_1", photoId, sequenceId, sha256: await sha256Hex(pt) });
      expect(blob[4]).toBe(2);
      expect(blob.length).toBe(h.length + WRAPPED + n + Math.max(1, Math.ceil(n / CHUNK_SIZE)) * TAG);
      expect(s.sealedSha256).toBe(await sha256Hex(blob));
      const expected = { photoId, sequenceId, sha256: s.sha256 };
      expect(toHex(await openSeal(blob, keys, expected))).toBe(toHex(pt));
      // swapping the photo id in the header breaks the seal
      const tampered = blob.slice();
      tampered[h.length - 64]! ^= 1; // first byte of the photo id
      expect(await reason(openSeal(tampered, keys, { ...expected, photoId: parseSealHeader(tampered).photoId }))).toBe("decrypt_failed");
      expect(await reason(openSeal(blob, keys, { ...expected, photoId: newId() }))).toBe("wrong_photo");
    }
  });

  it("releases no plaintext of a chunk before its tag is checked, and nothing after a damaged chunk", async () => {
    const { sealing, keys } = await keyPair();
    const pt = bytesOf(2 * CHUNK_SIZE + 300);
    const photoId = newId();
    const sequenceId = newId();
    const s = await sealPhoto(pt, sealing, photoId, sequenceId);
    const blob = new Uint8Array(s.blob);
    const start = parseSealHeader(blob).length + WRAPPED;
    const expected = { photoId, sequenceId, sha256: s.sha256 };
    const opener = new SealOpener(keys, expected);
    let released = 0;
    for (let at = 0; at < blob.length; at += 4000) {
      const out = await opener.update(blob.subarray(at, at + 4000));
      expect(toHex(out)).toBe(toHex(pt.subarray(released, released + out.length)));
      released += out.length;
      const received = Math.min(blob.length, at + 4000) - start;
      expect(released).toBe(Math.max(0, Math.floor((received - 1) / (CHUNK_SIZE + TAG))) * CHUNK_SIZE);
    }
    expect(released + (await opener.finalize()).length).toBe(pt.length);

    const damaged = blob.slice();
    damaged[start + CHUNK_SIZE + TAG + 10]! ^= 1; // inside chunk 1
    const second = new SealOpener(keys, expected);
    let got = 0;
    let code = "opened";
    try {
      for (let at = 0; at < damaged.length; at += 50_000) got += (await second.update(damaged.subarray(at, at + 50_000))).length;
      await second.finalize();
    } catch (e) {
      code = (e as { code: string }).code;
    }
    expect(code).toBe("decrypt_failed");
    expect(got).toBe(CHUNK_SIZE);
    expect(await reason(second.finalize())).toBe("decrypt_failed");
  });

  it("refuses a non-canonical id", async () => {
    const { sealing } = await keyPair();
    expect(await reason(sealPhoto(new Uint8Array(1), sealing, "ABC", newId()))).toBe("invalid_argument");
  });
});

// The vectors are in the repository: a missing or unreadable file fails this file, never skips it.
const doc = JSON.parse(readFileSync(join(REPO, "crypto/vectors/seal-test-vectors.json"), "utf8"));

function vectorPlaintext(c: { plaintext: { hex?: string; pattern_length?: number } }): Uint8Array<ArrayBuffer> {
  if (c.plaintext.hex !== undefined) return fromHex(c.plaintext.hex);
  const out = new Uint8Array(c.plaintext.pattern_length!);
  for (let i = 0; i < out.length; i++) out[i] = i % 251;
  return out;
}

function fromB64(b64: string): Uint8Array<ArrayBuffer> {
  return fromBase64Url(b64.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_"));
}

describe("seal vectors (crypto/vectors/seal-test-vectors.json)", () => {
  // @hpke/core reads the public point back from the private key, so it must be extractable.
  const keys = async (): Promise<OpeningKey[]> => [
    { kid: doc.recipient.kid, key: await crypto.subtle.importKey("pkcs8", fromB64(doc.recipient.pkcs8_b64), { name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]) },
  ];

  it("are version 2 with 64 KiB chunks, and cover the chunk boundaries and every reject", () => {
    expect(doc.version).toBe(2);
    expect(doc.chunk_size).toBe(CHUNK_SIZE);
    expect(doc.cases.length).toBeGreaterThanOrEqual(8);
    expect(doc.rejects.length).toBeGreaterThanOrEqual(15);
  });

  it.each(doc.cases.map((c: any) => [c.name, c]) as [string, any][])("opens %s", async (_name, c: any) => {
    const blob = fromB64(c.blob_b64);
    const h = parseSealHeader(blob);
    expect(h).toMatchObject({ kid: doc.recipient.kid, photoId: c.photo_id, sequenceId: c.sequence_id, sha256: c.plaintext_sha256, length: c.header_length });
    const pt = vectorPlaintext(c);
    expect(blob.length).toBe(h.length + WRAPPED + pt.length + c.chunks * TAG);
    const opened = await openSeal(blob, await keys(), { photoId: c.photo_id, sequenceId: c.sequence_id, sha256: c.plaintext_sha256 });
    expect(opened.length).toBe(pt.length);
    expect(await sha256Hex(opened)).toBe(c.plaintext_sha256);
    expect(toHex(opened) === toHex(pt)).toBe(true);
  });

  it.each(doc.rejects.map((c: any) => [c.name, c]) as [string, any][])("rejects %s with its reason", async (_name, c: any) => {
    const expected = { photoId: c.expected.photo_id, sequenceId: c.expected.sequence_id, sha256: c.expected.plaintext_sha256 };
    expect(await reason(openSeal(fromB64(c.blob_b64), await keys(), expected))).toBe(c.reason);
  });

  it("seals with the vector's public key so that the vector's private key opens it", async () => {
    const sealing = await importSealingKey(doc.recipient.public_jwk);
    for (const c of doc.cases) {
      const pt = vectorPlaintext(c);
      const s = await sealPhoto(pt, sealing, c.photo_id, c.sequence_id);
      expect(s.sha256).toBe(c.plaintext_sha256);
      expect(s.blob.byteLength).toBe(fromB64(c.blob_b64).length);
      expect(toHex(new Uint8Array(s.blob).subarray(0, c.header_length))).toBe(toHex(fromB64(c.blob_b64).subarray(0, c.header_length)));
      const opened = await openSeal(new Uint8Array(s.blob), await keys(), { photoId: c.photo_id, sequenceId: c.sequence_id, sha256: c.plaintext_sha256 });
      expect(await sha256Hex(opened)).toBe(c.plaintext_sha256);
    }
  });
});

describe("interop with the Python crypto package", () => {
  it("blobs sealed here open in Python (one-shot and streamed), and Python blobs open here", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cps-"));
    const keys = JSON.parse(
      python(`
import json, crypto.keys as k
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization as s
priv = ec.generate_private_key(ec.SECP256R1())
open("${dir}/key.pem","wb").write(priv.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))
pkcs8 = priv.private_bytes(s.Encoding.DER, s.PrivateFormat.PKCS8, s.NoEncryption()).hex()
jwk = k.public_jwk(priv.public_key(), use="enc")
print(json.dumps({"jwk": jwk, "pkcs8": pkcs8}))
`),
    );
    expect(keys.jwk.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const sealing = await importSealingKey(keys.jwk);
    const privateKey = await crypto.subtle.importKey("pkcs8", fromHex(keys.pkcs8), { name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
    const sizes = [0, 5000, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 77];
    const sealed = [];
    for (const [i, n] of sizes.entries()) {
      const pt = new Uint8Array(n);
      for (let at = 0; at < n; at += 65536) crypto.getRandomValues(pt.subarray(at, at + 65536));
      const photoId = newId();
      const sequenceId = newId();
      const s = await sealPhoto(pt, sealing, photoId, sequenceId);
      writeFileSync(join(dir, `ts-${i}.bin`), new Uint8Array(s.blob));
      writeFileSync(join(dir, `pt-${i}.bin`), pt);
      sealed.push({ i, photoId, sequenceId, sha256: s.sha256 });
    }
    writeFileSync(join(dir, "sealed.json"), JSON.stringify(sealed));
    const out = JSON.parse(
      python(`
import hashlib, json, crypto.seal as cs
from cryptography.hazmat.primitives import serialization as s
priv = s.load_pem_private_key(open("${dir}/key.pem","rb").read(), None)
out = []
for e in json.load(open("${dir}/sealed.json")):
    blob = open(f"${dir}/ts-{e['i']}.bin","rb").read()
    kid = cs.parse_seal_header(blob).key_id
    expect = dict(photo_id=e["photoId"], sequence_id=e["sequenceId"], plaintext_sha256=e["sha256"])
    pt = cs.open_photo(blob, {kid: priv}, **expect)
    opener = cs.PhotoOpener({kid: priv}, **expect)
    streamed = b"".join(opener.update(blob[a:a + 1000]) for a in range(0, len(blob), 1000)) + opener.finalize()
    assert streamed == pt
    open(f"${dir}/py-{e['i']}.bin","wb").write(cs.seal_photo(pt, priv.public_key(), kid, e["photoId"], e["sequenceId"]))
    out.append(hashlib.sha256(pt).hexdigest())
print(json.dumps(out))
`),
    );
    expect(out).toEqual(sealed.map((e) => e.sha256));
    for (const e of sealed) {
      const pyBlob = new Uint8Array(readFileSync(join(dir, `py-${e.i}.bin`)));
      const opened = await openSeal(pyBlob, [{ kid: keys.jwk.kid, key: privateKey }], e);
      expect(toHex(opened)).toBe(toHex(new Uint8Array(readFileSync(join(dir, `pt-${e.i}.bin`)))));
    }
  });
});
