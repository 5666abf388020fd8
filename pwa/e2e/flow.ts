// Steps a person takes in the app, shared by the end-to-end tests.
import type { Page } from "playwright-core";
import { expect } from "vitest";
import { forgetPasskeys, passkeyAuthenticator, shot } from "./browser.ts";
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

/** The administrator invites a surgeon from the admin screen; their one-time registration link. */
export async function inviteFromAdmin(page: Page, name: string): Promise<string> {
  const before = await page.$eval('[data-testid="invitation"] .mono', (e) => e.textContent).catch(() => null);
  await page.fill('input[name="person-name"]', name);
  await page.selectOption('select[name="role"]', "surgeon");
  await page.click('form:has(input[name="person-name"]) button[type="submit"]');
  await page.waitForFunction((b) => {
    const t = document.querySelector('[data-testid="invitation"] .mono')?.textContent;
    return !!t && t !== b;
  }, before);
  return (await page.textContent('[data-testid="invitation"] .mono'))!.trim();
}

export const SURGEON = "Dr Claire Morel";

/** A surgeon on this phone: who unlocks it (their passkey's PRF, or their own PIN). */
export interface Person {
  name?: string;
  /** Their own PIN for this phone; without one, their passkey (PRF) unlocks it. */
  pin?: string;
}

/**
 * The surgeon opens the invitation link an administrator gave them on this phone and creates their
 * ClinPhoto passkey there (online once); the page leaves the registration screen.
 */
export async function registerPasskey(page: Page, link: string): Promise<void> {
  await page.goto("about:blank"); // the people's app starts on a load, not on a hash change
  await page.goto(link);
  await screen(page, "register");
  await page.click('[data-testid="passkey"]');
  await page.waitForFunction(() => !document.querySelector('[data-screen="register"]'), undefined, { timeout: 30_000 });
  await page.goto("about:blank"); // the next address (the capture app) starts on a load, not on a hash change
}

/** On the setup screen (nobody on the phone yet): the person adds themselves, with their passkey or PIN. */
export async function addMyself(page: Page, who: Person = {}): Promise<void> {
  await page.click('[data-testid="setup-person"]');
  await screen(page, "add-person");
  await page.click('[data-testid="person-signin"]');
  await page.waitForSelector('[data-testid="person-added"]', { timeout: 30_000 });
  if (who.pin) {
    await page.click('[data-testid="person-use-pin"]');
    await page.fill('[data-testid="person-pin"]', who.pin);
    await page.fill('[data-testid="person-pin2"]', who.pin);
    await page.click('[data-testid="person-save-pin"]');
  } else {
    await page.click('[data-testid="person-use-passkey"]');
  }
  await screen(page, "home");
}

/**
 * A surgeon's phone on the ward: an administrator invites them (`clinphoto invite`), they register
 * their passkey on the phone, the phone enrols with a code, and they add themselves to it. The home
 * screen, unlocked as them. Returns their name.
 */
export async function enrolAsPerson(page: Page, server: TestServer, who: Person & { label?: string } = {}): Promise<string> {
  const name = who.name ?? SURGEON;
  await passkeyAuthenticator(page);
  await registerPasskey(page, server.inviteLink(name));
  await enrol(page, server.origin, server.enrolmentCode(who.label));
  await addMyself(page, who);
  return name;
}

/**
 * The service worker is active and controls the page (the app works offline from here). Bounded: a page
 * the worker did not claim is loaded again once, as a person reopening the app would; then it fails.
 */
export async function serviceWorkerReady(page: Page): Promise<void> {
  const controlled = () => page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (navigator.serviceWorker.controller) return true;
    return new Promise<boolean>((r) => {
      navigator.serviceWorker.addEventListener("controllerchange", () => r(true), { once: true });
      // Installing precaches the shell and the barcode decoder (about 1 MB of WebAssembly): on a
      // loaded 2-core CI machine that once took longer than 15 s. A reload is the last resort, since
      // it locks the app again.
      setTimeout(() => r(!!navigator.serviceWorker.controller), 90_000);
    });
  });
  if (await controlled()) return;
  console.warn("serviceWorkerReady: the worker did not claim the page in 90 s; reloading it");
  const wasHome = await page.$('[data-screen="home"]');
  await page.reload();
  await page.waitForLoadState("load");
  if (!(await controlled())) throw new Error("the service worker does not control the page after a reload");
  if (wasHome) {
    // reopening locks the app, as on a phone: its one person unlocks it again with their passkey
    await screen(page, "home");
    const people = await page.$$('[data-testid="person"][data-method="prf"]');
    if (people.length === 1 && !(await page.$('[data-testid="new-sequence"]'))) {
      await people[0]!.click();
      await page.waitForSelector('[data-testid="new-sequence"]', { timeout: 30_000 });
    }
  }
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
 * link `clinphoto serve` printed, invites a surgeon and enrols this phone from the admin screen; the
 * surgeon registers their passkey on the phone, the phone enrols (enrol, then confirm), the surgeon
 * adds themselves to it (their passkey unlocks it), the service worker takes over, a sequence of
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
  const link = await inviteFromAdmin(page, SURGEON);

  await forgetPasskeys(page); // the administrator's passkey stays on the desk: this page is now the phone
  await registerPasskey(page, link.replace(/^https?:\/\/[^/]+/, server.origin));
  await enrol(page, server.origin, code);
  await addMyself(page);
  await serviceWorkerReady(page);
  await newSequence(page, patientId, photos);
  expect(await outboxPhotos(page)).toBe(photos);
  await syncAndWait(page);
  expect(await outboxPhotos(page)).toBe(0);
  return server.photos().filter((p) => p.patient_id === patientId && p.state !== "expected").map((p) => p.id);
}
