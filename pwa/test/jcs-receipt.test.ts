import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fromHex, utf8 } from "../src/crypto/bytes.ts";
import { canonicalize } from "../src/crypto/jcs.ts";
import { importSigningKey, verifyEd25519, verifySignedReceipt } from "../src/crypto/receipt.ts";
import { REPO } from "./python.ts";

const jcs = JSON.parse(readFileSync(join(REPO, "crypto/vectors/jcs-vectors.json"), "utf8"));
const signing = JSON.parse(readFileSync(join(REPO, "crypto/vectors/signing-test-vectors.json"), "utf8"));

describe("RFC 8785 canonical JSON", () => {
  it.each(jcs.documents.map((d: any) => [d.name, d]) as [string, any][])("canonicalizes %s", (_n, d: any) => {
    expect(canonicalize(JSON.parse(d.input))).toBe(d.output);
  });
  it.each(jcs.numbers.map((n: any) => [n.ieee754_hex, n]) as [string, any][])("serializes the double %s", (_h, n: any) => {
    const value = new DataView(fromHex(n.ieee754_hex).buffer).getFloat64(0, false);
    expect(canonicalize(value)).toBe(n.text);
  });
});

describe("Ed25519 signatures over JCS", () => {
  it.each(signing.cases.map((c: any) => [c.name, c]) as [string, any][])("verifies %s and refuses a tampered copy", async (_n, c: any) => {
    expect(canonicalize(c.document)).toBe(c.canonical);
    const key = await importSigningKey(c.public_jwk);
    expect(await verifyEd25519(key, utf8(c.canonical), c.signature.sig)).toBe(true);
    const doc = { receipt: c.document, signature: c.signature };
    expect(await verifySignedReceipt(doc, key, c.public_jwk.kid)).toBe(true);
    expect(await verifySignedReceipt({ ...doc, receipt: { ...c.document, batch_id: "x" } }, key, c.public_jwk.kid)).toBe(false);
    expect(await verifySignedReceipt(doc, key, "another-kid")).toBe(false);
    expect(await verifySignedReceipt({ ...doc, signature: { ...c.signature, sig: (c.signature.sig[0] === "A" ? "B" : "A") + c.signature.sig.slice(1) } }, key, c.public_jwk.kid)).toBe(false);
  });
});
