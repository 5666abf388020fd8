import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fromBase64Url, fromHex, newId, sha256Hex, toBase64Url, utf8 } from "../src/crypto/bytes.ts";
import { openForm, parseFormSealHeader, sealForm, type SequenceForm } from "../src/crypto/formseal.ts";
import { canonicalize } from "../src/crypto/jcs.ts";
import { importSealingKey, openSeal, sealPhoto } from "../src/crypto/seal.ts";
import { python, REPO } from "./python.ts";

async function keyPair() {
  const kp = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", kp.publicKey);
  return { kp, sealing: await importSealingKey({ ...jwk, kid: "test-kid_1" }) };
}

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? `not a SealError: ${String(e)}`;
  }
  return "opened";
}

const form = (sequenceId: string): SequenceForm => ({
  sequence_id: sequenceId, patient_id: "12345678", procedure: "rhinoplasty", timing: { phase: "post_op", delay_days: 30 }, note: "été €",
});

describe("form seal", () => {
  it("round-trips, binds sequence and canonical hash, hides the patient", async () => {
    const { kp, sealing } = await keyPair();
    const seq = newId();
    const s = await sealForm(form(seq), sealing);
    expect(s.sequenceId).toBe(seq);
    const blob = fromBase64Url(s.sealed);
    const h = parseFormSealHeader(blob);
    expect(h).toMatchObject({ kid: "test-kid_1", sequenceId: seq, sha256: await sha256Hex(utf8(canonicalize(form(seq)))) });
    expect(new TextDecoder().decode(blob)).not.toContain("12345678");
    expect(await openForm(blob, kp.privateKey, seq)).toEqual(form(seq));
    expect(await reason(openForm(blob, kp.privateKey, newId()))).toBe("wrong_sequence");
    const tampered = blob.slice();
    tampered[tampered.length - 3]! ^= 1;
    expect(await reason(openForm(tampered, kp.privateKey, seq))).toBe("decrypt_failed");
  });

  it("is not a photo seal, and a photo seal is not a form", async () => {
    const { kp, sealing } = await keyPair();
    const seq = newId();
    const formBlob = fromBase64Url((await sealForm(form(seq), sealing)).sealed);
    const keys = [{ kid: "test-kid_1", key: kp.privateKey }];
    const photoId = newId();
    expect(await reason(openSeal(formBlob, keys, { photoId, sequenceId: seq, sha256: await sha256Hex(utf8(canonicalize(form(seq)))) }))).toBe("malformed");
    const photo = await sealPhoto(utf8(canonicalize(form(seq))), sealing, photoId, seq);
    expect(await reason(openForm(new Uint8Array(photo.blob), kp.privateKey, seq))).toBe("malformed");
  });

  it("refuses a non-canonical sequence id", async () => {
    const { sealing } = await keyPair();
    expect(await reason(sealForm({ ...form(newId()), sequence_id: "ABC" }, sealing))).toBe("invalid_argument");
  });
});

// The vectors are in the repository: a missing or unreadable file fails this file, never skips it.
const doc = JSON.parse(readFileSync(join(REPO, "crypto/vectors/form-seal-test-vectors.json"), "utf8"));

describe("form seal vectors (crypto/vectors/form-seal-test-vectors.json)", () => {
  it("have cases and rejects", () => {
    expect(doc.cases.length).toBeGreaterThanOrEqual(2);
    expect(doc.rejects.length).toBeGreaterThanOrEqual(5);
  });
  const privateKey = () =>
    crypto.subtle.importKey("pkcs8", fromB64(doc.recipient.pkcs8_b64), { name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);

  it.each(doc.cases.map((c: any) => [c.name, c]) as [string, any][])("opens %s", async (_name, c: any) => {
    const blob = fromHex(c.blob);
    expect(parseFormSealHeader(blob)).toMatchObject({ kid: doc.recipient.kid, sequenceId: c.sequence_id, sha256: c.plaintext_sha256, length: c.header_length });
    expect(canonicalize(c.form)).toBe(c.canonical);
    expect(await openForm(blob, await privateKey(), c.sequence_id)).toEqual(c.form);
  });

  it.each(doc.rejects.map((c: any) => [c.name, c]) as [string, any][])("rejects %s with its reason", async (_name, c: any) => {
    const as = doc.cases.find((x: any) => x.name === c.expect_as);
    expect(await reason(openForm(fromHex(c.blob), await privateKey(), as.sequence_id))).toBe(c.reason);
  });

  it("seals with the vector's public key so that the vector's private key opens it, same header", async () => {
    const c = doc.cases[0];
    const s = await sealForm(c.form, await importSealingKey(doc.recipient.public_jwk));
    const blob = fromBase64Url(s.sealed);
    expect(toBase64Url(blob.subarray(0, c.header_length))).toBe(toBase64Url(fromHex(c.blob).subarray(0, c.header_length)));
    expect(await openForm(blob, await privateKey(), c.sequence_id)).toEqual(c.form);
  });
});

function fromB64(b64: string): Uint8Array<ArrayBuffer> {
  return fromBase64Url(b64.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_"));
}

describe("form seal interop with the Python crypto package", () => {
  it("a form sealed here opens in Python (and passes the sequence schema), and a Python form opens here", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cpf-"));
    const keys = JSON.parse(
      python(`
import json, crypto.keys as k
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization as s
priv = ec.generate_private_key(ec.SECP256R1())
open("${dir}/key.pem","wb").write(priv.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))
print(json.dumps({"jwk": k.public_jwk(priv.public_key(), use="enc"), "pkcs8": priv.private_bytes(s.Encoding.DER, s.PrivateFormat.PKCS8, s.NoEncryption()).hex()}))
`),
    );
    const seq = newId();
    const full: SequenceForm = {
      sequence_id: seq, patient_id: "IPP-0042", performed_on: "2026-11-27", procedure: "rhinoplasty", anatomical_region: "nose",
      laterality: "not_applicable", timing: { phase: "post_op", delay_days: 30 }, consent: "record", view_protocol: "rhinoplasty",
      surgeon: "Dr Élise Martin", note: "Ligne 1\nligne 2 \"€\"", created_at: new Date().toISOString(),
    };
    const s = await sealForm(full, await importSealingKey(keys.jwk));
    writeFileSync(join(dir, "form.txt"), s.sealed);
    const out = JSON.parse(
      python(`
import json, crypto
from cryptography.hazmat.primitives import serialization as s
from sync_server.protocol.schemas import validate
priv = s.load_pem_private_key(open("${dir}/key.pem","rb").read(), None)
blob = crypto.b64url_decode(open("${dir}/form.txt").read())
kid = crypto.parse_form_seal_header(blob).key_id
form = crypto.open_form(blob, {kid: priv}, sequence_id="${seq}")
open("${dir}/py.bin","wb").write(crypto.seal_form(form, priv.public_key(), kid))
print(json.dumps({"form": form, "violations": [v.path for v in validate("sequence", form)]}))
`),
    );
    expect(out).toEqual({ form: full, violations: [] });
    const key = await crypto.subtle.importKey("pkcs8", fromHex(keys.pkcs8), { name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
    expect(await openForm(new Uint8Array(readFileSync(join(dir, "py.bin"))), key, seq)).toEqual(full);
  });
});
