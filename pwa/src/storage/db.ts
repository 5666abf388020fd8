// The storage facade: the only code that touches IndexedDB. It owns the device enrolment, the
// unlock record and the people of the phone (each with their wrapping of the vault key), sequences (forms sealed to the hospital key), sealed photos, encrypted previews, open batches and
// receipts, and priors for the ghost overlay (in kv under `prior:<random id>`, so no schema change). Callers encrypt before they call: no method awaits anything but IndexedDB inside a
// transaction. Failures come back as values ({ ok: false, error }), never swallowed.
import { openDB, type DBSchema, type IDBPDatabase } from "idb";
import type { PersonUnlock } from "../crypto/keywrap.ts";
import type { Wrapped } from "../crypto/localkey.ts";
import type {
  BatchRecord, DeviceRecord, PhotoRecord, PreviewRecord, PriorRecord, ReceiptRecord, Result, SequenceRecord, StorageError,
} from "./types.ts";

export * from "./types.ts";

interface Schema extends DBSchema {
  kv: { key: string; value: unknown };
  sequences: { key: string; value: SequenceRecord };
  photos: { key: string; value: PhotoRecord; indexes: { bySequence: string } };
  blobs: { key: string; value: ArrayBuffer };
  previews: { key: string; value: PreviewRecord; indexes: { bySequence: string } };
  batches: { key: string; value: BatchRecord };
  receipts: { key: string; value: ReceiptRecord };
}

export const DB_NAME = "clinphoto";
const STRICT = { durability: "strict" } as const;
/** Every prior's kv key: `prior:<id>` ("prior;" is the next string after the prefix). */
const priorKeys = (): IDBKeyRange => IDBKeyRange.bound("prior:", "prior;", false, true);

function fail(e: unknown): { ok: false; error: StorageError } {
  const name = (e as { name?: string })?.name;
  if (name === "QuotaExceededError") return { ok: false, error: { code: "quota_exceeded", message: "The phone has no room left for this photo." } };
  if (name === "ConstraintError") return { ok: false, error: { code: "conflict", message: "This record already exists." } };
  return { ok: false, error: { code: "io", message: String((e as Error)?.message ?? e) } };
}

/** tx.done also rejects when a request fails or we abort; the request's own error is what we report. */
function settleQuietly(done: Promise<void>): void {
  done.catch(() => undefined);
}

export interface SyncDeletion {
  deleted: string[]; // photo ids whose sealed copy is gone
  missing: string[]; // named by the receipt but not here (already deleted)
}

export class Store {
  private constructor(private db: IDBPDatabase<Schema>, readonly name: string) {}

  static async open(name = DB_NAME): Promise<Store> {
    const db = await openDB<Schema>(name, 1, {
      upgrade(db) {
        db.createObjectStore("kv");
        db.createObjectStore("sequences", { keyPath: "id" });
        db.createObjectStore("photos", { keyPath: "id" }).createIndex("bySequence", "sequenceId");
        db.createObjectStore("blobs");
        db.createObjectStore("previews", { keyPath: "photoId" }).createIndex("bySequence", "sequenceId");
        db.createObjectStore("batches", { keyPath: "id" });
        db.createObjectStore("receipts", { keyPath: "batchId" });
      },
      // A remote wipe (Clear-Site-Data) or another tab deleting the database must not be blocked by us.
      blocking() {
        db.close();
      },
    });
    return new Store(db, name);
  }

  close(): void {
    this.db.close();
  }

