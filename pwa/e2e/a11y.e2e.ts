// Every screen of the capture app, in English and French, has 0 axe-core violations.
import { describe, expect, it } from "vitest";
import { axeBothLanguages, type Violation } from "./axe.ts";
import { addPasskeyAuthenticator, launch } from "./browser.ts";
import { scratch } from "./scratch.ts";
import { addMyself, cameraLive, fillForm, identify, registerPasskey, RHINOPLASTY, screen, shoot, shots, SURGEON } from "./flow.ts";
import { TestServer } from "./server.ts";

describe("accessibility of the capture app", () => {
  const spec = scratch();
  const profile = spec.profile();
  const blockedProfile = spec.profile();
  let server: TestServer | undefined;

  it("has 0 axe-core violations on every screen in both languages", async () => {
    server = await spec.server();
    const ctx = await launch(profile);
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await addPasskeyAuthenticator(page);
    const found: Record<string, Violation[]> = {};
    const check = async (name: string) => Object.assign(found, await axeBothLanguages(page, name));

    await registerPasskey(page, server.inviteLink(SURGEON));
    await page.goto(server.origin);
    await screen(page, "enrol");
    await check("enrol");
    await page.fill('input[name="code"]', server.enrolmentCode());
    await page.click('button[type="submit"]');
    await screen(page, "setup");
    await check("setup");
    await page.click('[data-testid="setup-person"]');
    await screen(page, "add-person");
    await check("add-person");
    await page.goto(server.origin);
    await screen(page, "setup");
    await addMyself(page, { pin: "246813" });
    await check("home-unlocked");
    await page.click('[data-testid="lock"]');
    await screen(page, "home");
    await check("home-locked");
    await page.click('[data-testid="person"]');
    await screen(page, "unlock");
    await check("unlock");
    await page.fill('input[type="password"]', "246813");
    await page.click('button[type="submit"]');
    await screen(page, "home");
    await page.waitForSelector('[data-testid="new-sequence"]');
    await identify(page, "IPP-22001");
    await check("form-empty");
    await page.click('[data-testid="start-photos"]');
    await page.waitForSelector(".msg-error");
    await check("form-errors");
    await fillForm(page, RHINOPLASTY);
    await page.click('[data-testid="start-photos"]');
    await screen(page, "capture");
    await cameraLive(page);
    await check("capture-empty");
    await shoot(page, 1);
    await page.waitForSelector('[data-testid="photo"] img');
    await check("capture-photo");
    await page.click('[data-testid="delete"]');
    await check("capture-delete");
    await page.click('[data-testid="delete-cancel"]');
    await page.click('[data-testid="review"]');
    await page.waitForSelector('[data-testid="review-dialog"] img');
    await check("capture-review");
    await page.click('[data-testid="review-close"]');
    await page.click('[data-testid="finish"]');
    await page.waitForSelector('[data-testid="finish-dialog"]');
    await check("capture-finish");
    await page.click('[data-testid="finish-confirm"]');
    await screen(page, "home");
    await check("home-pending");
    await page.click('[data-testid="new-sequence"]');
    await screen(page, "patient");
    await check("patient");
    // Remote wipe: the wiped screen too.
    const deviceId = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((r) => { const q = indexedDB.open("clinphoto"); q.onsuccess = () => r(q.result); });
      const v = await new Promise<{ deviceId: string }>((r) => { const g = db.transaction("kv").objectStore("kv").get("device"); g.onsuccess = () => r(g.result); });
      db.close();
      return v.deviceId;
    });
    server.revoke(deviceId);
    await page.click('header.bar button.link'); // back home
    // no tap needed: the phone's next contact (the home screen's priors, its status report) meets the
    // revocation, and any device call that does wipes the phone at once
    await screen(page, "wiped");
    await check("wiped");
    await ctx.close();

    const bad = Object.fromEntries(Object.entries(found).filter(([, v]) => v.length));
    expect(bad).toEqual({});
    expect(Object.keys(found)).toHaveLength(32);
  });

  it("says so, in both languages, when the phone's storage cannot be opened", async () => {
    server ??= await spec.server();
    const ctx = await launch(blockedProfile, { locale: "fr-FR" });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    // as in a private window that refuses IndexedDB, or a quota the browser will not grant
    await page.addInitScript(() => {
      IDBFactory.prototype.open = () => { throw new DOMException("The operation failed", "UnknownError"); };
    });
    await page.goto(server.origin);
    await screen(page, "start-failed");
    expect(await page.textContent("h1")).toBe("Stockage sécurisé inaccessible");
    const found = await axeBothLanguages(page, "start-failed"); // and back to French
    await shots(page, "start-failed");
    await page.click('[data-testid="lang"]');
    await page.waitForFunction(() => document.documentElement.lang === "en");
    expect(await page.textContent("h1")).toBe("Secure storage unavailable");
    expect(await page.locator('[data-screen="start-failed"] button.btn-primary').textContent()).toBe("Try again");
    await ctx.close();
    expect(Object.fromEntries(Object.entries(found).filter(([, v]) => v.length))).toEqual({});
  });
});
