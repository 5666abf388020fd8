import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { newId } from "../src/crypto/bytes.ts";
import { Store, type PhotoRecord, type SequenceRecord } from "../src/storage/db.ts";

// Every value in every object store of the database called ``name``.
async function everything(name: string): Promise<unknown[]> {
  const db = await new Promise<IDBDatabase>((ok, fail) => {
    const req = indexedDB.open(name);
    req.onsuccess = () => ok(req.result);
    req.onerror = () => fail(req.error);
  });
  const values: unknown[] = [];
  for (const storeName of Array.from(db.objectStoreNames)) {
    values.push(...await new Promise<unknown[]>((ok, fail) => {
      const req = db.transaction(storeName).objectStore(storeName).getAll();
      req.onsuccess = () => ok(req.result);
      req.onerror = () => fail(req.error);
    }));
  }
  db.close();
  return values;
}

function holdsPrivateKey(value: unknown): boolean {
  if (value instanceof CryptoKey) return true;
  if (value === null || typeof value !== "object" || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return false;
  if ("kty" in value && "d" in value) return true;
  return Object.values(value).some(holdsPrivateKey);
}

const box = { iv: new Uint8Array(12), ct: new ArrayBuffer(4) };

function seq(closed = true): SequenceRecord {
  return { id: newId(), createdAt: "2026-01-01T00:00:00Z", closedAt: closed ? "2026-01-01T01:00:00Z" : undefined, expectedViews: ["399033003"], sealedForm: "Q1BGMQ", summary: box };
}
function photo(sequenceId: string): PhotoRecord {
  return { id: newId(), sequenceId, view: "399033003", capturedAt: "2026-01-01T00:10:00Z", mime: "image/jpeg", sha256: "a".repeat(64), sealedSha256: "b".repeat(64), sealedSize: 10, size: 5 };
}

describe("storage facade", () => {
  it("keeps sealed photos and settles a batch only for the photos named", async () => {
    const store = await Store.open(`t-${newId()}`);
    const s = seq();
    expect((await store.addSequence(s)).ok).toBe(true);
    const [a, b] = [photo(s.id), photo(s.id)];
    expect((await store.addPhoto(a, new Uint8Array([1, 2, 3]).buffer)).ok).toBe(true);
    expect((await store.addPhoto(b, new Uint8Array([4]).buffer)).ok).toBe(true);
    expect((await store.addPreview({ photoId: a.id, sequenceId: s.id, box, createdAt: "2026-01-01T00:10:00Z" })).ok).toBe(true);
    expect(new Uint8Array((await store.blob(a.id))!)).toEqual(new Uint8Array([1, 2, 3]));

    expect((await store.addBatch({ id: "batch-1", photoIds: [a.id], createdAt: "x" })).ok).toBe(true);
    const retake = await store.discardPhoto(a.id);
    expect(retake.ok).toBe(false);

    const settled = await store.settleBatch("batch-1", { receipt: 1 }, [a.id, "gone"], "2026-01-02T00:00:00Z");
    expect(settled).toEqual({ ok: true, value: { deleted: [a.id], missing: ["gone"] } });
    expect(await store.blob(a.id)).toBeUndefined();
    expect(await store.previews(s.id)).toEqual([]);
    expect((await store.photos()).map((p) => p.id)).toEqual([b.id]);
    expect(await store.sequence(s.id)).toBeDefined(); // b is still there
    expect(await store.batches()).toEqual([]);
    expect((await store.receipts()).length).toBe(1);

    const settled2 = await store.settleBatch("batch-2", {}, [b.id], "2026-01-02T00:00:00Z");
    expect(settled2.ok).toBe(true);
    expect(await store.sequence(s.id)).toBeUndefined(); // closed and empty: gone with its patient summary
    await store.destroy();
  });

  it("reports a duplicate photo as data, not an exception", async () => {
    const store = await Store.open(`t-${newId()}`);
    const s = seq(false);
    await store.addSequence(s);
    const a = photo(s.id);
    await store.addPhoto(a, new ArrayBuffer(1));
    const again = await store.addPhoto(a, new ArrayBuffer(1));
    expect(again.ok).toBe(false);
    if (!again.ok) expect(again.error.code).toBe("conflict");
    expect((await store.discardPhoto(a.id)).ok).toBe(true);
    expect(await store.photos()).toEqual([]);
    expect(await store.dropEmptyClosedSequences()).toBe(0); // open sequence stays
    await store.destroy();
  });

  it("keeps a sequence's sealed form as given and no key that could open it", async () => {
    const store = await Store.open(`t-${newId()}`);
    const s = seq();
    await store.addSequence(s);
    expect((await store.sequence(s.id))?.sealedForm).toBe(s.sealedForm);
    // Read back everything the store wrote, through IndexedDB itself: no CryptoKey, no private JWK member.
    const stored = await everything(store.name);
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.some((v) => JSON.stringify(v).includes(s.sealedForm))).toBe(true);
    for (const value of stored) {
      expect(value instanceof CryptoKey).toBe(false);
      expect(holdsPrivateKey(value)).toBe(false);
    }
    await store.destroy();
  });

  it("owns deletion: destroy removes the database, and says so when the browser refuses", async () => {
    const name = `t-${newId()}`;
    const store = await Store.open(name);
    await store.addSequence(seq());
    await store.destroy();
    expect((await indexedDB.databases()).map((d) => d.name)).not.toContain(name);

    const kept = await Store.open(`t-${newId()}`);
    const real = Object.getOwnPropertyDescriptor(indexedDB, "deleteDatabase");
    // the browser's answer when its storage backend fails: an error event, never success
    indexedDB.deleteDatabase = () => {
      const req = { error: new DOMException("backend failed", "UnknownError") } as unknown as IDBOpenDBRequest;
      setTimeout(() => req.onerror?.call(req, new Event("error")), 0);
      return req;
    };
    try {
      await expect(kept.destroy()).rejects.toThrow("backend failed");
    } finally {
      if (real) Object.defineProperty(indexedDB, "deleteDatabase", real);
      else delete (indexedDB as { deleteDatabase?: unknown }).deleteDatabase; // back to the prototype's
    }
  });
});
