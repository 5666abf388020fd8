// Debian's Chromium driven by playwright-core: fake camera, persistent profile, phone size.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type CDPSession, type Page } from "playwright-core";

export const CHROMIUM = process.env.CLINPHOTO_CHROMIUM ?? "/usr/bin/chromium";
export const ARGS = [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
  "--hide-scrollbars", // as on a phone: whole-page screenshots keep the page's real width
];

export function newProfileDir(): string {
  return mkdtempSync(join(tmpdir(), "clinphoto-profile-"));
}

/**
 * `ward`: reach a test host name as a phone on the ward would: the name resolves to 127.0.0.1
 * (--host-resolver-rules) and the server's certificate is trusted by its public key
 * (--ignore-certificate-errors-spki-list), so the page is a real secure context over HTTPS.
 */
export interface WardAccess {
  name: string;
  spki: string[];
}

export function wardArgs(ward: WardAccess | undefined): string[] {
  if (!ward) return [];
  return [`--host-resolver-rules=MAP ${ward.name} 127.0.0.1`, ...(ward.spki.length ? [`--ignore-certificate-errors-spki-list=${ward.spki.join(",")}`] : [])];
}

export async function launch(userDataDir: string, opts: { locale?: string; offline?: boolean; ward?: WardAccess } = {}): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: false, // --headless=new is in ARGS
    args: [...ARGS, ...wardArgs(opts.ward)],
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
    locale: opts.locale ?? "en-GB",
    offline: opts.offline ?? false,
    permissions: ["camera"],
  });
}

/** A platform authenticator with PRF and user verification (a passkey on the phone). */
export const VIRTUAL_PASSKEY = {
  protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true,
  hasPrf: true, automaticPresenceSimulation: true,
} as const;

const withPasskeys = new WeakMap<Page, { cdp: CDPSession; id: string }>();

/** A CDP virtual authenticator with PRF and user verification (a passkey on the phone). */
export async function addPasskeyAuthenticator(page: Page): Promise<CDPSession> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", { options: VIRTUAL_PASSKEY });
  withPasskeys.set(page, { cdp, id: authenticatorId });
  return cdp;
}

/** The page's passkey authenticator: the one added before, else a new one (a phone has one, not two). */
export async function passkeyAuthenticator(page: Page): Promise<CDPSession> {
  return withPasskeys.get(page)?.cdp ?? addPasskeyAuthenticator(page);
}

/**
 * Remove every passkey from the page's authenticator: what was registered on it so far belonged to
 * another device (an administrator's desk), not to the phone this page now plays.
 */
export async function forgetPasskeys(page: Page): Promise<void> {
  const a = withPasskeys.get(page);
  if (a) await a.cdp.send("WebAuthn.clearCredentials", { authenticatorId: a.id });
}

export async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: join(process.env.CLINPHOTO_SHOTS ?? "/tmp/clinphoto-shots", `${name}.png`), fullPage });
}
