// The surgeon's day end to end, in Debian's Chromium against the real server:
// enrol → unlock with a passkey → offline → reload offline → 3 photos → close → reopen offline
// → online → sync → the server holds them, the phone deleted its copies after the receipt.
import { mkdirSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { launch } from "./browser.ts";
import { scratch } from "./scratch.ts";
import { enrolAsPerson, newSequence, outboxPhotos, screen, serviceWorkerReady, shots, syncAndWait } from "./flow.ts";
import { dumpStorage, leaks } from "./idb-dump.ts";
import { TestServer } from "./server.ts";

mkdirSync(process.env.CLINPHOTO_SHOTS ?? "/tmp/clinphoto-shots", { recursive: true });

describe("capture offline, sync later", () => {
  let server: TestServer;
  const spec = scratch();
  beforeAll(async () => {
    server = await spec.server();
  });

  it("keeps 3 sealed photos offline across a browser restart and syncs them with a verified receipt", async () => {
    const patientId = "IPP-80412345";
    const profile = spec.profile();
    let ctx = await launch(profile);
    let page = ctx.pages()[0] ?? (await ctx.newPage());
    await enrolAsPerson(page, server);
    await serviceWorkerReady(page);

    await ctx.setOffline(true);
    await page.reload();
    await screen(page, "home");
    await shots(page, "03-home-locked");
    await page.click('[data-testid="person"]'); // the surgeon's name, then their passkey
    await page.waitForSelector('[data-testid="new-sequence"]');
    await newSequence(page, patientId, 3, true);
    expect(await outboxPhotos(page)).toBe(3);
    await shots(page, "08-home-pending");

    const dump = await dumpStorage(page);
    expect(dump.photos).toHaveLength(3);
    expect(leaks(dump, patientId)).toEqual([]);
    // The sequence is kept for sync only as its form sealed to the hospital key (CPF1), and no
    // key that could open anything is stored: a forensic copy of the profile yields no identity.
    expect(dump.sealedForms).toHaveLength(1);
    expect(dump.sealedForms[0]).toMatch(/^Q1BGMQ[A-Za-z0-9_-]+$/);
    expect(dump.cryptoKeys).toEqual([]);
    await ctx.close();

    ctx = await launch(profile, { offline: true });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(server.origin);
    await screen(page, "home");
    expect(await outboxPhotos(page)).toBe(3);

    await ctx.setOffline(false);
    await syncAndWait(page);
    await shots(page, "09-home-synced");
    expect(await outboxPhotos(page)).toBe(0);

    const filed = server.photos().filter((p) => p.patient_id === patientId && p.state !== "expected");
    expect(filed.map((p) => p.id).sort()).toEqual(dump.photos.map((p) => p.id).sort());
    for (const p of dump.photos) {
      const f = filed.find((x) => x.id === p.id)!;
      expect([f.sha256, f.sealed_sha256]).toEqual([p.sha256, p.sealedSha256]);
    }
    const after = await dumpStorage(page);
    expect(after.photos).toEqual([]);
    expect(after.receipts).toHaveLength(1);
    const receipt = (after.receipts[0] as { document: { receipt: { photos: { photo_id: string }[] } } }).document.receipt;
    expect(receipt.photos.map((p) => p.photo_id).sort()).toEqual(dump.photos.map((p) => p.id).sort());
    await ctx.close();
  });

  it("resumes a sync killed mid-upload and mid-commit: nothing lost, nothing duplicated; then a revoked phone is wiped", async () => {
    const patientId = "778899001";
    const profile = spec.profile();
    const ctx = await launch(profile, { locale: "fr-FR" });
    let page = ctx.pages()[0] ?? (await ctx.newPage());
    await enrolAsPerson(page, server, { name: "Dr Paul Leroy", pin: "246813", label: "second phone" });
    await newSequence(page, patientId, 3);
    const before = await dumpStorage(page);
    expect(before.photos).toHaveLength(3);
    expect(leaks(before, patientId)).toEqual([]);

    // 1. Kill the page at the second upload request.
    let uploads = 0;
    await ctx.route("**/api/v1/uploads/**", async (route) => {
      if (route.request().method() === "PATCH" && ++uploads === 2) {
        await page.close();
        return route.abort();
      }
      return route.continue();
    });
    await page.click('[data-testid="sync"]');
    await expect.poll(() => page.isClosed(), { timeout: 30_000 }).toBe(true);
    await ctx.unroute("**/api/v1/uploads/**");
    expect(server.photos().filter((p) => p.patient_id === patientId && p.state !== "expected").length).toBeLessThan(3);

    // 2. Resume, and kill the page once the server committed but before the phone saw the receipt.
    page = await ctx.newPage();
    await ctx.route("**/api/v1/batches/*/commit", async (route) => {
      await route.fetch();
      await page.close();
      return route.abort();
    });
    await page.goto(server.origin);
    await screen(page, "home");
    expect(await outboxPhotos(page)).toBe(3);
    await page.click('[data-testid="sync"]');
    await expect.poll(() => page.isClosed(), { timeout: 30_000 }).toBe(true);
    await ctx.unroute("**/api/v1/batches/*/commit");

    // 3. Resume again: the phone fetches the stored receipt, checks it, then deletes.
    page = await ctx.newPage();
    await page.goto(server.origin);
    await screen(page, "home");
    expect(await outboxPhotos(page)).toBe(3);
    await syncAndWait(page);
    expect(await outboxPhotos(page)).toBe(0);
    const filed = server.photos().filter((p) => p.patient_id === patientId && p.state !== "expected");
    expect(filed.map((p) => p.id).sort()).toEqual(before.photos.map((p) => p.id).sort());
    expect(new Set(server.photos().map((p) => p.id)).size).toBe(server.photos().length);

    // 4. Remote wipe: the administrator revokes the phone; its next contact erases it.
    const deviceId = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((r) => { const q = indexedDB.open("clinphoto"); q.onsuccess = () => r(q.result); });
      const v = await new Promise<{ deviceId: string }>((r) => { const g = db.transaction("kv").objectStore("kv").get("device"); g.onsuccess = () => r(g.result); });
      db.close();
      return v.deviceId;
    });
    server.revoke(deviceId);
    await page.click('[data-testid="sync"]');
    await screen(page, "wiped");
    await shots(page, "10-wiped");
    await page.reload();
    await screen(page, "enrol");
    const left = await dumpStorage(page);
    expect(left.photos).toEqual([]);
    await ctx.close();
  });
});
