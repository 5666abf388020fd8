import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { newId } from "../src/crypto/bytes.ts";
import { newVaultKey, wrapForPerson } from "../src/crypto/keywrap.ts";
import { afterFailure, mayTry, type PinGuard } from "../src/session/pinguard.ts";
import { Store } from "../src/storage/db.ts";

const box = { iv: new Uint8Array(12), ct: new ArrayBuffer(4) };

describe("PIN attempts are limited", () => {
  it("lets 4 wrong PINs go, then makes the user wait (doubling), and forgets the key at the 10th", () => {
    let g: PinGuard = { failures: 0 };
    let now = 1_000_000;
    const waits: number[] = [];
    for (let i = 1; i <= 10; i++) {
      expect(mayTry(g, now).kind).toBe("ok");
      const r = afterFailure(g, now);
      g = r.guard;
      expect(r.attemptsLeft).toBe(10 - i);
      expect(r.forget).toBe(i === 10);
      const v = mayTry(g, now);
      waits.push(v.kind === "wait" ? v.ms : 0);
      now += v.kind === "wait" ? v.ms : 0; // the injected clock moves on; no test waits
    }
    expect(waits).toEqual([0, 0, 0, 0, 30_000, 60_000, 120_000, 240_000, 480_000, 0]);
  });

  it("forgets only what the PIN protects: sealed photos and forms stay for sync", async () => {
    const store = await Store.open(`t-${newId()}`);
    const seqId = newId();
    await store.addSequence({ id: seqId, createdAt: "2026-01-01T00:00:00Z", expectedViews: [], sealedForm: "Q1BGMQ", summary: box });
    const photo = { id: newId(), sequenceId: seqId, view: "frontal", capturedAt: "2026-01-01T00:10:00Z", mime: "image/jpeg", sha256: "a".repeat(64), sealedSha256: "b".repeat(64), sealedSize: 3, size: 3 };
    await store.addPhoto(photo, new Uint8Array([1, 2, 3]).buffer, { photoId: photo.id, sequenceId: seqId, box, createdAt: "x" });
    const vault = await newVaultKey();
    await store.putPeople([await wrapForPerson(vault, { id: newId(), name: "Dr Alice", roles: ["surgeon"] }, { method: "pin", pin: "246810", iterations: 1000 })]);
    await store.put("pinGuard", { failures: 10 });
    expect((await store.forgetLocalKey()).ok).toBe(true);
    expect(await store.people()).toEqual([]);
    expect(await store.previews(seqId)).toEqual([]);
    expect(await store.pinGuard()).toEqual({ failures: 0 });
    expect((await store.photos()).map((p) => p.id)).toEqual([photo.id]);
    expect(new Uint8Array((await store.blob(photo.id))!)).toEqual(new Uint8Array([1, 2, 3]));
    expect((await store.sequence(seqId))?.sealedForm).toBe("Q1BGMQ");
  });
});
