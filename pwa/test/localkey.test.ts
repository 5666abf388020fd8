import { describe, expect, it } from "vitest";
import { decryptJson, encryptJson, kekFromPin, kekFromPrf, newLocalKey, unwrapLocalKey } from "../src/crypto/localkey.ts";

describe("local key", () => {
  it("wraps under a PIN and refuses a wrong PIN", async () => {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const kek = await kekFromPin("1234", salt, 1000);
    const { wrapped, key } = await newLocalKey(kek);
    const box = await encryptJson(key, { patient: "123456" }, "aad");
    const again = await unwrapLocalKey(await kekFromPin("1234", salt, 1000), wrapped);
    expect(await decryptJson(again, box, "aad")).toEqual({ patient: "123456" });
    await expect(unwrapLocalKey(await kekFromPin("9999", salt, 1000), wrapped)).rejects.toThrow();
    await expect(decryptJson(again, box, "other")).rejects.toThrow();
  });

  it("wraps under a PRF output", async () => {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const prf = crypto.getRandomValues(new Uint8Array(32));
    const { wrapped } = await newLocalKey(await kekFromPrf(prf, salt));
    await expect(unwrapLocalKey(await kekFromPrf(prf, salt), wrapped)).resolves.toBeDefined();
    await expect(unwrapLocalKey(await kekFromPrf(new Uint8Array(32), salt), wrapped)).rejects.toThrow();
  });
});
