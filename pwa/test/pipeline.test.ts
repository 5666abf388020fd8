import "fake-indexeddb/auto";
import { describe, expect, it, vi } from "vitest";
import { hasAppSegment } from "../src/capture/strip.ts";
import { captureBytes } from "../src/capture/pipeline.ts";
import { newId, sha256Hex } from "../src/crypto/bytes.ts";
import { importSealingKey, openSeal } from "../src/crypto/seal.ts";
import { Session } from "../src/session/session.ts";
import { Store } from "../src/storage/db.ts";

function jpegWithGps(): Uint8Array<ArrayBuffer> {
  const body = [...new TextEncoder().encode("Exif\0\0GPSLatitude 48.8566")];
  const app1 = [0xff, 0xe1, 0, body.length + 2, ...body];
  return new Uint8Array([0xff, 0xd8, ...app1, 0xff, 0xdb, 0, 4, 1, 2, 0xff, 0xda, 0, 2, 9, 9, 0xff, 0xd9]);
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

describe("capture pipeline", () => {
  it("strips location metadata before hashing, seals, and stores only the sealed blob", async () => {
    const kp = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
    const sealing = await importSealingKey({ ...(await crypto.subtle.exportKey("jwk", kp.publicKey)), kid: "k1" });
    const store = await Store.open(`p-${newId()}`);
    const sequenceId = newId();
    const input = jpegWithGps();
    const r = await captureBytes(input, { store, sealing, sequenceId, view: "frontal", localKey: null });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const blob = new Uint8Array((await store.blob(r.value.photo.id))!);
    expect(new TextDecoder().decode(blob.subarray(0, 4))).toBe("CPS1"); // the photo seal, not the photo
    const opened = await openSeal(blob, [{ kid: "k1", key: kp.privateKey }], { photoId: r.value.photo.id, sequenceId, sha256: r.value.photo.sha256 });
    // no run of the stored picture's bytes is in the clear in what was kept
    for (let at = 0; at + 16 <= opened.length; at += 16) expect(contains(blob, opened.subarray(at, at + 16))).toBe(false);
    expect(hasAppSegment(opened)).toBe(false);
    expect(new TextDecoder().decode(opened)).not.toContain("GPS");
    expect(r.value.photo.sha256).toBe(await sha256Hex(opened));
    expect(r.value.photo.sealedSha256).toBe(await sha256Hex(blob));
    expect(r.value.photo).toMatchObject({ sequenceId, view: "frontal", mime: "image/jpeg", sealedSize: blob.length, size: opened.length });
    const refused = await captureBytes(new Uint8Array([0x89, 0x50, 0x4e, 0x47]), { store, sealing, sequenceId, view: "frontal", localKey: null });
    expect(refused.ok).toBe(false);
    await store.destroy();
  });
});

describe("session", () => {
  it("locks after inactivity and activity keeps it open", async () => {
    vi.useFakeTimers();
    const s = new Session(1000);
    const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt"]);
    s.open(key, { id: "p-alice", name: "Dr Alice" });
    vi.advanceTimersByTime(800);
    s.touch();
    vi.advanceTimersByTime(800);
    expect(s.unlocked).toBe(true);
    vi.advanceTimersByTime(300);
    expect(s.unlocked).toBe(false);
    expect(s.localKey).toBeNull();
    vi.useRealTimers();
  });
});
