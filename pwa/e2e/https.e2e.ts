// On a ward, as a phone reaches it: by host name over HTTPS. Chromium resolves the test name to
// 127.0.0.1 and trusts the certificate by its public key, so the page is a real secure context.
// The same first day (passkeys, enrolment, capture, sync) runs with the server terminating TLS
// itself and behind a real nginx built from deploy/nginx.conf. Plain HTTP by name gets the
// server's trust page, or the app's own "open the HTTPS address" screen, and no code is used up.
// An enrolment whose answer (or confirmation) was lost is retried and makes one device.
import { mkdirSync } from "node:fs";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { addPasskeyAuthenticator, launch } from "./browser.ts";
import { scratch } from "./scratch.ts";
import { bothSizes, screen, shots, wardDay } from "./flow.ts";
import { Nginx } from "./nginx.ts";
import { freePort, spkiHash } from "./server.ts";

mkdirSync(process.env.CLINPHOTO_SHOTS ?? "/tmp/clinphoto-shots", { recursive: true });
const NAME = "ward.clinphoto.test";

describe("a ward over HTTPS by host name", () => {
  const spec = scratch("test");

  async function secureContext(page: Page): Promise<{ secure: boolean; protocol: string; controlled: boolean }> {
    return page.evaluate(() => ({
      secure: window.isSecureContext, protocol: location.protocol, controlled: !!navigator.serviceWorker.controller,
    }));
  }

  it("the server terminating TLS itself: secure context, service worker, passkeys, enrolment, capture and sync", async () => {
    const server = await spec.ward({ name: NAME, mode: "tls" });
    const ctx = await launch(spec.profile(), { ward: { name: NAME, spki: [spkiHash(server.serverCertificate())] } });
    spec.defer(() => ctx.close());
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await addPasskeyAuthenticator(page);

    const filed = await wardDay(page, server, "IPP-90000001");
    expect(filed).toHaveLength(2);
    expect(await secureContext(page)).toEqual({ secure: true, protocol: "https:", controlled: true });
    expect(new URL(page.url()).host).toBe(new URL(server.origin).host);
  });

  it("behind nginx terminating TLS (deploy/nginx.conf): the same day works, uploads go through the proxy", async () => {
    const [publicPort, httpPort] = [await freePort(), await freePort()];
    const server = await spec.ward({ name: NAME, mode: "proxy", publicPort });
    const nginx = await Nginx.start({ name: NAME, port: publicPort, httpPort, upstreamPort: server.port });
    spec.defer(() => nginx.cleanup());
    const ctx = await launch(spec.profile(), { ward: { name: NAME, spki: [spkiHash(nginx.certificate)] } });
    spec.defer(() => ctx.close());
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await addPasskeyAuthenticator(page);

    const filed = await wardDay(page, server, "IPP-90000002");
    expect(filed).toHaveLength(2);
    expect(await secureContext(page)).toEqual({ secure: true, protocol: "https:", controlled: true });
    const proxied = nginx.accessLog();
    expect(proxied).toMatch(/"POST \/api\/v1\/devices\/enroll\/confirm HTTP\/[\d.]+" 200/);
    expect(proxied).toMatch(/"PATCH \/api\/v1\/uploads\/[0-9a-f-]+ HTTP\/[\d.]+" 204/);
    expect(nginx.errorLog()).not.toMatch(/\[(error|crit|alert|emerg)\]/);
    // plain HTTP to the proxy: a redirect to the HTTPS address, nothing served
    const plain = await fetch(`http://127.0.0.1:${httpPort}/some/page?x=1`, { redirect: "manual", headers: { Host: NAME } });
    expect(plain.status).toBe(308);
    expect(plain.headers.get("location")).toBe(`https://${NAME}/some/page?x=1`);
  });

  it("plain HTTP by name: the server's trust page; the app reached over plain HTTP explains, and uses up no code", async () => {
    const ward = await spec.ward({ name: NAME, mode: "tls" });
    const ctx = await launch(spec.profile(), { ward: { name: NAME, spki: [] } });
    spec.defer(() => ctx.close());
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(ward.plainOrigin);
    await page.waitForSelector('a[href="/ca.crt"]');
    expect(await page.evaluate(() => window.isSecureContext)).toBe(false);
    expect(await page.textContent("body")).toContain(`https://${NAME}:${new URL(ward.origin).port}`);

    // the app itself served over plain HTTP by name (no TLS, no proxy: a misconfiguration)
    const port = await freePort();
    const plain = await spec.server({ CLINPHOTO_PUBLIC_URL: `http://${NAME}:${port}` }, { port });
    const code = plain.enrolmentCode("plain phone");
    const called: string[] = [];
    page.on("request", (r) => called.push(new URL(r.url()).pathname));
    await page.goto(`http://${NAME}:${port}/#enrol=${code}`);
    await screen(page, "insecure");
    expect(await page.textContent('[data-testid="https-address"]')).toBe(`https://${NAME}/`);
    await bothSizes(page, "e1-insecure");
    expect(called.filter((p) => p.startsWith("/api/"))).toEqual([]);
    // the code is still good: a phone that then opens the right address can use it
    const enrolled = await fetch(`${plain.origin.replace(NAME, "127.0.0.1")}/api/v1/devices/enroll`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ code }),
    });
    expect(enrolled.status).toBe(201);
  });

  it("an enrolment whose answer was lost is retried with the same code; a lost confirmation is retried; one device", async () => {
    const server = await spec.server();
    const ctx = await launch(spec.profile(), { locale: "fr-FR" });
    spec.defer(() => ctx.close());
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const code = server.enrolmentCode("Bloc 4 phone");
    await page.goto(server.origin);
    await screen(page, "enrol");
    await page.fill('input[name="code"]', code);

    // the server answers, the answer never reaches the app
    let lost = 0;
    await page.route("**/api/v1/devices/enroll", async (route) => {
      await route.fetch();
      lost++;
      await route.abort("connectionreset");
    });
    await page.click('button[type="submit"]');
    await page.waitForSelector('[data-screen="enrol"][data-step="form"] .msg-error');
    expect(lost).toBe(1);
    await page.unroute("**/api/v1/devices/enroll");

    // the same code again; this time the confirmation's answer is lost once
    let unconfirmed = 0;
    await page.route("**/api/v1/devices/enroll/confirm", async (route) => {
      unconfirmed++;
      await route.abort("connectionreset");
    });
    await page.click('button[type="submit"]');
    await page.waitForSelector('[data-screen="enrol"][data-step="confirming"] .msg-warn');
    expect(unconfirmed).toBeGreaterThanOrEqual(1);
    await shots(page, "e2-enrol-confirming-390");
    expect(server.devices().map((d) => d.state)).toEqual(["pending"]);
    await page.unroute("**/api/v1/devices/enroll/confirm");
    // the person presses "Try again", unless the app's own timed retry got there first
    await page.locator('[data-testid="confirm-retry"]').click({ timeout: 5_000 }).catch(() => undefined);
    await screen(page, "setup");

    const devices = server.devices();
    expect(devices.map((d) => [d.state, d.label])).toEqual([["active", "Téléphone du bloc"]]);
    const stored = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const q = indexedDB.open("clinphoto");
        q.onsuccess = () => resolve(q.result);
        q.onerror = () => reject(q.error);
      });
      return new Promise<{ deviceId: string; confirmed: boolean }>((resolve) => {
        const get = db.transaction("kv").objectStore("kv").get("device");
        get.onsuccess = () => resolve(get.result);
      });
    });
    expect(stored).toMatchObject({ deviceId: devices[0]!.id, confirmed: true });
  });
});
