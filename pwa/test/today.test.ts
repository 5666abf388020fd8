import "fake-indexeddb/auto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { newId } from "../src/crypto/bytes.ts";
import { fetchToday, findToday, TODAY_KEEP_MS, todayList } from "../src/capture/today.ts";
import { Store } from "../src/storage/db.ts";

async function localKey(): Promise<CryptoKey> {
  return crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

const ANSWER = {
  department: "PLAST", date: "2026-12-04",
  patients: [{ id: "IPP-7002", family: "Durand", given: "Paul", birth_date: "1965-07-08", sex: "M" },
    { id: "IPP-7001", family: "Martin", given: "Léa", birth_date: "1971-03-04", sex: "F" }],
};

async function enrolled(): Promise<Store> {
  const store = await Store.open(`t-${newId()}`);
  await store.put("device", { deviceId: newId(), credential: "cpd_x_y", label: "phone", keys: [], enrolledAt: "2026-12-01T00:00:00Z" });
  return store;
}

describe("today's patients on the phone", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("fetches the list with the device credential and keeps it sealed under the unlock key", async () => {
    const store = await enrolled();
    const key = await localKey();
    const fetched = vi.fn(async (_url: string, _init?: RequestInit) => new Response(JSON.stringify(ANSWER), { status: 200 }));
    vi.stubGlobal("fetch", fetched);
    const now = new Date("2026-12-04T08:00:00Z");
    expect(await fetchToday(store, "https://ward", key, undefined, now)).toBe(2);
    expect(fetched.mock.calls[0]![0]).toBe("https://ward/api/v1/devices/me/today");
    expect(new Headers(fetched.mock.calls[0]![1]!.headers).get("Authorization")).toBe("Bearer cpd_x_y");
    // nothing readable without the key: no name, no identifier in what IndexedDB holds
    const held = JSON.stringify(await store.today());
    for (const secret of ["Durand", "Martin", "IPP-7001", "1965-07-08"]) expect(held).not.toContain(secret);

    const list = await todayList(store, key, now);
    expect(list?.department).toBe("PLAST");
    expect(findToday(list, "IPP-7001")).toEqual({ id: "IPP-7001", family: "Martin", given: "Léa", birthDate: "1971-03-04", sex: "F" });
    expect(findToday(list, "IPP-9999")).toBeNull();
    expect(findToday(null, "IPP-7001")).toBeNull();
    // the person unlocked now: their department's list
    const person = "0b9c1c8e-5d7a-4c1e-9a0f-3f7e2b1d4c5a";
    await fetchToday(store, "https://ward", key, undefined, now, person);
    expect(fetched.mock.calls[1]![0]).toBe(`https://ward/api/v1/devices/me/today?person_id=${person}`);
    await store.destroy();
  });

  it("forgets a list a day old, one sealed under another key, and the list with the unlock key", async () => {
    const store = await enrolled();
    const key = await localKey();
    vi.stubGlobal("fetch", async () => new Response(JSON.stringify(ANSWER), { status: 200 }));
    const now = new Date("2026-12-04T08:00:00Z");
    await fetchToday(store, "https://ward", key, undefined, now);
    expect(await todayList(store, key, new Date(now.getTime() + TODAY_KEEP_MS - 1000))).not.toBeNull();
    expect(await todayList(store, key, new Date(now.getTime() + TODAY_KEEP_MS + 1000))).toBeNull();
    expect(await todayList(store, await localKey(), now)).toBeNull(); // after a PIN reset: unreadable
    expect((await store.forgetLocalKey()).ok).toBe(true);
    expect(await store.today()).toBeUndefined();
    await store.destroy();
  });

  it("keeps the previous list when the server cannot be reached", async () => {
    const store = await enrolled();
    const key = await localKey();
    vi.stubGlobal("fetch", async () => new Response(JSON.stringify(ANSWER), { status: 200 }));
    await fetchToday(store, "https://ward", key);
    vi.stubGlobal("fetch", async () => { throw new TypeError("Failed to fetch"); });
    await expect(fetchToday(store, "https://ward", key)).rejects.toThrow();
    expect(findToday(await todayList(store, key), "IPP-7002")?.family).toBe("Durand");
    await store.destroy();
  });
});
