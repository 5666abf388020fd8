// The right patient (issue 11, point 5): the phone fetches today's patients of its department while online
// and keeps them sealed; identifying a patient shows their name and birth date to confirm, offline too;
// an identifier not in the list is allowed but the sequence is marked unverified, in the sealed form.
import { mkdirSync } from "node:fs";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { axeBothLanguages } from "./axe.ts";
import { launch } from "./browser.ts";
import { enrolAsPerson, fillForm, finish, identify, RHINOPLASTY, screen, shoot, shots, syncAndWait, cameraLive } from "./flow.ts";
import { admit, sendAdt } from "./mllp.ts";
import { scratch } from "./scratch.ts";
import { freePort } from "./server.ts";

mkdirSync(process.env.CLINPHOTO_SHOTS ?? "/tmp/clinphoto-shots", { recursive: true });

/** From the sequence form: answer it, take one photo, finish. */
async function photographOne(page: Page): Promise<void> {
  await fillForm(page, RHINOPLASTY);
  await page.click('[data-testid="start-photos"]');
  await screen(page, "capture");
  await cameraLive(page);
  await shoot(page, 1);
  await finish(page);
}

describe("the right patient", () => {
  const spec = scratch();

  it("shows today's patient by name and birth date offline, and marks an identifier not in the list unverified", async () => {
    const mllp = await freePort();
    const server = await spec.server({ CLINPHOTO_HL7_MLLP_PORT: String(mllp) });
    expect(await sendAdt(mllp, admit("IPP-55001", "Martin", "Léa", "19710304", "F", "PLAST", "T1"))).toBe("AA");
    expect(await sendAdt(mllp, admit("IPP-55002", "Petit", "Anne", "19900101", "F", "ORTHO", "T2"))).toBe("AA");

    const ctx = await launch(spec.profile(), { locale: "fr-FR" });
    spec.defer(() => ctx.close());
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await enrolAsPerson(page, server);
    const phone = server.devices().find((d) => d.state === "active")!;
    server.setDepartment(phone.id, "PLAST");
    // the list comes with the next unlock while online
    await page.click('[data-testid="lock"]');
    const fetched = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/v1/devices/me/today", { timeout: 30_000 });
    await page.click('[data-testid="person"]');
    expect((await fetched).status()).toBe(200);
    await screen(page, "home");
    await page.waitForFunction(async () => {
      const db = await new Promise<IDBDatabase>((r) => { const q = indexedDB.open("clinphoto"); q.onsuccess = () => r(q.result); });
      const v = await new Promise<unknown>((r) => { const g = db.transaction("kv").objectStore("kv").get("today"); g.onsuccess = () => r(g.result); });
      db.close();
      return v !== undefined;
    }, undefined, { timeout: 30_000 });

    await ctx.setOffline(true); // in the operating room
    await identify(page, "IPP-55001");
    await page.waitForSelector('[data-testid="today-found"]');
    expect(await page.textContent('[data-testid="today-found"]')).toContain("MARTIN Léa · née le 4 mars 1971");
    expect(await page.textContent('[data-testid="today-found"]')).toContain("Dans la liste du jour de PLAST");
    await shots(page, "today-found");
    const found = await axeBothLanguages(page, "today-found");
    await photographOne(page);

    // another department's patient, or a typing slip: allowed, said so, marked unverified
    await identify(page, "IPP-55002");
    await page.waitForSelector('[data-testid="today-unverified"]');
    expect(await page.textContent('[data-testid="today-unverified"]')).toContain("Absent de la liste du jour de PLAST");
    await shots(page, "today-unverified");
    const unverified = await axeBothLanguages(page, "today-unverified");
    await page.click('[data-testid="lang"]');
    await page.waitForFunction(() => document.documentElement.lang === "en");
    expect(await page.textContent('[data-testid="today-unverified"]')).toContain("Not in today's list of PLAST");
    await page.click('[data-testid="lang"]');
    await photographOne(page);

    await ctx.setOffline(false);
    await syncAndWait(page);
    expect(server.sequencePatients().sort((a, b) => a.patient_id.localeCompare(b.patient_id))).toEqual([
      { patient_id: "IPP-55001", patient_verified: true },
      { patient_id: "IPP-55002", patient_verified: false },
    ]);
    expect(Object.fromEntries(Object.entries({ ...found, ...unverified }).filter(([, v]) => v.length))).toEqual({});
  });
});