  // --- device, people ------------------------------------------------------------------------
  async device(): Promise<DeviceRecord | undefined> {
    return (await this.db.get("kv", "device")) as DeviceRecord | undefined;
  }
  /** The people of this phone, each with their own wrapping of the vault key (crypto/keywrap.ts), by name. */
  async people(): Promise<PersonUnlock[]> {
    return ((await this.db.get("kv", "people")) as PersonUnlock[] | undefined) ?? [];
  }
  /** Save the people list (each person's own wrapping of the vault key). */
  async putPeople(people: PersonUnlock[]): Promise<Result> {
    try {
      const tx = this.db.transaction("kv", "readwrite", STRICT);
      await tx.store.put(people, "people");
      await tx.done;
      return { ok: true, value: undefined };
    } catch (e) {
      return fail(e);
    }
  }
  async setting<T>(key: string): Promise<T | undefined> {
    return (await this.db.get("kv", `setting:${key}`)) as T | undefined;
  }
  /** Drop an enrolment the server refused to confirm (superseded or expired): the phone enrols again. */
  async forgetPendingDevice(): Promise<Result> {
    try {
      const tx = this.db.transaction("kv", "readwrite", STRICT);
      const device = (await tx.store.get("device")) as DeviceRecord | undefined;
      if (device && device.confirmed === false) await tx.store.delete("device");
      await tx.done;
      return { ok: true, value: undefined };
    } catch (e) {
      return fail(e);
    }
  }
  /** Today's patients, sealed under the local key (capture/today.ts). */
  async today(): Promise<{ fetchedAt: string; list: Wrapped } | undefined> {
    return (await this.db.get("kv", "today")) as { fetchedAt: string; list: Wrapped } | undefined;
  }
  async put(key: "device" | "pinGuard" | "today" | `setting:${string}`, value: DeviceRecord | unknown): Promise<Result> {
    try {
      // strict durability: an enrolment credential is confirmed to the server only once it is on disk
      const tx = this.db.transaction("kv", "readwrite", STRICT);
      await tx.store.put(value, key);
      await tx.done;
      return { ok: true, value: undefined };
    } catch (e) {
      return fail(e);
    }
  }

  /** Wrong-PIN count and wait (session/pinguard.ts). */
  async pinGuard(): Promise<{ failures: number; waitUntil?: number }> {
    return ((await this.db.get("kv", "pinGuard")) as { failures: number; waitUntil?: number } | undefined) ?? { failures: 0 };
  }

  /**
   * Too many wrong PINs: forget every person's wrapping of the vault key and every preview, in one
   * transaction; the phone then asks for a person to be added again (online).
   * Patient summaries, encrypted under that key, become unreadable; sealed photos and sealed forms
   * (for the hospital key, never protected by the PIN) stay and still sync.
   */
  async forgetLocalKey(): Promise<Result> {
    try {
      const tx = this.db.transaction(["kv", "previews"], "readwrite", STRICT);
      settleQuietly(tx.done);
      await Promise.all([tx.objectStore("kv").delete("people"), tx.objectStore("kv").delete("pinGuard"), tx.objectStore("kv").delete("today"), tx.objectStore("previews").clear(),
        tx.objectStore("kv").delete(priorKeys())]);
      await tx.done;
      return { ok: true, value: undefined };
    } catch (e) {
      return fail(e);
    }
  }

  // --- sequences and photos -------------------------------------------------------------------
  async addSequence(seq: SequenceRecord): Promise<Result> {
    try {
      await this.db.add("sequences", seq);
      return { ok: true, value: undefined };
    } catch (e) {
      return fail(e);
    }
  }
  async closeSequence(id: string, closedAt: string): Promise<Result> {
    try {
      const tx = this.db.transaction("sequences", "readwrite", STRICT);
      settleQuietly(tx.done);
      const seq = await tx.store.get(id);
      if (!seq) return { ok: false, error: { code: "not_found", message: "No such sequence." } };
      await tx.store.put({ ...seq, closedAt });
      await tx.done;
      return { ok: true, value: undefined };
    } catch (e) {
      return fail(e);
    }
  }
  /** Reopen a finished sequence to review or complete it (until it is synced and gone). */
  async reopenSequence(id: string): Promise<Result> {
    try {
      const tx = this.db.transaction("sequences", "readwrite", STRICT);
      settleQuietly(tx.done);
      const seq = await tx.store.get(id);
      if (!seq) return { ok: false, error: { code: "not_found", message: "No such sequence." } };
      if (seq.closedAt) {
        const { closedAt: _, ...open } = seq;
        await tx.store.put(open);
      }
      await tx.done;
      return { ok: true, value: undefined };
    } catch (e) {
      return fail(e);
    }
  }
  async sequences(): Promise<SequenceRecord[]> {
    return this.db.getAll("sequences");
  }
  async sequence(id: string): Promise<SequenceRecord | undefined> {
    return this.db.get("sequences", id);
  }
  async photos(sequenceId?: string): Promise<PhotoRecord[]> {
    return sequenceId ? this.db.getAllFromIndex("photos", "bySequence", sequenceId) : this.db.getAll("photos");
  }
  async blob(photoId: string): Promise<ArrayBuffer | undefined> {
    return this.db.get("blobs", photoId);
  }
  async previews(sequenceId: string): Promise<PreviewRecord[]> {
    return this.db.getAllFromIndex("previews", "bySequence", sequenceId);
  }

