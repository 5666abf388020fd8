import "fake-indexeddb/auto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { newId } from "../src/crypto/bytes.ts";
import { newVaultKey, wrapForPerson } from "../src/crypto/keywrap.ts";
import { keepPerson, refreshPeople, removePerson, unlockAs } from "../src/session/people.ts";
import { UnlockError } from "../src/session/unlock.ts";
import { Store } from "../src/storage/db.ts";

const FAST = 1000; // PBKDF2 iterations for tests only
const alice = { id: "0b6c9c55-6f0e-4c43-9a2b-1d8f3e3a0a01", name: "Dr Alice", roles: ["surgeon"], credential_id: "YWxpY2U" };
const bob = { id: "7d1f2a9e-3b4c-4d5e-8f60-2a1b3c4d5e02", name: "Dr Bob", roles: ["surgeon"], credential_id: "Ym9i" };

afterEach(() => vi.unstubAllGlobals());

describe("the people of a phone", () => {
  it("the first person makes the phone's vault key; the next one, added while it is open, gets the same vault", async () => {
    const store = await Store.open(`people-${newId()}`);
    const first = await keepPerson(store, null, { person: alice, prfSalt: new Uint8Array(32) }, { pin: "246810", iterations: FAST });
    expect(first.people.map((p) => p.personId)).toEqual([alice.id]);
    const second = await keepPerson(store, first.vault, { person: bob, prfSalt: new Uint8Array(32) }, { pin: "135790", iterations: FAST });
    expect(second.vault).toBe(first.vault);
    expect(second.people.map((p) => p.personId).sort()).toEqual([alice.id, bob.id].sort());
    const raw = (k: CryptoKey) => crypto.subtle.exportKey("raw", k).then((b) => Array.from(new Uint8Array(b)));
    const [a, b] = [alice, bob].map((x) => second.people.find((p) => p.personId === x.id)!);
    expect(await raw(await unlockAs(a!, "246810"))).toEqual(await raw(first.vault));
    expect(await raw(await unlockAs(b!, "135790"))).toEqual(await raw(first.vault));
    await expect(unlockAs(a!, "135790")).rejects.toBeInstanceOf(UnlockError);
  });

  it("refuses to keep a passkey person whose passkey gave no PRF output", async () => {
    const store = await Store.open(`people-${newId()}`);
    await expect(keepPerson(store, null, { person: bob, prfSalt: new Uint8Array(32) }, "passkey")).rejects.toMatchObject({ code: "no_prf" });
    expect(await store.people()).toEqual([]);
  });

  it("forgets, while online, the people the server says were revoked or may no longer capture", async () => {
    const store = await Store.open(`people-${newId()}`);
    const vault = await newVaultKey();
    for (const p of [alice, bob]) {
      const entry = await wrapForPerson(vault, p, { method: "pin", pin: "246810", iterations: FAST });
      await store.putPeople([...(await store.people()), entry]);
    }
    const fetched: string[] = [];
    vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
      fetched.push(`${init.method} ${url} ${(init.headers as Record<string, string>)["Authorization"]}`);
      return new Response(JSON.stringify({ people: [{ id: alice.id, state: "active" }, { id: bob.id, state: "revoked" }] }), { status: 200 });
    });
    const kept = await refreshPeople(store, "https://ward.example", "cpd_x_y");
    expect(kept.map((p) => p.name)).toEqual(["Dr Alice"]);
    expect((await store.people()).map((p) => p.name)).toEqual(["Dr Alice"]);
    expect(fetched).toEqual(["GET https://ward.example/api/v1/devices/me/people Bearer cpd_x_y"]);
  });

  it("forgets the people with the local key after too many wrong PINs (sealed photos stay)", async () => {
    const store = await Store.open(`people-${newId()}`);
    await keepPerson(store, null, { person: alice, prfSalt: new Uint8Array(32) }, { pin: "246810", iterations: FAST });
    expect(await store.people()).toHaveLength(1);
    expect((await store.forgetLocalKey()).ok).toBe(true);
    expect(await store.people()).toEqual([]);
  });

  it("takes a person off the phone and tells the server, never the last person; offline it still forgets them here", async () => {
    const store = await Store.open(`people-${newId()}`);
    const vault = await newVaultKey();
    for (const p of [alice, bob]) {
      const entry = await wrapForPerson(vault, p, { method: "pin", pin: "246810", iterations: FAST });
      await store.putPeople([...(await store.people()), entry]);
    }
    const calls: string[] = [];
    vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
      calls.push(`${init.method} ${url}`);
      return new Response(null, { status: 204 });
    });
    expect(await removePerson(store, "https://ward.example", "cpd_x_y", bob.id)).toBe(true);
    expect(calls).toEqual([`DELETE https://ward.example/api/v1/devices/me/people/${bob.id}`]);
    expect((await store.people()).map((p) => p.personId)).toEqual([alice.id]);
    await expect(removePerson(store, "https://ward.example", "cpd_x_y", alice.id)).rejects.toBeInstanceOf(UnlockError);
    expect(await store.people()).toHaveLength(1);

    await store.putPeople([...(await store.people()), await wrapForPerson(vault, bob, { method: "pin", pin: "1", iterations: FAST })]);
    vi.stubGlobal("fetch", async () => { throw new TypeError("Failed to fetch"); });
    expect(await removePerson(store, "https://ward.example", "cpd_x_y", bob.id)).toBe(false);
    expect((await store.people()).map((p) => p.personId)).toEqual([alice.id]);
  });
});
