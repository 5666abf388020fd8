// Ghost overlay at capture (issue 10, point 5), in Debian's Chromium against the real server: a first
// sequence is synced; a second sequence for the same patient, started online, shows the prior of the
// matching view faintly over the viewfinder; a view without a prior and another patient show none.
import { mkdirSync } from "node:fs";
import type { BrowserContext, Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { launch } from "./browser.ts";
import { scratch } from "./scratch.ts";
import { bothSizes, cameraLive, enrolAsPerson, fillForm, finish, identify, newSequence, RHINOPLASTY, screen, serviceWorkerReady, shoot, shots, syncAndWait } from "./flow.ts";
import { dumpStorage, leaks } from "./idb-dump.ts";
import { TestServer } from "./server.ts";

mkdirSync(process.env.CLINPHOTO_SHOTS ?? "/tmp/clinphoto-shots", { recursive: true });

/** Identify the patient and fill the form online; the capture screen opens and has looked up its priors. */
async function startCapture(page: Page, patientId: string): Promise<void> {
  await identify(page, patientId);
  await fillForm(page, RHINOPLASTY);
  const fetched = page.waitForResponse((r) => r.url().includes("/api/v1/devices/me/priors"), { timeout: 30_000 });
  await page.click('[data-testid="start-photos"]');
  await screen(page, "capture");
  expect((await fetched).status()).toBe(200);
  await cameraLive(page);
}

/** Wait until the screen has looked up the prior of the current view after the fetch. */
async function looked(page: Page): Promise<string> {
  const view = (await page.getAttribute('[data-testid="expected-view"]', "data-view"))!;
  await page.waitForSelector(`[data-testid="viewfinder"][data-ghost-looked="1:${view}"]`, { timeout: 30_000 });
  return view;
}

describe("ghost overlay at capture", () => {
  let server: TestServer;
  let ctx: BrowserContext;
  let page: Page;
  const spec = scratch();

  beforeAll(async () => {
    server = await spec.server();
    ctx = await launch(spec.profile());
    spec.defer(() => ctx.close());
    page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.setViewportSize({ width: 390, height: 844 });
    await enrolAsPerson(page, server);
    await serviceWorkerReady(page);
  });

  it("shows the patient's prior of the matching view, and none for a view without one or for another patient", async () => {
    const patientId = "IPP-55001";
    await newSequence(page, patientId, 2);
    await syncAndWait(page);
    await expect.poll(() => server.photos().filter((p) => p.patient_id === patientId && p.state === "verified").length,
      { timeout: 60_000, interval: 200 }).toBe(2);
    // The phone setting: how long priors are kept, a week unless changed.
    expect(await page.inputValue('select[name="prior-days"]')).toBe("7");
    await bothSizes(page, "ghost-home");
    const priorViews = server.photos().filter((p) => p.patient_id === patientId).map((p) => p.view);

    // Second sequence, same patient, online: the first view was shot last time, so its ghost shows.
    await startCapture(page, patientId);
    const first = await looked(page);
    expect(priorViews).toContain(first);
    const ghost = await page.waitForSelector('[data-testid="ghost"]', { timeout: 30_000 });
    await page.waitForFunction(() => (document.querySelector('[data-testid="ghost"]') as HTMLImageElement | null)?.naturalWidth! > 0);
    expect(Number(await ghost.evaluate((e) => getComputedStyle(e).opacity))).toBeCloseTo(0.35, 2);
    await bothSizes(page, "ghost-capture");
    // Kept encrypted: neither the patient id nor a JPEG is readable in the phone's storage.
    expect(leaks(await dumpStorage(page), patientId)).toEqual([]);
    await page.evaluate(() => document.querySelector('[data-testid="ghost-controls"]')!.scrollIntoView({ block: "end" }));
    await shots(page, "ghost-controls-390");

    // The surgeon can fade it and hide it, and bring it back.
    await page.getByLabel("Previous photo opacity").fill("60"); // found by its accessible name
    expect(Number(await ghost.evaluate((e) => getComputedStyle(e).opacity))).toBeCloseTo(0.6, 2);
    await page.getByRole("button", { name: "Hide the previous photo" }).click();
    expect(await page.$('[data-testid="ghost"]')).toBeNull();
    expect(await page.textContent('[data-testid="ghost-toggle"]')).toBe("Show the previous photo");
    await page.click('[data-testid="ghost-toggle"]');
    await page.waitForSelector('[data-testid="ghost"]');

    // Two views shot: the third had no photo last time, so no ghost.
    await shoot(page, 1);
    await shoot(page, 2);
    const third = await looked(page);
    expect(priorViews).not.toContain(third);
    expect(await page.$('[data-testid="ghost"]')).toBeNull();
    expect(await page.$('[data-testid="ghost-controls"]')).toBeNull();
    await finish(page);

    // Another patient: never this patient's ghost.
    await startCapture(page, "IPP-55002");
    await looked(page);
    expect(await page.$('[data-testid="ghost"]')).toBeNull();
  });
});