  /** Store a sealed photo (and its encrypted preview) in one strictly durable transaction. */
  async addPhoto(photo: PhotoRecord, sealed: ArrayBuffer, preview?: PreviewRecord): Promise<Result> {
    try {
      const tx = this.db.transaction(["photos", "blobs", "previews"], "readwrite", STRICT);
      settleQuietly(tx.done);
      await Promise.all([
        tx.objectStore("photos").add(photo),
        tx.objectStore("blobs").add(sealed, photo.id),
        preview ? tx.objectStore("previews").put(preview) : Promise.resolve(),
      ]);
      await tx.done;
      return { ok: true, value: undefined };
    } catch (e) {
      return fail(e);
    }
  }

  /** The encrypted preview is written after the sealed photo, so a photo is durable sooner. */
  async addPreview(preview: PreviewRecord): Promise<Result> {
    try {
      const tx = this.db.transaction(["photos", "previews"], "readwrite");
      settleQuietly(tx.done);
      if (!(await tx.objectStore("photos").get(preview.photoId))) {
        tx.abort();
        return { ok: false, error: { code: "not_found", message: "The photo is gone." } };
      }
      await tx.objectStore("previews").put(preview);
      await tx.done;
      return { ok: true, value: undefined };
    } catch (e) {
      return fail(e);
    }
  }

  /** Retake: drop a photo not yet sent. Refused when an open batch names it. */
  async discardPhoto(photoId: string): Promise<Result> {
    try {
      const tx = this.db.transaction(["photos", "blobs", "previews", "batches"], "readwrite", STRICT);
      settleQuietly(tx.done);
      const batches = await tx.objectStore("batches").getAll();
      if (batches.some((b) => b.photoIds.includes(photoId))) {
        tx.abort();
        return { ok: false, error: { code: "conflict", message: "This photo is being sent; it cannot be retaken now." } };
      }
      await Promise.all([tx.objectStore("photos").delete(photoId), tx.objectStore("blobs").delete(photoId), tx.objectStore("previews").delete(photoId)]);
      await tx.done;
      return { ok: true, value: undefined };
    } catch (e) {
      return fail(e);
    }
  }

  /** Drop previews older than `before` (ISO time); they are a convenience, the sealed photo stays. */
  async purgePreviews(before: string): Promise<number> {
    const tx = this.db.transaction("previews", "readwrite");
      settleQuietly(tx.done);
    let n = 0;
    for (const p of await tx.store.getAll()) {
      if (p.createdAt < before) {
        await tx.store.delete(p.photoId);
        n++;
      }
    }
    await tx.done;
    return n;
  }

  // --- priors (ghost overlay) ---------------------------------------------------------------------
  async priors(): Promise<PriorRecord[]> {
    return (await this.db.getAll("kv", priorKeys())) as PriorRecord[];
  }
  /** Replace a patient's priors (the caller found `drop` by decrypting) with fresh ones, in one transaction. */
  async replacePriors(drop: string[], add: PriorRecord[]): Promise<Result> {
    try {
      const tx = this.db.transaction("kv", "readwrite");
      settleQuietly(tx.done);
      await Promise.all([...drop.map((id) => tx.store.delete(`prior:${id}`)), ...add.map((p) => tx.store.put(p, `prior:${p.id}`))]);
      await tx.done;
      return { ok: true, value: undefined };
    } catch (e) {
      return fail(e);
    }
  }
  /** Drop priors fetched before `before` (ISO time); the number dropped. */
  async purgePriors(before: string): Promise<number> {
    const tx = this.db.transaction("kv", "readwrite");
    settleQuietly(tx.done);
    let n = 0;
    for (const p of (await tx.store.getAll(priorKeys())) as PriorRecord[]) {
      if (p.fetchedAt < before) {
        await tx.store.delete(`prior:${p.id}`);
        n++;
      }
    }
    await tx.done;
    return n;
  }

