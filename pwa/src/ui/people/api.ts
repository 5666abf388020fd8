// People's side of the server (passkeys, session, administration, station). The session cookie is
// HttpOnly and never seen here; the CSRF token lives in memory only and goes with every change.
import { startAuthentication, startRegistration } from "@simplewebauthn/browser";

export type Person = { id: string; name: string; roles: string[] };
export type Device = {
  id: string; label: string; enrolled_at: string; revoked_at: string | null; last_seen_at: string | null;
  pending_batches: number; last_sync_at: string | null; errors?: { code: string; count: number }[];
};
export type PersonRow = Person & { created_at: string; revoked_at: string | null; passkeys: number; invitation_expires_at: string | null };
export type Enrolment = { code: string; expires_at: string; enrol_url: string; qr_svg: string };
export type Invitation = { person_id: string; registration_url: string; expires_at: string; qr_svg: string };
export type Passkey = { credential_id: string; label: string | null; created_at: string; last_used_at: string | null; sign_count: number };
/** GET /api/v1/me: who is signed in, their passkeys, the session's limits and any open emergency access. */
export type Account = {
  person: Person; passkeys: Passkey[]; session: { created_at: string; expires_at: string; idle_seconds: number };
  break_glass_until: string | null;
};
/** Roles that may open an emergency access (nurses move data, never read it). */
export { BREAK_GLASS_ROLES } from "../../roles.ts";
/** The server's minimum length of a break-glass reason (endpoints/people.py BREAK_GLASS_MIN_REASON). */
export const BREAK_GLASS_MIN_REASON = 20;

export class PeopleError extends Error {
  constructor(readonly code: string, message: string, readonly status: number, readonly details: Record<string, unknown> = {}) {
    super(message);
  }
}

let csrf = "";

/** One request with the session cookie (and the CSRF token on changes); a refusal becomes a PeopleError. */
export async function request(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new PeopleError("offline", "offline", 0);
  }
  if (!res.ok) {
    const json = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string; details?: Record<string, unknown> } };
    throw new PeopleError(json.error?.code ?? "http", json.error?.message ?? res.statusText, res.status, json.error?.details ?? {});
  }
  return res;
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(method, path, body);
  if (res.status === 204) return undefined as T;
  return (await res.json().catch(() => ({}))) as T;
}

type Signed = { person: Person; csrf_token: string };

/** The signed-in person's account, or null when nobody is signed in. */
export async function account(): Promise<Account | null> {
  try {
    const me = await call<Account & { csrf_token: string }>("GET", "/api/v1/me");
    csrf = me.csrf_token;
    return { person: me.person, passkeys: me.passkeys, session: me.session, break_glass_until: me.break_glass_until };
  } catch (err) {
    if (err instanceof PeopleError && err.status === 401) return null;
    throw err;
  }
}

export async function signIn(): Promise<Person> {
  const begin = await call<{ challenge_id: string; options: Parameters<typeof startAuthentication>[0]["optionsJSON"] }>(
    "POST", "/api/v1/auth/signin/begin", {});
  const credential = await startAuthentication({ optionsJSON: begin.options });
  const done = await call<Signed>("POST", "/api/v1/auth/signin/finish", { challenge_id: begin.challenge_id, credential });
  csrf = done.csrf_token;
  return done.person;
}

type CreationOptions = Parameters<typeof startRegistration>[0]["optionsJSON"];

/** Ask for the PRF extension on every new passkey, so that it can later unlock a shared phone by itself
 *  (session/people.ts); an authenticator without PRF simply ignores it. */
function withPrf(options: CreationOptions): CreationOptions {
  return { ...options, extensions: { ...(options.extensions ?? {}), prf: {} } as CreationOptions["extensions"] };
}

export async function registerPasskey(token: string, label: string): Promise<Person> {
  const begin = await call<{ challenge_id: string; options: Parameters<typeof startRegistration>[0]["optionsJSON"] }>(
    "POST", "/api/v1/auth/register/begin", { token });
  const credential = await startRegistration({ optionsJSON: withPrf(begin.options) });
  const done = await call<Signed>("POST", "/api/v1/auth/register/finish", { challenge_id: begin.challenge_id, credential, label });
  csrf = done.csrf_token;
  return done.person;
}

/** One more passkey for the signed-in person; answers all their passkeys. */
export async function addPasskey(label: string): Promise<Passkey[]> {
  const begin = await call<{ challenge_id: string; options: Parameters<typeof startRegistration>[0]["optionsJSON"] }>(
    "POST", "/api/v1/me/passkeys/begin", {});
  const credential = await startRegistration({ optionsJSON: withPrf(begin.options) });
  return (await call<{ passkeys: Passkey[] }>("POST", "/api/v1/me/passkeys/finish", { challenge_id: begin.challenge_id, credential, label })).passkeys;
}

export const removePasskey = (credentialId: string) => call<void>("DELETE", `/api/v1/me/passkeys/${encodeURIComponent(credentialId)}`);
export const openBreakGlass = (reason: string) => call<{ break_glass_until: string }>("POST", "/api/v1/me/break-glass", { reason });
export const signOut = () => call<void>("POST", "/api/v1/auth/signout");
/** An enrolment code not used up: never used, or answered and awaiting the phone's confirmation (not a device). */
export interface PendingEnrolment {
  label: string;
  expires_at: string;
  state: "unused" | "awaiting_confirmation";
  pending_device_id: string | null;
  pending_label: string | null;
}
export const listDevices = () => call<{ devices: Device[]; pending_enrollments: PendingEnrolment[] }>("GET", "/api/v1/admin/devices");
export const enrolDevice = (label: string) => call<Enrolment>("POST", "/api/v1/admin/devices", { label });
export const revokeDevice = (id: string) => call<void>("POST", `/api/v1/admin/devices/${id}/revoke`);
export const listPeople = () => call<{ people: PersonRow[] }>("GET", "/api/v1/admin/people");
export const invitePerson = (name: string, roles: string[]) => call<Invitation>("POST", "/api/v1/admin/people", { name, roles });
export const reinvitePerson = (id: string) => call<Omit<Invitation, "person_id">>("POST", `/api/v1/admin/people/${id}/invitation`);
export const revokePerson = (id: string) => call<void>("POST", `/api/v1/admin/people/${id}/revoke`);
/** The address phones open, its QR code, and the ward CA to compare (`GET /api/v1/admin/ward`). */
export type WardAddress = {
  public_url: string; qr_svg: string; tls: "ward_ca" | "hospital" | "proxy" | "none";
  ca_fingerprint: string | null; trust_url: string | null;
};
export const wardAddress = () => call<WardAddress>("GET", "/api/v1/admin/ward");
export const station = () => call<{ devices: Device[] }>("GET", "/api/v1/station/devices");
