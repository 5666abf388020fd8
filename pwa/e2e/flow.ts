// Steps a person takes in the app, shared by the end-to-end tests.
import type { Page } from "playwright-core";
import { expect } from "vitest";
import { shot } from "./browser.ts";
import type { TestServer } from "./server.ts";

export async function screen(page: Page, name: string): Promise<void> {
  await page.waitForSelector(`[data-screen="${name}"]`, { timeout: 30_000 });
}

/** Screenshot in the current language, then in the other one, and switch back. */
export async function shots(page: Page, name: string, fullPage = false): Promise<void> {
  const first = await page.evaluate(() => document.documentElement.lang);
  await shot(page, `${name}-${first}`, fullPage);
  await page.click('[data-testid="lang"]');
  await page.waitForFunction((l) => document.documentElement.lang !== l, first);
  await shot(page, `${name}-${first === "fr" ? "en" : "fr"}`, fullPage);
  await page.click('[data-testid="lang"]');
  await page.waitForFunction((l) => document.documentElement.lang === l, first);
}

/** Whole-page screenshots in both languages, at phone size (390x844) then desktop size (1280x800). */
export async function bothSizes(page: Page, name: string): Promise<void> {
  await shots(page, `${name}-390`, true);
  await page.setViewportSize({ width: 1280, height: 800 });
  await shots(page, `${name}-1280`, true);
  await page.setViewportSize({ width: 390, height: 844 });
}

export async function enrol(page: Page, origin: string, code: string): Promise<void> {
  await page.goto(origin);
  await screen(page, "enrol");
  await shots(page, "01-enrol");
  await page.fill('input[name="code"]', code);
  await page.click('button[type="submit"]');
  await screen(page, "setup");
  await shots(page, "02-setup");
}

/** Enrol, then protect the phone with a passkey (PRF): the home screen, unlocked. */
export async function enrolWithPasskey(page: Page, origin: string, code: string): Promise<void> {
  await enrol(page, origin, code);
  await page.click('[data-testid="setup-passkey"]');
  await screen(page, "home");
}

export async function serviceWorkerReady(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise<void>((r) => navigator.serviceWorker.addEventListener("controllerchange", () => r(), { once: true }));
    }
  });
}

export interface SequenceAnswers {
  procedure: string;
  region: string;
  laterality: string;
  phase: string;
  consent: string;
  protocol?: string;
}

export const RHINOPLASTY: SequenceAnswers = { procedure: "rhinoplasty", region: "nose", laterality: "not_applicable", phase: "pre_op", consent: "record", protocol: "rhinoplasty" };

/** Fill the sequence form as a surgeon does: every clinical answer is chosen, none is pre-filled. */
export async function fillForm(page: Page, a: SequenceAnswers, withShots = false): Promise<void> {
  await page.selectOption('select[name="procedure"]', a.procedure);
  await page.selectOption('select[name="anatomical_region"]', a.region);
  await page.click(`[data-field="laterality"] [data-value="${a.laterality}"]`);
  await page.click(`[data-field="timing.phase"] [data-value="${a.phase}"]`);
  await page.click(`[data-field="consent"] [data-value="${a.consent}"]`);
  if (withShots) await shots(page, "06-form");
  // A protocol the app cannot offer must fail the test, not be skipped (issue 15).
  if (a.protocol) await page.selectOption('select[name="view_protocol"]', a.protocol);
}

export async function identify(page: Page, patientId: string, withShots = false): Promise<void> {
  await page.click('[data-testid="new-sequence"]');
  await screen(page, "patient");
  if (withShots) await shots(page, "05-patient");
  await page.fill('input[name="patient"]', patientId);
  await page.fill('input[name="patient2"]', patientId);
  await page.click('button[type="submit"]');
  await screen(page, "form");
}

export async function cameraLive(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const v = document.querySelector("video");
    return !!v && v.readyState >= 2 && v.videoWidth > 0;
  }, undefined, { timeout: 30_000 });
}

export async function shoot(page: Page, total: number): Promise<void> {
  await page.click('[data-testid="shoot"]');
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="photo"]').length >= n, total, { timeout: 30_000 });
}

export async function newSequence(page: Page, patientId: string, photos: number, withShots = false, answers: SequenceAnswers = RHINOPLASTY): Promise<void> {
  await identify(page, patientId, withShots);
  await fillForm(page, answers, withShots);
  await page.click('[data-testid="start-photos"]');
  await screen(page, "capture");
  await cameraLive(page);
  for (let i = 1; i <= photos; i++) await shoot(page, i);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="photo"] img').length > 0, undefined, { timeout: 30_000 });
  if (withShots) {
    await page.evaluate(() => scrollTo(0, 0));
    await shots(page, "07-capture");
  }
  await finish(page);
}

/** Finish the sequence; an incomplete protocol asks first, and the surgeon confirms. */
export async function finish(page: Page): Promise<void> {
  await page.click('[data-testid="finish"]');
  await page.waitForSelector('[data-screen="home"], [data-testid="finish-confirm"]', { timeout: 30_000 });
  if (await page.$('[data-testid="finish-confirm"]')) await page.click('[data-testid="finish-confirm"]');
  await screen(page, "home");
}

export async function outboxPhotos(page: Page): Promise<number> {
  await page.waitForSelector('[data-testid="outbox-summary"]');
  const n = await page.getAttribute('[data-testid="outbox-summary"]', "data-photos");
  return n ? Number(n) : 0;
}

export async function syncAndWait(page: Page): Promise<void> {
  await page.click('[data-testid="sync"]');
  await page.waitForSelector(".msg-ok, .msg-error", { timeout: 60_000 });
  const err = await page.$(".msg-error");
  if (err) throw new Error(`sync failed: ${await err.textContent()}`);
}

/**
 * The first day on a ward, on one phone: the first administrator registers a passkey from the
 * link `clinphoto serve` printed, enrols this phone from the admin screen, the phone enrols
 * (enrol, then confirm) and sets its passkey, the service worker takes over, a sequence of
 * `photos` photos is taken and synced; the server holds them. Returns the photo ids.
 */
export async function wardDay(page: Page, server: TestServer, patientId: string, photos = 2): Promise<string[]> {
  await page.goto(server.firstAdminLink());
  await screen(page, "register");
  await page.click('[data-testid="passkey"]');
  await screen(page, "admin");
  await page.fill('input[name="device-label"]', "Bloc 3 phone");
  await page.click('form:has(input[name="device-label"]) button[type="submit"]');
  const code = (await (await page.waitForSelector('[data-testid="enrolment"] .mono')).textContent())!.trim();

  await enrolWithPasskey(page, server.origin, code);
  await serviceWorkerReady(page);
  await newSequence(page, patientId, photos);
  expect(await outboxPhotos(page)).toBe(photos);
  await syncAndWait(page);
  expect(await outboxPhotos(page)).toBe(0);
  return server.photos().filter((p) => p.patient_id === patientId && p.state !== "expected").map((p) => p.id);
}
