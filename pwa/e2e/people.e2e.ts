// People in a real Chromium with the CDP virtual authenticator: the first administrator's link
// printed by `clinphoto serve`, passkey registration and sign-in, device enrolment with QR code,
// inviting a nurse who lands on the docking station. Screens shot in both languages, phone and desktop.
import { mkdirSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { addPasskeyAuthenticator, launch, newProfileDir } from "./browser.ts";
import { screen, shots } from "./flow.ts";
import { TestServer } from "./server.ts";

mkdirSync(process.env.CLINPHOTO_SHOTS ?? "/tmp/clinphoto-shots", { recursive: true });

async function bothSizes(page: Page, name: string): Promise<void> {
  await shots(page, `${name}-390`);
  await page.setViewportSize({ width: 1280, height: 800 });
  await shots(page, `${name}-1280`);
  await page.setViewportSize({ width: 390, height: 844 });
}

describe("people: passkeys, administration, docking station", () => {
  let server: TestServer;
  const profiles: string[] = [];
  beforeAll(async () => {
    server = await TestServer.start();
  });
  afterAll(() => {
    server?.cleanup();
    profiles.forEach((p) => rmSync(p, { recursive: true, force: true }));
  });

  it("registers the first administrator, enrols a device, invites a nurse who sees the station", async () => {
    const link = /http:\/\/localhost:\d+\/#\/register\/[A-Za-z0-9_-]+/.exec(server.logs())?.[0];
    expect(link).toBeTruthy();
    const profile = newProfileDir();
    profiles.push(profile);
    const ctx = await launch(profile);
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await addPasskeyAuthenticator(page);

    await page.goto(link!.replace(/^http:\/\/localhost:\d+/, server.origin));
    await screen(page, "register");
    await bothSizes(page, "p1-register");
    await page.click('[data-testid="passkey"]');
    await screen(page, "admin");

    await page.fill('input[name="device-label"]', "Bloc 3 phone");
    await page.click('form:has(input[name="device-label"]) button[type="submit"]');
    await page.waitForSelector('[data-testid="enrolment"] img');
    const code = await page.textContent('[data-testid="enrolment"] .mono');
    expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    const enrolled = await fetch(`${server.origin}/api/v1/devices/enroll`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ code, label: "Bloc 3 phone" }),
    });
    expect(enrolled.status).toBe(201);

    await page.fill('input[name="person-name"]', "Nurse Ratched");
    await page.selectOption('select[name="role"]', "nurse");
    await page.click('form:has(input[name="person-name"]) button[type="submit"]');
    const invite = await (await page.waitForSelector('[data-testid="invitation"] .mono')).textContent();
    await bothSizes(page, "p2-admin");

    // sign out, sign back in with the same passkey
    await page.click('[data-testid="signout"]');
    await screen(page, "signin");
    await bothSizes(page, "p3-signin");
    await page.click('[data-testid="passkey"]');
    await screen(page, "admin");
    await ctx.close();

    // the nurse, on another computer, with her own passkey
    const nurseProfile = newProfileDir();
    profiles.push(nurseProfile);
    const nurseCtx = await launch(nurseProfile, { locale: "fr-FR" });
    const nursePage = nurseCtx.pages()[0] ?? (await nurseCtx.newPage());
    await addPasskeyAuthenticator(nursePage);
    await nursePage.goto(invite!.replace(/^http:\/\/localhost:\d+/, server.origin));
    await screen(nursePage, "register");
    await nursePage.click('[data-testid="passkey"]');
    await screen(nursePage, "station");
    await bothSizes(nursePage, "p4-station");
    expect(await nursePage.locator('[data-testid="station-device"]').count()).toBe(1);
    const admin = await nursePage.evaluate(async () => (await fetch("/api/v1/admin/people")).status);
    expect(admin).toBe(403);
    await nurseCtx.close();
  }, 120_000);
});
