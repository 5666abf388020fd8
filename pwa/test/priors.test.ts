import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { newId, utf8 } from "../src/crypto/bytes.ts";
import { encrypt, encryptJson } from "../src/crypto/localkey.ts";
import { DEFAULT_PRIOR_DAYS, PRIOR_DAYS_SETTING, priorImage, purgeBefore, purgeOldPriors, todaysPatients, type PriorMeta } from "../src/capture/priors.ts";
import { Store, type PriorRecord } from "../src/storage/db.ts";

async function localKey(): Promise<CryptoKey> {
  return crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

async function prior(key: CryptoKey, patientId: string, view: string, fetchedAt: string, bytes = [1, 2, 3]): Promise<PriorRecord> {
  const id = newId();
  const meta: PriorMeta = { patientId, view, photoId: newId(), capturedAt: "2026-11-01T10:00:00Z" };
  return { id, fetchedAt, meta: await encryptJson(key, meta, id), image: await encrypt(key, new Uint8Array(bytes), utf8(id)) };
}

describe("priors for the ghost overlay", () => {
  it("keeps priors the set number of days, seven by default", () => {
    const now = new Date("2026-12-03T08:00:00Z");
    expect(purgeBefore(now, undefined)).toBe("2026-11-26T08:00:00.000Z");
    expect(DEFAULT_PRIOR_DAYS).toBe(7);
    expect(purgeBefore(now, 2)).toBe("2026-12-01T08:00:00.000Z");
    expect(purgeBefore(now, 0)).toBe(purgeBefore(now, undefined));
    expect(purgeBefore(now, Number.NaN)).toBe(purgeBefore(now, undefined));
  });

  it("purges priors older than the phone setting and keeps the rest", async () => {
    const store = await Store.open(`t-${newId()}`);
    const key = await localKey();
    const old = await prior(key, "IPP-1", "frontal", "2026-11-20T08:00:00.000Z");
    const recent = await prior(key, "IPP-1", "right_lateral", "2026-12-02T07:00:00.000Z");
    expect((await store.replacePriors([], [old, recent])).ok).toBe(true);
    expect(await purgeOldPriors(store, new Date("2026-12-03T08:00:00Z"))).toBe(1);
    expect((await store.priors()).map((p) => p.id)).toEqual([recent.id]);
    await store.put(`setting:${PRIOR_DAYS_SETTING}`, 1);
    expect(await purgeOldPriors(store, new Date("2026-12-03T08:00:00Z"))).toBe(1);
    expect(await store.priors()).toEqual([]);
    store.close();
  });

  it("finds a prior only for its own patient and view, and forgets them all with the local key", async () => {
    const store = await Store.open(`t-${newId()}`);
    const key = await localKey();
    const mine = await prior(key, "IPP-1", "frontal", "2026-12-03T07:00:00.000Z", [9, 8, 7]);
    const other = await prior(key, "IPP-2", "left_lateral", "2026-12-03T07:00:00.000Z");
    expect((await store.replacePriors([], [mine, other])).ok).toBe(true);
    expect(new Uint8Array((await priorImage(store, key, "IPP-1", "frontal"))!.jpeg)).toEqual(new Uint8Array([9, 8, 7]));
    expect(await priorImage(store, key, "IPP-1", "left_lateral")).toBeNull();
    expect(await priorImage(store, key, "IPP-2", "frontal")).toBeNull();
    expect(await priorImage(store, await localKey(), "IPP-1", "frontal")).toBeNull(); // another key reads nothing
    // nothing in the stored record names the patient
    expect(JSON.stringify(await store.priors())).not.toContain("IPP-1");
    expect((await store.forgetLocalKey()).ok).toBe(true);
    expect(await store.priors()).toEqual([]);
    store.close();
  });

  it("names today's patients from the sequences opened today only", async () => {
    const store = await Store.open(`t-${newId()}`);
    const key = await localKey();
    const now = new Date(2026, 11, 3, 14, 0);
    const add = async (patientId: string, at: Date) => {
      const id = newId();
      const summary = await encryptJson(key, { patientId, values: {}, protocol: "", createdAt: at.toISOString() }, id);
      expect((await store.addSequence({ id, createdAt: at.toISOString(), expectedViews: [], sealedForm: "Q1BGMQ", summary })).ok).toBe(true);
    };
    await add("IPP-2", new Date(2026, 11, 3, 8, 0));
    await add("IPP-1", new Date(2026, 11, 3, 9, 0));
    await add("IPP-1", new Date(2026, 11, 3, 10, 0));
    await add("IPP-9", new Date(2026, 11, 2, 16, 0));
    expect(await todaysPatients(store, key, now)).toEqual(["IPP-1", "IPP-2"]);
    expect(await todaysPatients(store, await localKey(), now)).toEqual([]);
    store.close();
  });
});
