// The phone syncs by itself and the docking station shows it, in Chromium against the real server:
// photos taken offline leave by themselves when the network returns (no tap); photos taken online
// show on the station (counts, never a photo) until a nurse presses "Sync now", then go to 0.
import { mkdirSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { addPasskeyAuthenticator, launch } from "./browser.ts";
import { scratch } from "./scratch.ts";
import { bothSizes, enrolAsPerson, newSequence, outboxPhotos, screen } from "./flow.ts";
import { TestServer } from "./server.ts";

mkdirSync(process.env.CLINPHOTO_SHOTS ?? "/tmp/clinphoto-shots", { recursive: true });

describe("sync by itself, and a dock that shows it", () => {
  let server: TestServer;
  const spec = scratch();
  beforeAll(async () => {
    server = await spec.server();
  });

  it("syncs when the network returns, and when the station asks", async () => {
    const patientId = "IPP-55120987";
    const phoneProfile = spec.profile();
    const phoneCtx = await launch(phoneProfile, { locale: "fr-FR" });
    const phone = phoneCtx.pages()[0] ?? (await phoneCtx.newPage());
    await enrolAsPerson(phone, server, { pin: "246813", label: "Téléphone bloc 2" });

    // 1. Offline capture; the network returns; nobody taps Sync.
    await phoneCtx.setOffline(true);
    await newSequence(phone, patientId, 2);
    expect(await outboxPhotos(phone)).toBe(2);
    const filed = () => server.photos().filter((p) => p.patient_id === patientId && p.state !== "expected").length;
    expect(filed()).toBe(0);
    await phoneCtx.setOffline(false);
    await expect.poll(filed, { timeout: 60_000, interval: 250 }).toBe(2);
    await expect.poll(() => outboxPhotos(phone), { timeout: 30_000, interval: 250 }).toBe(0);

    // 2. Photos taken online wait on the phone; the station shows what it holds.
    await newSequence(phone, patientId, 3);
    expect(await outboxPhotos(phone)).toBe(3);

    const link = /http:\/\/localhost:\d+\/#\/register\/[A-Za-z0-9_-]+/.exec(server.logs())?.[0];
    expect(link).toBeTruthy();
    const stationProfile = spec.profile();
    const stationCtx = await launch(stationProfile, { locale: "fr-FR" });
    const station = stationCtx.pages()[0] ?? (await stationCtx.newPage());
    await addPasskeyAuthenticator(station);
    await station.goto(link!.replace(/^http:\/\/localhost:\d+/, server.origin));
    await screen(station, "register");
    await station.click('[data-testid="passkey"]');
    await screen(station, "admin");
    await station.goto(`${server.origin}/#/station`);
    await screen(station, "station");
    const row = station.locator('[data-testid="station-device"]');
    await expect.poll(() => row.getAttribute("data-photos"), { timeout: 30_000, interval: 250 }).toBe("3");
    const holds = await row.locator('[data-testid="station-holds"]').textContent();
    expect(holds).toMatch(/3 photos · 1 séquence · la plus ancienne prise il y a\s\d+\s(s|min)/);
    expect(await station.locator("img").count()).toBe(0); // a nurse never sees a photo
    expect(await station.textContent("body")).not.toContain(patientId);
    expect(filed()).toBe(2); // nothing left by itself meanwhile
    await bothSizes(station, "st-station-pending");

    // 3. "Sync now": the phone picks the request up at its next contact and sends everything.
    // Uploads wait at a gate until the station has shown the live progress, so that it can be seen.
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    await phoneCtx.route("**/api/v1/uploads/**", async (route) => {
      if (route.request().method() === "PATCH") await gate;
      return route.continue();
    });
    await station.getByRole("button", { name: "Synchroniser Téléphone du bloc maintenant" }).click();
    const bar = station.getByRole("progressbar", { name: "Synchronisation de Téléphone du bloc" });
    await bar.waitFor({ timeout: 30_000 });
    expect(await station.textContent('[data-testid="station-progress"]')).toMatch(/Envoyées : 0 sur 3 photos/);
    await bothSizes(station, "st-station-syncing");
    open();
    await expect.poll(filed, { timeout: 60_000, interval: 250 }).toBe(5);
    await expect.poll(() => row.getAttribute("data-photos"), { timeout: 30_000, interval: 250 }).toBe("0");
    await expect.poll(() => outboxPhotos(phone), { timeout: 30_000, interval: 250 }).toBe(0);
    await expect.poll(() => row.locator('[data-testid="station-holds"]').textContent(), { timeout: 10_000 }).toBe("Plus rien à envoyer");
    await bothSizes(station, "st-station-synced");

    // 4. A failed sync shows on the station in words; once the server is back, "Sync now" again.
    await newSequence(phone, patientId, 1);
    await phoneCtx.route("**/api/v1/batches", (route) => route.fulfill({
      status: 503, contentType: "application/json",
      body: JSON.stringify({ error: { code: "server_unavailable", message: "Down for maintenance." } }),
    }));
    await expect.poll(() => row.getAttribute("data-photos"), { timeout: 30_000, interval: 250 }).toBe("1");
    await station.getByRole("button", { name: "Synchroniser Téléphone du bloc maintenant" }).click();
    await expect.poll(() => station.locator('[data-testid="station-error"]').textContent().catch(() => ""), { timeout: 30_000, interval: 250 })
      .toBe("Dernière synchronisation échouée : le serveur était occupé ou arrêté");
    await bothSizes(station, "st-station-error");
    await phoneCtx.unroute("**/api/v1/batches");
    await station.getByRole("button", { name: "Synchroniser Téléphone du bloc maintenant" }).click();
    await expect.poll(() => row.getAttribute("data-photos"), { timeout: 60_000, interval: 250 }).toBe("0");
    expect(filed()).toBe(6);
    expect(await station.locator('[data-testid="station-error"]').count()).toBe(0);
    await stationCtx.close();
    await phoneCtx.close();
  });
});