  // --- batches and receipts -------------------------------------------------------------------
  async batches(): Promise<BatchRecord[]> {
    return this.db.getAll("batches");
  }
  async addBatch(batch: BatchRecord): Promise<Result> {
    try {
      const tx = this.db.transaction("batches", "readwrite", STRICT);
      settleQuietly(tx.done);
      await tx.store.add(batch);
      await tx.done;
      return { ok: true, value: undefined };
    } catch (e) {
      return fail(e);
    }
  }
  async dropBatch(batchId: string): Promise<void> {
    await this.db.delete("batches", batchId);
  }
  async receipts(): Promise<ReceiptRecord[]> {
    return this.db.getAll("receipts");
  }

  /**
   * The receipt was verified by the caller: store it and, in the same transaction, delete the
   * sealed copies it names, their previews, the batch, and every closed sequence left empty.
   */
  async settleBatch(batchId: string, receipt: unknown, photoIds: string[], now: string): Promise<Result<SyncDeletion>> {
    try {
      const tx = this.db.transaction(["receipts", "photos", "blobs", "previews", "batches", "sequences"], "readwrite", STRICT);
      settleQuietly(tx.done);
      await tx.objectStore("receipts").put({ batchId, document: receipt, storedAt: now });
      const deleted: string[] = [];
      const missing: string[] = [];
      const touched = new Set<string>();
      for (const id of photoIds) {
        const photo = await tx.objectStore("photos").get(id);
        if (!photo) {
          missing.push(id);
          continue;
        }
        touched.add(photo.sequenceId);
        await tx.objectStore("blobs").delete(id);
        await tx.objectStore("previews").delete(id);
        await tx.objectStore("photos").delete(id);
        deleted.push(id);
      }
      await tx.objectStore("batches").delete(batchId);
      for (const seqId of touched) {
        const seq = await tx.objectStore("sequences").get(seqId);
        const left = await tx.objectStore("photos").index("bySequence").count(seqId);
        if (seq?.closedAt && left === 0) await tx.objectStore("sequences").delete(seqId);
      }
      await tx.done;
      return { ok: true, value: { deleted, missing } };
    } catch (e) {
      return fail(e);
    }
  }

  /** Closed sequences without photos (all synced) are removed with their patient summary. */
  async dropEmptyClosedSequences(): Promise<number> {
    const tx = this.db.transaction(["sequences", "photos"], "readwrite");
      settleQuietly(tx.done);
    let n = 0;
    for (const seq of await tx.objectStore("sequences").getAll()) {
      if (seq.closedAt && (await tx.objectStore("photos").index("bySequence").count(seq.id)) === 0) {
        await tx.objectStore("sequences").delete(seq.id);
        n++;
      }
    }
    await tx.done;
    return n;
  }

  /** Remote wipe or reset: delete the whole database. */
  /** Close and delete this phone's database; rejects when the browser could not delete it. */
  async destroy(): Promise<void> {
    this.db.close();
    await Store.destroy(this.name);
  }

  /** Delete the database without opening it (a wipe before the store could open). Rejects on failure;
   * while another tab holds it open ("blocked") it waits: our tabs close on `blocking`, so it completes. */
  static destroy(name = DB_NAME): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const req = indexedDB.deleteDatabase(name);
      req.onsuccess = () => resolve();
      req.onerror = () => reject(req.error ?? new Error("the phone's database could not be deleted"));
    });
  }
}
