// Capture that a surgeon in gloves can trust (issue 11), in Debian's Chromium against the real
// server: no assumed answers, every photo accounted for, what you see is what is kept, no lock
// during a live capture, every word in both languages.
import { mkdirSync, rmSync } from "node:fs";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addPasskeyAuthenticator, launch, newProfileDir, shot } from "./browser.ts";
import { cameraLive, enrol, identify, screen, serviceWorkerReady, shots } from "./flow.ts";
import { TestServer } from "./server.ts";

mkdirSync(process.env.CLINPHOTO_SHOTS ?? "/tmp/clinphoto-shots", { recursive: true });

async function setLang(page: Page, l: "en" | "fr"): Promise<void> {
  if ((await page.evaluate(() => document.documentElement.lang)) === l) return;
  await page.click('[data-testid="lang"]');
  await page.waitForFunction((x) => document.documentElement.lang === x, l);
}

describe("capture a surgeon in gloves can trust", () => {
  let server: TestServer;
  let ctx: BrowserContext;
  let page: Page;
  const profile = newProfileDir();

  beforeAll(async () => {
    server = await TestServer.start();
    ctx = await launch(profile);
    page = ctx.pages()[0] ?? (await ctx.newPage());
    await addPasskeyAuthenticator(page);
    await enrol(page, server.origin, server.enrolmentCode());
    await page.click('[data-testid="setup-passkey"]');
    await screen(page, "home");
    await serviceWorkerReady(page);
  });
  afterAll(async () => {
    await ctx?.close();
    server?.cleanup();
    rmSync(profile, { recursive: true, force: true });
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
    await shots(page, "12-capture-hand");
    await page.click(`header.bar [aria-label="Back"]`);
    await screen(page, "home");
  });
});
