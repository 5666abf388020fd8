// The security officer in a real Chromium against the real server: signs in with a passkey,
// reads the journal, checks it against the signed checkpoint, filters by patient, opens an entry
// with its verified inclusion proof, exports CSV and FHIR NDJSON with the filters, acknowledges an
// alert raised by failed sign-ins, restricts and releases a patient. Screens shot in both
// languages, phone and desktop.
import { mkdirSync, readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { addPasskeyAuthenticator, launch } from "./browser.ts";
import { scratch } from "./scratch.ts";
import { bothSizes, screen } from "./flow.ts";
import { TestServer } from "./server.ts";

mkdirSync(process.env.CLINPHOTO_SHOTS ?? "/tmp/clinphoto-shots", { recursive: true });

const WATCHED = "IPP-7001";
const OTHER = "IPP-7002";

async function download(page: Page, button: string): Promise<{ name: string; text: string }> {
  const [file] = await Promise.all([page.waitForEvent("download"), page.click(button)]);
  const path = await file.path();
  return { name: file.suggestedFilename(), text: readFileSync(path, "utf8") };
}

describe("security officer: journal, proof, exports, alerts, restricted patients", () => {
  let server: TestServer;
  const spec = scratch();
  beforeAll(async () => {
    server = await spec.server({ CLINPHOTO_AUDIT_ALERT_SCAN_SECONDS: "1" });
  });

  it("finds a patient's entries, proves one, exports them and acknowledges an alert", async () => {
    // the hospital index arrives: each identity is an audited entry naming its patient
    server.importPatients([{ id: WATCHED, family: "Martin", given: "Anne" }, { id: OTHER, family: "Bernard", given: "Luc" }]);

    // the administrator invites the officer
    const link = /http:\/\/localhost:\d+\/#\/register\/[A-Za-z0-9_-]+/.exec(server.logs())?.[0];
    expect(link).toBeTruthy();
    const adminProfile = spec.profile();
    const adminCtx = await launch(adminProfile);
    const admin = adminCtx.pages()[0] ?? (await adminCtx.newPage());
    await addPasskeyAuthenticator(admin);
    await admin.goto(link!.replace(/^http:\/\/localhost:\d+/, server.origin));
    await screen(admin, "register");
    await admin.click('[data-testid="passkey"]');
    await screen(admin, "admin");
    await admin.fill('input[name="person-name"]', "Claire Officer");
    await admin.selectOption('select[name="role"]', "security_officer");
    await admin.click('form:has(input[name="person-name"]) button[type="submit"]');
    const invite = await (await admin.waitForSelector('[data-testid="invitation"] .mono')).textContent();
    await adminCtx.close();

    // five failed sign-ins from one address: an alert
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${server.origin}/api/v1/auth/signin/finish`, {
        method: "POST", headers: { "Content-Type": "application/json", Origin: server.origin },
        body: JSON.stringify({ challenge_id: `forged-${i}`, credential: { id: "AAAA", rawId: "AAAA", type: "public-key", response: {} } }),
      });
      expect(res.status).toBeGreaterThanOrEqual(400);
    }

    const profile = spec.profile();
    const ctx = await launch(profile, { locale: "fr-FR" });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await addPasskeyAuthenticator(page);
    await page.goto(invite!.replace(/^http:\/\/localhost:\d+/, server.origin));
    await screen(page, "register");
    await page.click('[data-testid="passkey"]');

    // the journal, newest first, and its verification against the latest signed checkpoint
    await screen(page, "officer-journal");
    await page.waitForSelector('[data-testid="entry"]');
    const seqs = await page.$$eval('[data-testid="entry"]', (rows) => rows.map((r) => Number(r.getAttribute("data-seq"))));
    expect(seqs.length).toBeGreaterThan(3);
    expect([...seqs].sort((a, b) => b - a)).toEqual(seqs);
    await page.waitForSelector('[data-testid="verification"][data-status="verified"]');
    expect(await page.textContent('[data-testid="verification"]')).toMatch(/Journal vérifié/);
    await bothSizes(page, "o1-journal");

    // one patient's entries only
    await page.fill('input[name="patient"]', WATCHED);
    await page.click('[data-testid="search"]');
    await page.waitForFunction((id) => {
      const rows = [...document.querySelectorAll('[data-testid="entry"]')];
      return rows.length > 0 && rows.every((r) => r.querySelector(".entry-patient")?.textContent === id);
    }, WATCHED);
    const filtered = await page.$$eval('[data-testid="entry"]', (rows) => rows.map((r) => Number(r.getAttribute("data-seq"))));
    expect(await page.textContent('[data-testid="entries"]')).not.toContain(OTHER);
    await bothSizes(page, "o2-journal-patient");

    // exports carry the filters: the CSV has its header and only this patient's rows
    const csv = await download(page, '[data-testid="export-csv"]');
    expect(csv.name).toMatch(/^clinphoto-audit-.*\.csv$/);
    const lines = csv.text.trim().split(/\r?\n/);
    expect(lines[0]).toMatch(/seq/);
    expect(lines[0]).toMatch(/patient/);
    // the rows shown, and nothing else but the log's own reads of this patient made since
    expect(lines.length - 1).toBeGreaterThanOrEqual(filtered.length);
    for (const line of lines.slice(1)) expect(line).toContain(WATCHED);
    expect(lines.filter((l) => l.includes("patient.index.add"))).toHaveLength(1);
    expect(csv.text).not.toContain(OTHER);
    await page.waitForSelector('.msg-ok');
    const ndjson = await download(page, '[data-testid="export-ndjson"]');
    const events = ndjson.text.trim().split("\n").map((l) => JSON.parse(l) as { resourceType: string; entity?: { what: { identifier: { value: string } } }[] });
    expect(events.length).toBeGreaterThanOrEqual(filtered.length);
    for (const ev of events) {
      expect(ev.resourceType).toBe("AuditEvent");
      expect(JSON.stringify(ev.entity)).toContain(WATCHED);
    }

    // one entry: every field, and its inclusion proof verified against the signed checkpoint
    await page.click(`[data-testid="entry"][data-seq="${filtered[0]}"]`);
    await screen(page, "officer-entry");
    await page.waitForSelector('[data-testid="proof"][data-verified="true"]');
    expect(await page.textContent('[data-field="patient_id"]')).toBe(WATCHED);
    expect(await page.textContent('[data-field="entry_hash"]')).toMatch(/^[0-9a-f]{64}$/);
    expect(await page.textContent('[data-testid="proof"]')).toMatch(/Prouvé/);
    await bothSizes(page, "o3-entry");
    await page.click('button[aria-label="Retour"]');
    await screen(page, "officer-journal");
    expect(await page.inputValue('input[name="patient"]')).toBe(WATCHED); // the officer's place is kept

    // the failed sign-ins raised an alert: open first, in words, acknowledged here
    await page.click('a[href="#/officer/alerts"]');
    await screen(page, "officer-alerts");
    const alert = '[data-testid="alert"][data-kind="failed_signins"]';
    await page.waitForSelector(`${alert}[data-open="true"]`, { timeout: 30_000 }).catch(async () => {
      await page.click('button:has-text("Actualiser")');
      await page.waitForSelector(`${alert}[data-open="true"]`, { timeout: 30_000 });
    });
    expect(await page.textContent(alert)).toMatch(/Échecs de connexion répétés/);
    expect(await page.getAttribute('[data-testid="alert"] >> nth=0', "data-open")).toBe("true");
    await bothSizes(page, "o4-alerts");
    await page.click(`${alert} [data-testid="acknowledge"]`);
    await page.waitForSelector(`${alert}[data-open="false"] [data-testid="acknowledged"]`);
    await bothSizes(page, "o5-alerts-acknowledged");

    // a restricted patient: marked with a reason, listed, then released with a reason
    await page.click('a[href="#/officer/restricted"]');
    await screen(page, "officer-restricted");
    await page.fill('input[name="restricted-patient"]', WATCHED);
    await page.fill('input[name="restricted-reason"]', "Personnalité publique");
    await page.click('[data-testid="restrict"]');
    await page.waitForSelector(`[data-testid="restricted-patient"]:has-text("${WATCHED}")`);
    await bothSizes(page, "o6-restricted");
    await page.click('[data-testid="lift"]');
    await page.fill('input[name="lift-reason"]', "Fin de l'hospitalisation");
    await page.click('form.lift button[type="submit"]');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="restricted-patient"]').length === 0);

    // reading and exporting the log are themselves in the log
    await page.click('a[href="#/officer"]');
    await screen(page, "officer-journal");
    await page.click('button:has-text("Effacer")');
    await page.selectOption('select[name="action"]', "audit.");
    await page.click('[data-testid="search"]');
    await page.waitForSelector('[data-testid="entry"]');
    const actions = await page.$$eval('[data-testid="entry"] .entry-action', (els) => els.map((e) => e.textContent));
    expect(actions).toContain("Journal d'audit exporté");
    expect(actions).toContain("Journal d'audit consulté");
    await ctx.close();
  }, 240_000);
});
