// Capture that a surgeon in gloves can trust (issue 11), in Debian's Chromium against the real
// server: no assumed answers, every photo accounted for, what you see is what is kept, no lock
// during a live capture, every word in both languages.
import { mkdirSync } from "node:fs";
import type { BrowserContext, Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { launch } from "./browser.ts";
import { scratch } from "./scratch.ts";
import { bothSizes, cameraLive, enrolAsPerson, fillForm, finish, identify, RHINOPLASTY, screen, serviceWorkerReady, shoot, shots, syncAndWait } from "./flow.ts";
import { TestServer } from "./server.ts";

mkdirSync(process.env.CLINPHOTO_SHOTS ?? "/tmp/clinphoto-shots", { recursive: true });

/** Photo ids shown in the row of a view, in order. */
async function shown(page: Page, view?: string): Promise<string[]> {
  return page.$$eval(view ? `li[data-view="${view}"] [data-testid="photo"]` : '[data-testid="photo"]', (els) => els.map((e) => e.getAttribute("data-photo")!));
}

/** Ids of the photos the phone stores (sealed), straight from IndexedDB. */
async function stored(page: Page): Promise<string[]> {
  const ids = await page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((r) => { const q = indexedDB.open("clinphoto"); q.onsuccess = () => r(q.result); });
    const keys = await new Promise<IDBValidKey[]>((r) => { const q = db.transaction("blobs").objectStore("blobs").getAllKeys(); q.onsuccess = () => r(q.result); });
    db.close();
    return keys.map(String);
  });
  return ids.sort();
}

async function setLang(page: Page, l: "en" | "fr"): Promise<void> {
  if ((await page.evaluate(() => document.documentElement.lang)) === l) return;
  await page.click('[data-testid="lang"]');
  await page.waitForFunction((x) => document.documentElement.lang === x, l);
}

