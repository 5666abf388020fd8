// People in a real Chromium with the CDP virtual authenticator: the first administrator's link
// printed by `clinphoto serve`, passkey registration and sign-in, device enrolment with QR code,
// inviting a nurse who lands on the docking station; a new link for a surgeon, who adds a second
// passkey, removes the first and opens an emergency access. Screens shot in both languages,
// phone and desktop.
import { mkdirSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { addPasskeyAuthenticator, launch, VIRTUAL_PASSKEY } from "./browser.ts";
import { scratch } from "./scratch.ts";
import { bothSizes, screen } from "./flow.ts";
import { TestServer } from "./server.ts";

mkdirSync(process.env.CLINPHOTO_SHOTS ?? "/tmp/clinphoto-shots", { recursive: true });

describe("people: passkeys, administration, docking station", () => {
  let server: TestServer;
  const spec = scratch();
  beforeAll(async () => {
    server = await spec.server();
  });

  it("registers the first administrator, enrols a device, invites a nurse who sees the station", async () => {
    const link = /http:\/\/localhost:\d+\/#\/register\/[A-Za-z0-9_-]+/.exec(server.logs())?.[0];
    expect(link).toBeTruthy();
    const profile = spec.profile();
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
    const { credential } = (await enrolled.json()) as { credential: string };
    await page.reload();
    await screen(page, "admin");
    await page.waitForSelector('[data-testid="admin-pending"][data-state="awaiting_confirmation"]');
    await bothSizes(page, "p1b-admin-awaiting-confirmation");
    const confirmed = await fetch(`${server.origin}/api/v1/devices/enroll/confirm`, {
      method: "POST", headers: { Authorization: `Bearer ${credential}` },
    });
    expect(confirmed.status).toBe(200);

    await page.fill('input[name="person-name"]', "Nurse Ratched");
    await page.selectOption('select[name="role"]', "nurse");
    await page.click('form:has(input[name="person-name"]) button[type="submit"]');
    const invite = await (await page.waitForSelector('[data-testid="invitation"] .mono')).textContent();
    await bothSizes(page, "p2-admin");

    // the only administrator cannot revoke themselves: the server refuses, the screen says why
    page.once("dialog", (d) => void d.accept());
    await page.locator('[data-testid="admin-person"]', { hasText: "Administrator" }).locator('[data-testid="revoke-person"]').click();
    await page.waitForSelector("text=/last administrator who can sign in|dernier administrateur qui peut se connecter/");
    await bothSizes(page, "p2b-last-administrator");

    // sign out, sign back in with the same passkey
    await page.click('[data-testid="signout"]');
    await screen(page, "signin");
    await bothSizes(page, "p3-signin");
    await page.click('[data-testid="passkey"]');
    await screen(page, "admin");
    await ctx.close();

    // the nurse, on another computer, with her own passkey
    const nurseProfile = spec.profile();
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

  it("gives a surgeon a new link, who adds a passkey, removes the old one and opens an emergency access", async () => {
    const adminProfile = spec.profile();
    const adminCtx = await launch(adminProfile);
    const admin = adminCtx.pages()[0] ?? (await adminCtx.newPage());
    admin.on("dialog", (d) => void d.accept());
    await addPasskeyAuthenticator(admin);
    await admin.goto(server.adminLink("Second administrator"));
    await screen(admin, "register");
    await admin.click('[data-testid="passkey"]');
    await screen(admin, "admin");

    await admin.fill('input[name="person-name"]', "Dr Ada Surgeon");
    await admin.selectOption('select[name="role"]', "surgeon");
    await admin.click('form:has(input[name="person-name"]) button[type="submit"]');
    const first = await (await admin.waitForSelector('[data-testid="invitation"] .mono')).textContent();
    // the first link was lost: a new one replaces it
    const row = admin.locator('[data-testid="admin-person"]', { hasText: "Dr Ada Surgeon" });
    await row.locator('[data-testid="reinvite"]').click();
    await admin.waitForFunction((old) => {
      const card = document.querySelector('[data-testid="invitation"]');
      return !!card && card.textContent!.includes("Dr Ada Surgeon") && !card.textContent!.includes(old!);
    }, first);
    const link = await admin.textContent('[data-testid="invitation"] .mono');
    expect(link).not.toBe(first);
    expect(await admin.locator('[data-testid="invitation"] img').getAttribute("src")).toMatch(/^data:image\/svg\+xml/);
    await bothSizes(admin, "p5-admin-new-link");

    const profile = spec.profile();
    const ctx = await launch(profile, { locale: "fr-FR" });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on("dialog", (d) => void d.accept());
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const { authenticatorId: theatrePhone } = await cdp.send("WebAuthn.addVirtualAuthenticator", { options: VIRTUAL_PASSKEY });
    await page.goto(first!.replace(/^http:\/\/localhost:\d+/, server.origin));
    await screen(page, "register");
    await page.click('[data-testid="passkey"]');
    await page.waitForSelector(".msg-error"); // the replaced link no longer works
    await page.goto(link!.replace(/^http:\/\/localhost:\d+/, server.origin));
    await screen(page, "register");
    await page.fill('input[name="label"]', "Téléphone du bloc");
    await page.click('[data-testid="passkey"]');
    await screen(page, "clin-search"); // a surgeon's home is the patient search; My account is a tab away
    await page.click('a[href="#/account"]');
    await screen(page, "account");
    expect(await page.locator('[data-testid="passkey-row"]').count()).toBe(1);
    expect(await page.isDisabled('[data-testid="remove-passkey"]')).toBe(true); // never the last one
    await page.waitForSelector('[data-testid="only-passkey"]');
    await bothSizes(page, "p6-account-one");

    // the theatre phone's authenticator goes away; the office computer's comes
    await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: theatrePhone });
    await cdp.send("WebAuthn.addVirtualAuthenticator", { options: VIRTUAL_PASSKEY });
    await page.fill('input[name="passkey-label"]', "Ordinateur du bureau");
    await page.click('[data-testid="add-passkey"]');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="passkey-row"]').length === 2);
    await page.waitForSelector(".msg-ok");
    await bothSizes(page, "p7-account-two");
    const old = page.locator('[data-testid="passkey-row"]', { hasText: "Téléphone du bloc" });
    await old.locator('[data-testid="remove-passkey"]').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="passkey-row"]').length === 1);
    expect(await page.textContent('[data-testid="passkey-row"]')).toContain("Ordinateur du bureau");
    expect(await page.isDisabled('[data-testid="remove-passkey"]')).toBe(true);

    // the remaining passkey signs in
    await page.click('[data-testid="signout"]');
    await screen(page, "signin");
    await page.click('[data-testid="passkey"]');
    await screen(page, "account"); // signing in again keeps the screen the person was on

    // emergency access: a reason too short is refused, a real one opens it with a countdown
    await page.click('a[href="#/break-glass"]');
    await screen(page, "break-glass");
    await page.fill('textarea[name="reason"]', "urgence");
    await page.click('[data-testid="open-break-glass"]');
    await page.waitForSelector(".msg-error");
    await bothSizes(page, "p8-break-glass");
    await page.fill('textarea[name="reason"]', "Reprise en urgence, le chirurgien du patient est injoignable");
    await page.click('[data-testid="open-break-glass"]');
    await page.waitForSelector('[data-testid="break-glass-open"]');
    const banner = await page.textContent('[data-testid="break-glass-banner"]');
    expect(banner).toMatch(/\d+ (min|h)/);
    await bothSizes(page, "p9-break-glass-open");
    await page.click('a[href="#/account"]');
    await screen(page, "account");
    await page.waitForSelector('[data-testid="break-glass-banner"]'); // on every screen while open
    await ctx.close();
    await adminCtx.close();
  }, 180_000);
});
