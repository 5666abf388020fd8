// The surgeon's workspace in a real Chromium against the real server, with real photos captured on an
// enrolled phone and synced: find the patient, the timeline, the viewer (zoom, next, original), the
// comparison (pairing by view, overlay, blink), a consent change with its reason, and a consent-aware
// export downloaded as a ZIP. Every screen shot in both languages, phone and desktop.
import { mkdirSync, readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { addPasskeyAuthenticator, launch, shot } from "./browser.ts";
import { scratch, type Scratch } from "./scratch.ts";
import { bothSizes, enrolAsPerson, newSequence, screen, serviceWorkerReady, syncAndWait } from "./flow.ts";
import { TestServer } from "./server.ts";

mkdirSync(process.env.CLINPHOTO_SHOTS ?? "/tmp/clinphoto-shots", { recursive: true });

const PATIENT = "IPP-55012";

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function invite(server: TestServer, spec: Scratch, role: string, name: string): Promise<string> {
  const profile = spec.profile();
  const ctx = await launch(profile);
  const admin = ctx.pages()[0] ?? (await ctx.newPage());
  await addPasskeyAuthenticator(admin);
  await admin.goto(server.adminLink());
  await screen(admin, "register");
  await admin.click('[data-testid="passkey"]');
  await screen(admin, "admin");
  await admin.fill('input[name="person-name"]', name);
  await admin.selectOption('select[name="role"]', role);
  await admin.click('form:has(input[name="person-name"]) button[type="submit"]');
  const link = await (await admin.waitForSelector('[data-testid="invitation"] .mono')).textContent();
  await ctx.close();
  return link!.replace(/^http:\/\/localhost:\d+/, server.origin);
}

/** Like bothSizes, for a modal dialog: its own language switch (the page behind it is inert). */
async function dialogShots(page: Page, name: string, dialog: string): Promise<void> {
  for (const size of [[390, 844], [1280, 800]] as const) {
    await page.setViewportSize({ width: size[0], height: size[1] });
    for (let i = 0; i < 2; i++) {
      const l = await page.evaluate(() => document.documentElement.lang);
      await shot(page, `${name}-${size[0]}-${l}`);
      await page.click(`${dialog} [data-testid="lang"]`);
      await page.waitForFunction((x) => document.documentElement.lang !== x, l);
    }
  }
  await page.setViewportSize({ width: 390, height: 844 });
}

async function download(page: Page, click: () => Promise<unknown>): Promise<{ name: string; bytes: Buffer }> {
  const [file] = await Promise.all([page.waitForEvent("download"), click()]);
  return { name: file.suggestedFilename(), bytes: readFileSync((await file.path())!) };
}

describe("clinicians' workspace", () => {
  let server: TestServer;
  const spec = scratch();
  beforeAll(async () => {
    server = await spec.server();
  });

  it("finds a patient, views, compares, changes consent and exports real synced photos", async () => {
    server.importPatients([{ id: PATIENT, family: "Durand", given: "Marie" }]);

    // two sequences of two photos each, captured and synced by an enrolled phone
    const phoneProfile = spec.profile();
    const phoneCtx = await launch(phoneProfile);
    const phone = phoneCtx.pages()[0] ?? (await phoneCtx.newPage());
    await enrolAsPerson(phone, server);
    await serviceWorkerReady(phone);
    await newSequence(phone, PATIENT, 2);
    await newSequence(phone, PATIENT, 2);
    await syncAndWait(phone);
    await phoneCtx.close();
    await until(() => server.photos().filter((p) => p.patient_id === PATIENT && p.state === "verified").length === 4, "4 verified photos");

    // the surgeon registers and lands on the patient search (not on My account)
    const link = await invite(server, spec, "surgeon", "Dr Paul Surgeon");
    const profile = spec.profile();
    const ctx = await launch(profile, { locale: "fr-FR" });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.setViewportSize({ width: 390, height: 844 });
    await addPasskeyAuthenticator(page);
    await page.goto(link);
    await screen(page, "register");
    await page.click('[data-testid="passkey"]');
    await screen(page, "clin-search");
    expect(await page.locator('.tabs a[href="#/account"]').count()).toBe(1);
    await bothSizes(page, "clin-01-search-empty");

    // by name: the list; then by exact identifier: straight to the timeline
    await page.fill('[data-testid="clin-q"]', "dur mar");
    await page.click('[data-testid="clin-find"]');
    await page.waitForSelector('[data-testid="clin-results"] [data-testid="patient-row"]');
    expect(await page.getAttribute('[data-testid="clin-results"] [data-testid="patient-row"]', "data-patient")).toBe(PATIENT);
    await bothSizes(page, "clin-02-search-results");
    await page.fill('[data-testid="clin-q"]', PATIENT);
    await page.click('[data-testid="clin-find"]');
    await screen(page, "clin-timeline");
    await page.waitForSelector('[data-testid="sequence"]');
    expect(await page.locator('[data-testid="sequence"]').count()).toBe(2);
    expect(await page.locator('[data-testid="thumb"]').count()).toBe(4);
    expect(await page.textContent('[data-testid="patient-id"]')).toBe(PATIENT);
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('[data-testid="thumb"] img')].every((i) => i.complete && i.naturalWidth > 0));
    await bothSizes(page, "clin-03-timeline");

    // the viewer: zoom with the keyboard and the buttons, next photo, the original behind a confirmation
    await page.click('[data-testid="thumb"] >> nth=0');
    await page.waitForSelector('[data-testid="viewer"][open]');
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('[data-testid="viewer-image"] img');
      return !!img && img.complete && img.naturalWidth > 0;
    });
    const firstTitle = await page.textContent('[data-testid="viewer-title"]');
    await page.keyboard.press("+");
    expect(await page.getAttribute('[data-testid="viewer-image"]', "data-scale")).toBe("1.25");
    await page.click('[data-testid="zoom-in"]');
    expect(Number(await page.getAttribute('[data-testid="viewer-image"]', "data-scale"))).toBeCloseTo(1.56, 2);
    await page.keyboard.press("0");
    expect(await page.getAttribute('[data-testid="viewer-image"]', "data-scale")).toBe("1.00");
    await dialogShots(page, "clin-04-viewer", '[data-testid="viewer"]');
    await page.click('[data-testid="viewer-next"]');
    await page.waitForFunction((t) => document.querySelector('[data-testid="viewer-title"]')?.textContent !== t, firstTitle);
    await page.click('[data-testid="original"]');
    await page.waitForSelector('[data-testid="original-yes"]');
    const original = await download(page, () => page.click('[data-testid="original-yes"]'));
    expect(original.name).toMatch(/^clinphoto-.+\.(jpg|jpeg|png)$/);
    expect(original.name).not.toContain(PATIENT);
    expect(original.bytes.length).toBeGreaterThan(1000);
    await page.keyboard.press("Escape");
    await page.waitForSelector('[data-testid="viewer"]', { state: "detached" });

    // comparison: the two sequences' photos paired by view
    await page.click('[data-testid="to-compare"]');
    await screen(page, "clin-compare");
    await page.waitForSelector('[data-testid="pair-count"]');
    expect(await page.textContent('[data-testid="pair-count"]')).toMatch(/: 2$/);
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>(".side-by-side img")].every((i) => i.complete && i.naturalWidth > 0));
    await bothSizes(page, "clin-05-compare-side");
    // alignment by two landmarks: the After photo is moved onto Before in the overlay
    await page.click('[data-testid="align-start"]');
    const box = async (sel: string) => (await page.locator(sel).boundingBox())!;
    const L = await box('[data-testid="left-img"]');
    const R = await box('[data-testid="right-img"]');
    await page.mouse.click(L.x + L.width * 0.3, L.y + L.height * 0.4);
    await page.mouse.click(L.x + L.width * 0.7, L.y + L.height * 0.4);
    await page.mouse.click(R.x + R.width * 0.35, R.y + R.height * 0.5);
    await page.mouse.click(R.x + R.width * 0.75, R.y + R.height * 0.5);
    await page.waitForSelector('[data-testid="align-clear"]');
    expect(await page.locator(".side-by-side .mark").count()).toBe(4);
    await bothSizes(page, "clin-05b-compare-aligned");
    await page.click('[data-testid="mode-overlay"]');
    // the overlay applies the alignment once both images have laid out (slower on a loaded machine)
    await page.waitForFunction(() => /matrix\(/.test(document.querySelector('[data-testid="overlay-after"]')?.getAttribute("style") ?? ""),
      undefined, { timeout: 10_000 });
    const moved = await page.getAttribute('[data-testid="overlay-after"]', "style");
    const m = /matrix\(([^)]+)\)/.exec(moved ?? "")?.[1]?.split(",").map(Number);
    expect(m).toHaveLength(6);
    expect(m![0]).toBeCloseTo(1, 1); // same spacing: no scale
    expect(Math.abs(m![1]!)).toBeLessThan(0.02); // level on both: no turn
    expect(m![4]).toBeLessThan(0); // After's landmarks sit right of Before's: moved left
    await page.focus('[data-testid="slider"]');
    await page.keyboard.press("ArrowRight");
    expect(await page.getAttribute('[data-testid="slider"]', "aria-valuenow")).toBe("55");
    await bothSizes(page, "clin-06-compare-overlay");
    await page.click('[data-testid="mode-blink"]');
    const shown = await page.getAttribute('[data-testid="blink"]', "data-shown");
    await page.waitForFunction((s) => document.querySelector('[data-testid="blink"]')?.getAttribute("data-shown") !== s, shown);
    await page.click('[data-testid="blink-toggle"]');
    const paused = await page.getAttribute('[data-testid="blink"]', "data-shown");
    await page.click('[data-testid="blink-swap"]');
    expect(await page.getAttribute('[data-testid="blink"]', "data-shown")).not.toBe(paused);
    await page.click('[data-testid="pair-next"]');
    await page.goBack();
    await screen(page, "clin-timeline");
    await page.waitForSelector('[data-testid="sequence"]');

    // export: a teaching export of nose photos needs publication consent; the screen says so before asking
    await page.click('[data-testid="pick"] >> nth=0');
    await page.click('[data-testid="pick"] >> nth=1');
    await page.click('[data-testid="purpose-teaching"]');
    const before = await page.getAttribute('[data-testid="sequence"] >> nth=0', "data-sequence");
    const level = await page.textContent('[data-testid="consent-level"] >> nth=0');
    if ((await page.locator('[data-testid="export-refused"]').count()) === 0) {
      throw new Error(`expected a refusal preview at consent ${level}`);
    }
    expect(await page.isDisabled('[data-testid="export-go"]')).toBe(true);
    await bothSizes(page, "clin-07-export-refused");

    // consent: the dialog refuses an empty reason, then changes the level to publication
    await page.click('[data-testid="consent-change"] >> nth=0');
    await page.waitForSelector('[data-testid="consent-dialog"][open]');
    await page.click('[data-testid="level-publication"]');
    await page.click('[data-testid="consent-save"]');
    await page.waitForSelector('[data-testid="reason-error"]');
    await dialogShots(page, "clin-08-consent-dialog", '[data-testid="consent-dialog"]');
    await page.fill('[data-testid="consent-reason"]', "Le patient accepte la publication, signé ce jour");
    await page.click('[data-testid="consent-save"]');
    await page.waitForSelector('[data-testid="consent-dialog"]', { state: "detached" });
    await page.waitForFunction(
      (id) => document.querySelector(`[data-sequence="${id}"] [data-testid="consent-level"]`)?.textContent === "Publication", before);

    // the same export now goes: a ZIP, de-identified
    await page.waitForSelector('[data-testid="export-refused"]', { state: "detached" });
    await bothSizes(page, "clin-09-export-ready");
    const zip = await download(page, () => page.click('[data-testid="export-go"]'));
    expect(zip.name).toMatch(/^clinphoto-export-\d{4}-\d{2}-\d{2}\.zip$/);
    expect(zip.bytes.subarray(0, 2).toString()).toBe("PK");
    expect(zip.bytes.includes(Buffer.from(PATIENT))).toBe(false);
    expect(zip.bytes.includes(Buffer.from("manifest.json"))).toBe(true);

    // activity figures
    await page.goto(`${server.origin}/#/stats`);
    await screen(page, "clin-stats");
    await page.waitForSelector('[data-testid="stats-totals"]');
    expect(await page.textContent('[data-testid="stats-totals"]')).toContain("4");
    expect(await page.locator('[data-testid="by-month"] table tbody tr').count()).toBeGreaterThan(0);
    await bothSizes(page, "clin-10-stats");
    const csv = await download(page, () => page.click('[data-testid="stats-csv"]'));
    expect(csv.bytes.toString("utf8")).toMatch(/^dimension,key,label,patients,sequences,photos/);
    await ctx.close();
  });

  it("never opens the workspace to a nurse", async () => {
    const link = await invite(server, spec, "nurse", "Nurse Joy");
    const profile = spec.profile();
    const ctx = await launch(profile);
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await addPasskeyAuthenticator(page);
    await page.goto(link);
    await screen(page, "register");
    await page.click('[data-testid="passkey"]');
    await page.waitForSelector(".tabs");
    expect(await page.locator('.tabs a[href="#/patients"]').count()).toBe(0);
    await page.goto(`${server.origin}/#/patients/${PATIENT}`);
    await page.waitForFunction(() => location.hash !== "" && !location.hash.startsWith("#/patients"));
    expect(await page.locator('[data-screen^="clin-"]').count()).toBe(0);
    await ctx.close();
  });
});