describe("capture a surgeon in gloves can trust", () => {
  let server: TestServer;
  let ctx: BrowserContext;
  let page: Page;
  const spec = scratch();

  beforeAll(async () => {
    server = await spec.server();
    ctx = await launch(spec.profile());
    spec.defer(() => ctx.close());
    page = ctx.pages()[0] ?? (await ctx.newPage());
    await enrolAsPerson(page, server);
    await serviceWorkerReady(page);
  });

  it("refuses a form without consent, side or phase, in English and French, then shows the side and a hand guide", async () => {
    await identify(page, "IPP-11001");
    // Nothing clinical is pre-answered.
    for (const field of ["laterality", "timing.phase", "consent"]) {
      expect(await page.$$(`[data-field="${field}"] [aria-pressed="true"]`)).toHaveLength(0);
    }
    await page.selectOption('select[name="procedure"]', "hand_surgery");
    await page.selectOption('select[name="anatomical_region"]', "hand");
    for (const [l, text] of [["en", "Fill in the required fields."], ["fr", "Renseignez les champs obligatoires."]] as const) {
      await setLang(page, l);
      await page.click('[data-testid="start-photos"]');
      await page.waitForSelector(`.msg-error:has-text("${text}")`);
      expect(await page.$$eval(".has-error[data-field]", (els) => els.map((e) => e.getAttribute("data-field")).sort())).toEqual(["consent", "laterality", "timing.phase"]);
      await screen(page, "form");
    }
    await page.click('[data-field="laterality"] [data-value="left"]');
    await page.click('[data-testid="start-photos"]');
    await screen(page, "form"); // side alone is not enough
    await page.click('[data-field="timing.phase"] [data-value="pre_op"]');
    await page.click('[data-field="consent"] [data-value="record"]');
    await shots(page, "11-form-answered");
    await page.click('[data-testid="start-photos"]');
    await screen(page, "capture");
    await cameraLive(page);
    expect(await page.getAttribute('[data-testid="frame-guide"]', "data-guide")).toBe("hand");
    await setLang(page, "fr");
    expect(await page.textContent('[data-testid="ctx-side"]')).toBe("Côté : Gauche");
    expect(await page.textContent('[data-testid="ctx-what"]')).toBe("Chirurgie de la main · Main");
    await setLang(page, "en");
    expect(await page.textContent('[data-testid="ctx-side"]')).toBe("Side: Left");
    expect(await page.textContent('[data-testid="patient-banner"]')).toContain("IPP-11001");
    // Large type: the side is at least as big as the patient banner.
    const sizes = await page.$$eval('[data-testid="ctx-side"], [data-testid="patient-banner"]', (els) => els.map((e) => parseFloat(getComputedStyle(e).fontSize)));
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(20);
    await bothSizes(page, "12-capture-hand");
    await page.click(`header.bar [aria-label="Back"]`);
    await screen(page, "home");
  });

  it("keeps the original through a retake until the new one is kept, with Undo; deletes only after a confirmation", async () => {
    await identify(page, "IPP-11002");
    await fillForm(page, RHINOPLASTY);
    await page.click('[data-testid="start-photos"]');
    await screen(page, "capture");
    await cameraLive(page);
    await shoot(page, 1);
    await shoot(page, 2);
    const [frontal] = await shown(page, "frontal");
    const [profile] = await shown(page, "right_lateral");

    // Retake: nothing is dropped by the tap; the new photo replaces the old only once kept, with Undo.
    await page.click(`[data-photo="${frontal}"] [data-testid="retake"]`);
    expect(await page.getAttribute('[data-testid="expected-view"]', "data-view")).toBe("frontal");
    expect(await stored(page)).toEqual([frontal!, profile!].sort());
    await shots(page, "13-retake-pending");
    await page.click('[data-testid="shoot"]');
    await page.waitForSelector('[data-testid="snackbar"]');
    await page.click('[data-testid="undo"]'); // at once: the undo window is a few seconds
    await page.waitForFunction((id) => !!document.querySelector(`li[data-view="frontal"] [data-photo="${id}"]`), frontal);
    expect(await shown(page, "frontal")).toEqual([frontal]);
    expect(await stored(page)).toEqual([frontal!, profile!].sort());

    // Without Undo, the replaced photo is kept through the undo window, then goes.
    await page.click(`[data-photo="${frontal}"] [data-testid="retake"]`);
    await page.click('[data-testid="shoot"]');
    await page.waitForSelector('[data-testid="snackbar"]');
    await page.waitForFunction((id) => [...document.querySelectorAll('li[data-view="frontal"] [data-photo]')].some((e) => e.getAttribute("data-photo") !== id), frontal);
    const [fresh] = await shown(page, "frontal");
    expect(fresh).not.toBe(frontal);
    expect(await shown(page)).toHaveLength(2);
    expect(await stored(page)).toEqual([frontal!, profile!, fresh!].sort()); // the original is still stored
    await shots(page, "14-retake-undo");
    await page.waitForSelector('[data-testid="snackbar"]', { state: "detached", timeout: 30_000 });
    const kept = fresh;
    expect(await shown(page, "frontal")).toEqual([kept]);
    await expect.poll(() => stored(page), { timeout: 10_000 }).toEqual([kept!, profile!].sort());

    // Delete asks first; "Keep it" keeps it.
    await page.click(`[data-photo="${profile}"] [data-testid="delete"]`);
    await page.waitForSelector('[data-testid="delete-dialog"]');
    await shots(page, "15-delete-confirm");
    await page.click('[data-testid="delete-cancel"]');
    expect(await stored(page)).toEqual([kept!, profile!].sort());
    await page.click(`[data-photo="${profile}"] [data-testid="delete"]`);
    await page.click('[data-testid="delete-confirm"]');
    await page.waitForFunction((id) => !document.querySelector(`[data-photo="${id}"]`), profile);
    expect(await stored(page)).toEqual([kept!]);

    // Retake and the home screen's Continue are different words in both languages.
    await setLang(page, "fr");
    expect(await page.textContent(`[data-photo="${kept}"] [data-testid="retake"]`)).toBe("Refaire la photo");
    await page.click('header.bar [aria-label="Retour"]');
    await screen(page, "home");
    expect(await page.textContent('[data-testid="open-sequence"]')).toBe("Continuer");
    await setLang(page, "en");
    expect(await page.textContent('[data-testid="open-sequence"]')).toBe("Continue");
  });

  it("warns before finishing an incomplete protocol, files extra shots as additional views, and reopens a finished sequence until synced", async () => {
    await page.click('[data-testid="open-sequence"]');
    await screen(page, "capture");
    await cameraLive(page);
    expect(await shown(page)).toHaveLength(1);
    await page.click('[data-testid="finish"]');
    await page.waitForSelector('[data-testid="finish-dialog"]');
    expect(await page.textContent('[data-testid="missing"]')).toBe(
      "5 views are missing: Right lateral (profile), Left lateral (profile), Right oblique (three-quarter), Left oblique (three-quarter), Basal (worm's eye). Finish anyway?");
    await setLang(page, "fr");
    expect(await page.textContent('[data-testid="missing"]')).toMatch(/^Il manque 5 vues : Profil droit, Profil gauche, .*Terminer quand même \?$/);
    await shots(page, "16-finish-incomplete");
    await page.click('[data-testid="finish-cancel"]');
    await setLang(page, "en");
    for (let n = 2; n <= 5; n++) await shoot(page, n);
    expect(await page.textContent('[data-testid="completeness"]')).toBe("5 of 6 views");
    await setLang(page, "fr");
    expect(await page.textContent('[data-testid="completeness"]')).toBe("5 vues sur 6");
    await page.click('[data-testid="finish"]');
    expect(await page.textContent('[data-testid="missing"]')).toBe("Il manque 1 vue : Vue basale (contre-plongée). Terminer quand même ?");
    await page.click('[data-testid="finish-cancel"]');
    await setLang(page, "en");
    await shoot(page, 6);
    expect(await page.textContent('[data-testid="completeness"]')).toBe("6 of 6 views");
    // Past a complete protocol: an explicit additional view, not the first view again.
    expect(await page.getAttribute('[data-testid="expected-view"]', "data-view")).toBe("additional");
    await shoot(page, 7);
    expect(await shown(page, "additional")).toHaveLength(1);
    expect(await shown(page, "frontal")).toHaveLength(1);
    await page.evaluate(() => scrollTo(0, 0));
    await shots(page, "17-capture-additional", true);
    await finish(page); // complete: no question asked
    expect(await page.$('[data-testid="finish-dialog"]')).toBeNull();

    // Finished, not yet synced: reviewed full screen and completed.
    expect(await page.textContent('[data-testid="open-sequence"]')).toBe("Review");
    await page.click('[data-testid="open-sequence"]');
    await screen(page, "capture");
    await cameraLive(page);
    expect(await shown(page)).toHaveLength(7);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="photo"] img').length === 7, undefined, { timeout: 30_000 });
    await page.click('li[data-view="frontal"] [data-testid="review"]');
    await page.waitForSelector('[data-testid="review-dialog"] img');
    expect(await page.textContent("#review-title")).toBe("Frontal · 1 of 7");
    await shots(page, "18-review");
    await page.click('[data-testid="review-close"]');
    await shoot(page, 8);
    await finish(page);
    await syncAndWait(page);
    const filed = server.photos().filter((p) => p.patient_id === "IPP-11002");
    expect(filed).toHaveLength(8);
    expect(filed.filter((p) => p.view === "additional")).toHaveLength(2);
    const left = await page.$$eval('[data-testid="sequence-row"]', (els) => els.map((e) => e.textContent ?? ""));
    expect(left.some((text) => text.includes("IPP-11002"))).toBe(false); // synced: gone from the phone
  });

  it("stores exactly the frame the viewfinder shows", async () => {
    await identify(page, "IPP-11003");
    await fillForm(page, RHINOPLASTY);
    await page.click('[data-testid="start-photos"]');
    await screen(page, "capture");
    await cameraLive(page);
    const seen = await page.$eval('[data-testid="viewfinder"]', (el) => {
      const v = el.querySelector("video")!;
      const box = v.getBoundingClientRect();
      return { videoW: v.videoWidth, videoH: v.videoHeight, boxW: box.width, boxH: box.height, fit: getComputedStyle(v).objectFit };
    });
    // The whole frame is shown: nothing is cut off by the viewfinder (contain, at the frame's aspect).
    expect(seen.fit).toBe("contain");
    expect(Math.abs(seen.boxW / seen.boxH - seen.videoW / seen.videoH)).toBeLessThan(0.02);
    await shoot(page, 1);
    await page.waitForSelector('[data-testid="photo"] img');
    const preview = await page.$eval('[data-testid="photo"] img', (img) => ({ w: (img as HTMLImageElement).naturalWidth, h: (img as HTMLImageElement).naturalHeight }));
    expect(Math.abs(preview.w / preview.h - seen.videoW / seen.videoH)).toBeLessThan(0.01);
    await shots(page, "19-viewfinder");
    await finish(page);
    await syncAndWait(page);
    const [filed] = server.photos().filter((p) => p.patient_id === "IPP-11003");
    expect(filed?.width && filed.height).toBeTruthy();
    // The stored photo (as the server decoded it) has the viewfinder's frame: same aspect, whole frame.
    expect(Math.abs(filed!.width! / filed!.height! - seen.videoW / seen.videoH)).toBeLessThan(0.005);
    expect(filed!.width! * filed!.height!).toBeGreaterThanOrEqual(seen.videoW * seen.videoH);
    console.log(`viewfinder ${seen.boxW}x${seen.boxH} showing ${seen.videoW}x${seen.videoH}; stored ${filed!.width}x${filed!.height}`);
  });

  it("keeps the lock delay as a setting of the phone, and counts the taps from unlock to the first photo", async () => {
    await page.selectOption('select[name="lock-after"]', String(60_000));
    await shots(page, "20-home-settings", true);
    await page.reload();
    await screen(page, "home");
    // Taps a surgeon makes from the locked home screen to the first photo (a select is 2 taps:
    // open, choose; a text field is 1 tap to focus, typing aside).
    await page.evaluate(() => {
      const w = window as unknown as { taps: number };
      w.taps = 0;
      let lastPointer = 0;
      document.addEventListener("pointerdown", () => { w.taps++; lastPointer = performance.now(); }, true);
      document.addEventListener("focusin", (e) => {
        const el = e.target as HTMLElement;
        if ((el.tagName === "INPUT" || el.tagName === "TEXTAREA") && performance.now() - lastPointer > 100) w.taps++;
      }, true);
      document.addEventListener("change", (e) => { if ((e.target as HTMLElement).tagName === "SELECT") w.taps += 2; }, true);
    });
    // the surgeon taps their name; their passkey asks for a fingerprint or face (one more touch, not a DOM tap)
    await page.click('[data-testid="person"]');
    await page.waitForSelector('[data-testid="new-sequence"]');
    expect(await page.inputValue('select[name="lock-after"]')).toBe(String(60_000));
    await identify(page, "IPP-11004");
    await fillForm(page, { ...RHINOPLASTY, protocol: undefined });
    await page.click('[data-testid="start-photos"]');
    await screen(page, "capture");
    await cameraLive(page);
    await shoot(page, 1);
    const taps = (await page.evaluate(() => (window as unknown as { taps: number }).taps)) + 1; // + the passkey's touch
    console.log(`taps from unlock to first photo: ${taps}`);
    expect(taps).toBeLessThanOrEqual(15);
  });

  it("speaks the user's language in sync errors and counts, with dates by locale", async () => {
    await page.click(`header.bar [aria-label="Back"]`);
    await screen(page, "home");
    await setLang(page, "fr");
    expect(await page.textContent('[data-testid="outbox-summary"]')).toMatch(/^1 séquence, 1 photo, la plus ancienne il y a \d+ min$/);
    expect(await page.textContent('[data-testid="sequence-row"][data-photos="1"] .small')).toMatch(/^\d{1,2} déc\. 2026,? \d{2}:\d{2} · 1 photo$/);
    await ctx.setOffline(true);
    await page.click('[data-testid="sync"]');
    await page.waitForSelector(".msg-error");
    const fr = await page.textContent(".msg-error");
    expect(fr).toContain("Synchronisation interrompue : Le serveur est injoignable. Vérifiez le Wi-Fi.");
    await setLang(page, "en");
    expect(await page.textContent(".msg-error")).toContain("Sync stopped: The server cannot be reached. Check the Wi-Fi.");
    await shots(page, "21-home-sync-error");
    await ctx.setOffline(false);
  });
});

