import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fromBase64Url, fromHex, newId, sha256Hex, toHex } from "../src/crypto/bytes.ts";
import { importSealingKey, openSeal, parseSealHeader, sealPhoto } from "../src/crypto/seal.ts";
import { havePython, python, REPO } from "./python.ts";

async function keyPair() {
  const kp = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", kp.publicKey);
  return { kp, sealing: await importSealingKey({ ...jwk, kid: "test-kid_1" }) };
}

describe("seal", () => {
  it("round-trips and binds the header", async () => {
    const { kp, sealing } = await keyPair();
    const pt = new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3]);
    const photoId = newId();
    const sequenceId = newId();
    const s = await sealPhoto(pt, sealing, photoId, sequenceId);
    const blob = new Uint8Array(s.blob);
    const h = parseSealHeader(blob);
    expect(h).toMatchObject({ kid: "test-kid_1", photoId, sequenceId, sha256: await sha256Hex(pt) });
    expect(blob.length).toBe(h.length + 65 + pt.length + 16);
    expect(s.sealedSha256).toBe(await sha256Hex(blob));
    expect(toHex(await openSeal(blob, kp.privateKey))).toBe(toHex(pt));
    // swapping the photo id in the header breaks the seal
    const tampered = blob.slice();
    tampered[h.length - 64]! ^= 1; // first byte of the photo id
    await expect(openSeal(tampered, kp.privateKey)).rejects.toThrow();
  });

  it("refuses a non-canonical id", async () => {
    const { sealing } = await keyPair();
    await expect(sealPhoto(new Uint8Array(1), sealing, "ABC", newId())).rejects.toThrow();
  });
});

const vectorFile = join(REPO, "crypto/vectors/seal-test-vectors.json");

describe.skipIf(!existsSync(vectorFile))("seal vectors (crypto/vectors/seal-test-vectors.json)", () => {
  const doc = existsSync(vectorFile) ? JSON.parse(readFileSync(vectorFile, "utf8")) : { cases: [], rejects: [] };
  // @hpke/core reads the public point back from the private key, so it must be extractable.
  const privateKey = () =>
    crypto.subtle.importKey("pkcs8", fromB64(doc.recipient.pkcs8_b64), { name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);

  it.each(doc.cases.map((c: any) => [c.name, c]) as [string, any][])("opens %s", async (_name, c: any) => {
    const blob = fromHex(c.blob);
    const h = parseSealHeader(blob);
    expect(h).toMatchObject({ kid: doc.recipient.kid, photoId: c.photo_id, sequenceId: c.sequence_id, sha256: c.plaintext_sha256 });
    if (c.header_length) expect(h.length).toBe(c.header_length);
    expect(toHex(await openSeal(blob, await privateKey()))).toBe(c.plaintext);
  });

  it.each(doc.rejects.map((c: any) => [c.name, c]) as [string, any][])("rejects %s", async (_name, c: any) => {
    const as = doc.cases.find((x: any) => x.name === c.expect_as);
    const expected = { photoId: as.photo_id, sequenceId: as.sequence_id, sha256: as.plaintext_sha256 };
    await expect(openSeal(fromHex(c.blob), await privateKey(), expected)).rejects.toThrow();
  });

  it("seals with the vector's public key so that the vector's private key opens it", async () => {
    const sealing = await importSealingKey(doc.recipient.public_jwk);
    const c = doc.cases[0];
    const s = await sealPhoto(fromHex(c.plaintext), sealing, c.photo_id, c.sequence_id);
    expect(s.sha256).toBe(c.plaintext_sha256);
    expect(toHex(new Uint8Array(s.blob).subarray(0, c.header_length))).toBe(c.blob.slice(0, c.header_length * 2));
    expect(toHex(await openSeal(new Uint8Array(s.blob), await privateKey()))).toBe(c.plaintext);
  });
});

function fromB64(b64: string): Uint8Array<ArrayBuffer> {
  return fromBase64Url(b64.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_"));
}

describe.skipIf(!havePython)("interop with the Python crypto package", () => {
  it("a blob sealed here opens in Python, and a Python blob opens here", async () => {
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
    const pt = crypto.getRandomValues(new Uint8Array(5000));
    pt.set([0xff, 0xd8, 0xff]);
    const photoId = newId();
    const sequenceId = newId();
    const s = await sealPhoto(pt, sealing, photoId, sequenceId);
    writeFileSync(join(dir, "blob.bin"), new Uint8Array(s.blob));
    const out = python(`
import hashlib, crypto.seal as cs
from cryptography.hazmat.primitives import serialization as s
priv = s.load_pem_private_key(open("${dir}/key.pem","rb").read(), None)
blob = open("${dir}/blob.bin","rb").read()
kid = cs.parse_seal_header(blob).key_id
pt = cs.open_photo(blob, {kid: priv}, photo_id="${photoId}", sequence_id="${sequenceId}", plaintext_sha256="${s.sha256}")
print(hashlib.sha256(pt).hexdigest())
open("${dir}/py.bin","wb").write(cs.seal_photo(pt, priv.public_key(), kid, "${photoId}", "${sequenceId}"))
`).trim();
    expect(out).toBe(s.sha256);
    const key = await crypto.subtle.importKey("pkcs8", fromHex(keys.pkcs8), { name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
    const pyBlob = new Uint8Array(readFileSync(join(dir, "py.bin")));
    expect(toHex(await openSeal(pyBlob, key))).toBe(toHex(pt));
  });
});
