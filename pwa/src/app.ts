// The app's services, built once at start: the store, the session, the sync runner, enrolment
// and remote wipe. Screens receive them; none of them touches IndexedDB itself.
import { sha256, toBase64Url, utf8 } from "./crypto/bytes.ts";
import { canonicalize } from "./crypto/jcs.ts";
import { importSealingKey, type SealingKey } from "./crypto/seal.ts";
import { purgeOldPriors } from "./capture/priors.ts";
import { Session } from "./session/session.ts";
import { DEFAULT_LOCK_AFTER_MS } from "./session/unlock.ts";

/** Local setting: the auto-lock delay in milliseconds. */
export const LOCK_SETTING = "lockAfterMs";
import { Store, type DeviceRecord, type PublicJwk } from "./storage/db.ts";
import { requestPersistence } from "./storage/health.ts";
import { AutoSync } from "./sync/auto.ts";
import { SyncError } from "./sync/protocol.ts";
import { SyncRunner } from "./sync/runner.ts";
import { callJson, onRevoked } from "./sync/transport.ts";

export interface Services {
  store: Store;
  session: Session;
  sync: SyncRunner;
  base: string;
}

/** RFC 7638 thumbprint of a public JWK: the kid the server must use. */
export async function thumbprint(jwk: JsonWebKey): Promise<string> {
  const members = jwk.kty === "EC" ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return toBase64Url(await sha256(utf8(canonicalize(members))));
}

/** The pinned keys must be one P-256 sealing key and one Ed25519 signing key, each kid its thumbprint. */
export async function checkKeys(keys: PublicJwk[]): Promise<void> {
  const enc = keys.find((k) => k.use === "enc" && k.kty === "EC" && k.crv === "P-256");
  const sig = keys.find((k) => k.use === "sig" && k.kty === "OKP" && k.crv === "Ed25519");
  if (!enc || !sig) throw new Error("The server did not give a sealing and a signing key.");
  for (const k of [enc, sig]) if ((await thumbprint(k)) !== k.kid) throw new Error("A server key id does not match its key.");
}

export async function sealingKeyOf(device: DeviceRecord): Promise<SealingKey> {
  const enc = device.keys.find((k) => k.use === "enc");
  if (!enc) throw new Error("No pinned sealing key.");
  return importSealingKey(enc);
}

export function normaliseCode(text: string): string {
  const raw = text.toUpperCase().replace(/[^0-9A-Z]/g, "");
  return raw.match(/.{1,4}/g)?.join("-") ?? "";
}

/**
 * Step 1 of enrolment: exchange the code for a credential and store it durably, *unconfirmed*.
 * The server keeps the code usable until `confirmEnrolment`; if this answer is lost, enrolling
 * again with the same code gets a fresh one (the earlier credential stops working).
 */
export async function enrol(store: Store, base: string, code: string, label: string, signal?: AbortSignal): Promise<DeviceRecord> {
  const res = await callJson<{ device_id: string; credential: string; keys: { keys: PublicJwk[] } | PublicJwk[] }>(
    base, undefined, "POST", "/api/v1/devices/enroll", { code: normaliseCode(code), label }, signal,
  );
  const keys = Array.isArray(res.body.keys) ? res.body.keys : res.body.keys.keys;
  await checkKeys(keys);
  const device: DeviceRecord = {
    deviceId: res.body.device_id, credential: res.body.credential, label, keys, enrolledAt: new Date().toISOString(), confirmed: false,
  };
  const saved = await store.put("device", device);
  if (!saved.ok) throw new Error("The phone could not save its enrolment.");
  void requestPersistence();
  return device;
}

/** Answers of the confirmation that mean this pending credential will never work: enrol again. */
export const ENROLMENT_REFUSED = new Set(["device_unauthenticated", "device_revoked", "enrollment_code_invalid"]);

/**
 * Step 2: prove to the server that the credential is stored; only then is the code used up.
 * Safe to repeat (the server answers the same). A refusal in ENROLMENT_REFUSED drops the pending
 * record, so the phone shows the code form again; any other failure leaves it to retry.
 */
export async function confirmEnrolment(store: Store, base: string, device: DeviceRecord, signal?: AbortSignal): Promise<DeviceRecord> {
  try {
    const res = await callJson<{ device_id: string; enrolled_at: string }>(
      base, device.credential, "POST", "/api/v1/devices/enroll/confirm", undefined, signal,
    );
    if (res.body?.device_id !== device.deviceId) throw new SyncError("bad_answer", "The server confirmed another device.", true);
    const confirmed: DeviceRecord = { ...device, enrolledAt: res.body.enrolled_at, confirmed: true };
    const saved = await store.put("device", confirmed);
    if (!saved.ok) throw new Error("The phone could not save its enrolment.");
    return confirmed;
  } catch (err) {
    if (err instanceof SyncError && ENROLMENT_REFUSED.has(err.code)) await store.forgetPendingDevice();
    throw err;
  }
}

/** Remote wipe: everything local goes (database, caches, remembered uploads). False when the database
 * could not be deleted: the device stays revoked, so the next start meets the revocation and wipes again. */
export async function wipeEverything(store: Store | undefined): Promise<boolean> {
  let complete = true;
  try {
    await (store ? store.destroy() : Store.destroy());
  } catch {
    complete = false; // keep going: the rest must go too
    console.error("the phone's database could not be deleted; the wipe is tried again at next start");
  }
  try {
    for (const k of await caches.keys()) await caches.delete(k);
  } catch {
    /* no Cache Storage */
  }
  try {
    localStorage.clear();
  } catch {
    /* nothing to clear */
  }
  return complete;
}

export async function startServices(onWipe: (reason: SyncError) => void): Promise<Services> {
  const store = await Store.open();
  // The lock delay is a phone setting (home screen), kept with the other local settings.
  const session = new Session((await store.setting<number>(LOCK_SETTING)) ?? DEFAULT_LOCK_AFTER_MS);
  const base = location.origin;
  const sync = new SyncRunner(store, base, onWipe);
  onRevoked((reason) => sync.revoked(reason)); // any device call that meets a revocation wipes the phone
  new AutoSync(store, sync, base).start(); // syncs when the network returns, on view, when the station asks
  // Previews are short-lived: a day when every person unlocks with a passkey, four hours when one uses a PIN.
  const keepMs = (await store.people()).some((p) => p.method === "pin") ? 4 * 3600_000 : 24 * 3600_000;
  // housekeeping: a failure leaves the old entries (still encrypted) until the next start tries again
  store.purgePreviews(new Date(Date.now() - keepMs).toISOString())
    .catch(() => console.warn("old previews could not be purged; retried at next start"));
  purgeOldPriors(store) // ghost-overlay priors: after the priorDays phone setting (default 7)
    .catch(() => console.warn("old priors could not be purged; retried at next start"));
  return { store, session, sync, base };
}

export { SyncError };
