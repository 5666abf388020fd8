// Scanning in Debian's Chromium (no BarcodeDetector on Linux: the zxing-cpp WebAssembly decoder,
// loaded lazily from our own origin) with a fake camera showing a real barcode:
// the enrolment QR code fills the code; the wristband's Code 128 fills the patient identifier,
// shown big for confirmation. Also: the app opened with #enrol=<code> prefills the code.
import { mkdirSync } from "node:fs";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { addPasskeyAuthenticator } from "./browser.ts";
import { scratch } from "./scratch.ts";
import { barcodeVideo, launchWithCamera } from "./fake-camera.ts";
import { addMyself, registerPasskey, screen, serviceWorkerReady, shots, SURGEON } from "./flow.ts";
import { TestServer } from "./server.ts";

mkdirSync(process.env.CLINPHOTO_SHOTS ?? "/tmp/clinphoto-shots", { recursive: true });

async function scanningVisible(page: Page, name: string): Promise<void> {
  await page.waitForSelector('[data-step="scanning"]');
  await page.waitForFunction(() => {
    const v = document.querySelector<HTMLVideoElement>('[data-testid="scan-video"]');
    return !!v && v.readyState >= 2 && v.videoWidth > 0;
  }, undefined, { timeout: 30_000 });
  await shots(page, name);
}

describe("barcode scanning with the library decoder", () => {
  let server: TestServer;
  const spec = scratch();
  beforeAll(async () => {
    server = await spec.server();
  });

  it("enrols from the administrator's QR code (URL form)", async () => {
    const code = server.enrolmentCode("scan e2e enrol");
    const video = await barcodeVideo("qrcode", `https://photo.hopital.example/#enrol=${code}`);
    const profile = spec.profile();
    const ctx = await launchWithCamera(profile, video, "fr-FR");
    try {
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      expect(await page.evaluate(() => "BarcodeDetector" in globalThis)).toBe(false);
      await page.goto(server.origin);
      await screen(page, "enrol");
      await serviceWorkerReady(page);
      // The decoder is not part of the app shell: it is fetched only when a scan starts...
      const before = await page.evaluate(() => performance.getEntriesByType("resource").map((e) => e.name));
      expect(before.filter((n) => /zxing/.test(n))).toEqual([]);
      // ...but the service worker precached it, so scanning works offline.
      const cached = await page.evaluate(async () => {
        const names: string[] = [];
        for (const k of await caches.keys()) for (const r of await (await caches.open(k)).keys()) names.push(r.url);
        return names.filter((n) => /zxing/.test(n));
      });
      expect(cached.some((n) => /\.wasm/.test(n)) && cached.some((n) => /\.js/.test(n))).toBe(true);

      await page.click('[data-testid="scan"]');
      await scanningVisible(page, "10-enrol-scanning");
      await page.waitForFunction((c) => document.querySelector<HTMLInputElement>('input[name="code"]')?.value === c, code, { timeout: 30_000 });
      await shots(page, "11-enrol-scanned");
      await page.click('button[type="submit"]');
      await screen(page, "setup");
    } finally {
      await ctx.close();
    }
  });

  it("opened with #enrol=<code>, prefills the code; reads the patient's wristband (Code 128) offline, confirmed by the user", async () => {
    const code = server.enrolmentCode("scan e2e patient");
    const patientId = "IPP-80412345";
    const video = await barcodeVideo("code128", patientId);
    const profile = spec.profile();
    const ctx = await launchWithCamera(profile, video);
    try {
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      await addPasskeyAuthenticator(page);
      await registerPasskey(page, server.inviteLink(SURGEON));
      await page.goto(`${server.origin}/#enrol=${code}`);
      await screen(page, "enrol");
      expect(await page.inputValue('input[name="code"]')).toBe(code);
      expect(await page.evaluate(() => location.hash)).toBe(""); // the one-time code leaves the address bar
      await page.click('button[type="submit"]');
      await screen(page, "setup");
      await addMyself(page);
      await serviceWorkerReady(page);

      await ctx.setOffline(true);
      await page.click('[data-testid="new-sequence"]');
      await screen(page, "patient");
      await page.click('[data-testid="scan"]');
      await scanningVisible(page, "12-patient-scanning");
      await page.waitForSelector('[data-step="confirm-scan"]', { timeout: 30_000 });
      expect(await page.textContent('[data-testid="scanned-id"]')).toBe(patientId);
      await shots(page, "13-patient-scanned");
      await page.click('[data-testid="scan-yes"]');
      await screen(page, "form");
      expect(await page.textContent('[data-testid="patient-banner"]')).toContain(patientId);
    } finally {
      await ctx.close();
    }
  });
});
