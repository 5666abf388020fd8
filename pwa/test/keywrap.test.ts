import { describe, expect, it } from "vitest";
import { unwrapForPerson, newVaultKey, withPerson, wrapForPerson, WrongSecret, type PersonUnlock } from "../src/crypto/keywrap.ts";
import { decryptJson, encryptJson, kekFromPin, newLocalKey, unwrapLocalKey } from "../src/crypto/localkey.ts";

const alice = { id: "0b6c9c55-6f0e-4c43-9a2b-1d8f3e3a0a01", name: "Dr Alice", roles: ["surgeon"] };
const bob = { id: "7d1f2a9e-3b4c-4d5e-8f60-2a1b3c4d5e02", name: "Dr Bob", roles: ["surgeon"] };
const FAST = 1000; // PBKDF2 iterations for tests only; the app uses PIN_ITERATIONS (600,000)

describe("vault key wrapped per person", () => {
  it("opens for each person with their own PIN or passkey PRF, and both give the same vault", async () => {
    const vault = await newVaultKey();
    const box = await encryptJson(vault, { patient: "IPP-0042" }, "summary");
    const prf = crypto.getRandomValues(new Uint8Array(32));
    const prfSalt = crypto.getRandomValues(new Uint8Array(32));
    const a = await wrapForPerson(vault, alice, { method: "pin", pin: "246810", iterations: FAST });
    const b = await wrapForPerson(vault, bob, { method: "prf", prf, credentialId: "Y3JlZA", prfSalt });
    expect(a.method).toBe("pin");
    expect(b.credentialId).toBe("Y3JlZA");
    for (const [entry, secret] of [[a, { pin: "246810" }], [b, { prf }]] as const) {
      const opened = await unwrapForPerson(entry, secret);
      expect(await decryptJson(opened, box, "summary")).toEqual({ patient: "IPP-0042" });
    }
  });

  it("refuses a wrong PIN, another passkey's PRF, and the other kind of secret", async () => {
    const vault = await newVaultKey();
    const a = await wrapForPerson(vault, alice, { method: "pin", pin: "246810", iterations: FAST });
    const b = await wrapForPerson(vault, bob, { method: "prf", prf: new Uint8Array(32).fill(7), credentialId: "x", prfSalt: new Uint8Array(32) });
    await expect(unwrapForPerson(a, { pin: "246811" })).rejects.toBeInstanceOf(WrongSecret);
    await expect(unwrapForPerson(b, { prf: new Uint8Array(32).fill(8) })).rejects.toBeInstanceOf(WrongSecret);
    await expect(unwrapForPerson(a, { prf: new Uint8Array(32) })).rejects.toBeInstanceOf(WrongSecret);
    await expect(unwrapForPerson(b, { pin: "246810" })).rejects.toBeInstanceOf(WrongSecret);
  });

  it("binds each wrapping to its person: moved onto another person's entry it does not open", async () => {
    const vault = await newVaultKey();
    const a = await wrapForPerson(vault, alice, { method: "pin", pin: "246810", iterations: FAST });
    const forged: PersonUnlock = { ...a, personId: bob.id, name: bob.name };
    await expect(unwrapForPerson(forged, { pin: "246810" })).rejects.toBeInstanceOf(WrongSecret);
  });

  it("uses a fresh salt and IV per person, so two people with the same PIN hold different wrappings", async () => {
    const vault = await newVaultKey();
    const a = await wrapForPerson(vault, alice, { method: "pin", pin: "246810", iterations: FAST });
    const b = await wrapForPerson(vault, bob, { method: "pin", pin: "246810", iterations: FAST });
    expect(a.salt).not.toEqual(b.salt);
    expect(new Uint8Array(a.wrapped.ct)).not.toEqual(new Uint8Array(b.wrapped.ct));
  });

  it("re-wraps a vault opened by a person (or by the old device PIN) for the next person without re-encrypting", async () => {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const legacy = await newLocalKey(await kekFromPin("135790", salt, FAST));
    const box = await encryptJson(legacy.key, { note: "kept" });
    const opened = await unwrapLocalKey(await kekFromPin("135790", salt, FAST), legacy.wrapped);
    const a = await wrapForPerson(opened, alice, { method: "pin", pin: "246810", iterations: FAST });
    const asAlice = await unwrapForPerson(a, { pin: "246810" });
    const b = await wrapForPerson(asAlice, bob, { method: "pin", pin: "112233", iterations: FAST });
    expect(await decryptJson(await unwrapForPerson(b, { pin: "112233" }), box)).toEqual({ note: "kept" });
  });

  it("lists people by name, one entry per person", async () => {
    const vault = await newVaultKey();
    const b1 = await wrapForPerson(vault, bob, { method: "pin", pin: "111111", iterations: FAST });
    const a = await wrapForPerson(vault, alice, { method: "pin", pin: "222222", iterations: FAST });
    const b2 = await wrapForPerson(vault, bob, { method: "pin", pin: "333333", iterations: FAST });
    const people = withPerson(withPerson(withPerson([], b1), a), b2);
    expect(people.map((p) => p.name)).toEqual(["Dr Alice", "Dr Bob"]);
    expect(people[1]).toBe(b2);
  });
});
