// Wrong PINs are limited: 5 then a wait, 10 then the phone forgets its unlock key and previews,
// explains it in both languages, and still syncs every sealed photo.
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { axeBothLanguages } from "./axe.ts";
import { launch } from "./browser.ts";
import { scratch } from "./scratch.ts";
import { addMyself, enrolAsPerson, newSequence, outboxPhotos, screen, shots, syncAndWait } from "./flow.ts";
import { TestServer } from "./server.ts";

async function kv(page: Page, key: string, value?: unknown): Promise<unknown> {
  return page.evaluate(async ([k, v]) => {
    const db = await new Promise<IDBDatabase>((r) => { const q = indexedDB.open("clinphoto"); q.onsuccess = () => r(q.result); });
    const out = await new Promise<unknown>((r) => {
      const tx = db.transaction(["kv", "previews"], v === undefined ? "readonly" : "readwrite");
      const req = v === undefined ? tx.objectStore("kv").get(k as string) : tx.objectStore("kv").put(v, k as string);
      const n = tx.objectStore("previews").count();
      tx.oncomplete = () => r({ value: req.result, previews: n.result });
    });
    db.close();
    return out;
  }, [key, value] as const);
}

describe("PIN attempts", () => {
  const spec = scratch();
  const profile = spec.profile();
  let server: TestServer | undefined;

  it("waits after 5 wrong PINs, forgets the unlock key at the 10th, and loses no unsynced photo", async () => {
    server = await spec.server();
    const ctx = await launch(profile, { locale: "fr-FR" });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await enrolAsPerson(page, server, { pin: "246813", label: "pin phone" });
    await newSequence(page, "IPP-33001", 1);
    await page.click('[data-testid="lock"]');
    await page.click('[data-testid="person"]');
    await screen(page, "unlock");
    for (let i = 1; i <= 4; i++) {
      await page.fill(".input-pin", "000000");
      await page.click('button[type="submit"]');
      await page.waitForFunction((n) => document.querySelector(".msg-error")?.textContent?.includes(`Encore ${10 - n} essais`), i);
    }
    await page.fill(".input-pin", "000000");
    await page.click('button[type="submit"]');
    await page.waitForSelector(".msg-warn");
    expect(await page.textContent(".msg-warn")).toMatch(/^Trop de codes PIN erronés\. Attendez (30|29|28) s avant de réessayer\.$/);
    expect(await page.isDisabled('button[type="submit"]')).toBe(true);
    await shots(page, "22-pin-wait");
    expect(Object.values(await axeBothLanguages(page, "pin-wait")).flat()).toEqual([]);

    // Fast-forward to the 9th failure (no test waits 8 minutes), then the 10th wrong PIN.
    await kv(page, "pinGuard", { failures: 9 });
    await page.reload();
    await screen(page, "home");
    await page.click('[data-testid="person"]');
    await screen(page, "unlock");
    await page.fill(".input-pin", "000000");
    await page.click('button[type="submit"]');
    await screen(page, "pin-forgotten");
    expect(await page.textContent('[data-testid="pin-forgotten"]')).toContain("rien n'est perdu");
    await shots(page, "23-pin-forgotten");
    expect(Object.values(await axeBothLanguages(page, "pin-forgotten")).flat()).toEqual([]);
    expect(await kv(page, "people")).toEqual({ value: undefined, previews: 0 });
    await page.click("text=M'ajouter à nouveau");
    await screen(page, "setup");

    // The sealed photo is still there: the surgeon adds herself again (online, her passkey), with a new PIN; it syncs.
    await addMyself(page, { pin: "135791" });
    expect(await outboxPhotos(page)).toBe(1);
    await syncAndWait(page);
    expect(server.photos().filter((p) => p.patient_id === "IPP-33001")).toHaveLength(1);
    await ctx.close();
  });
});
