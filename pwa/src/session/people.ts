// The people of this phone (issue 11, point 4; docs/sync-protocol.md, "People on a phone"). A person
// is added once, online, by signing in on the phone with their own server passkey: the server checks
// the assertion and that they may capture, and the same ceremony asks the passkey for its PRF output,
// which then unlocks the phone offline. A person whose passkey gives no PRF (or who prefers) chooses
// their own PIN instead. Either wraps the phone's one vault key (crypto/keywrap.ts).
import { fromBase64Url, toBase64Url } from "../crypto/bytes.ts";
import { newVaultKey, unwrapForPerson, withPerson, wrapForPerson, type PersonUnlock } from "../crypto/keywrap.ts";
import type { Store } from "../storage/db.ts";
import { SyncError } from "../sync/protocol.ts";
import { callJson } from "../sync/transport.ts";
import { prfGet, UnlockError } from "./unlock.ts";

/** The person the server vouched for while adding them to this phone. */
export interface VouchedPerson {
  id: string;
  name: string;
  roles: string[];
  credential_id: string;
}

/** A person just verified online: their PRF output when their passkey gave one (then it unlocks the phone). */
export interface Added {
  person: VouchedPerson;
  prf?: ArrayBuffer;
  prfSalt: Uint8Array<ArrayBuffer>;
}

type RequestOptionsJSON = { challenge: string; rpId?: string; timeout?: number; userVerification?: UserVerificationRequirement };
type PrfOut = { prf?: { results?: { first?: ArrayBuffer } } };

/** The assertion in the JSON form the server reads (WebAuthn AuthenticationResponseJSON). */
function assertionJson(cred: PublicKeyCredential): Record<string, unknown> {
  const r = cred.response as AuthenticatorAssertionResponse;
  return {
    id: cred.id, rawId: toBase64Url(cred.rawId), type: cred.type, clientExtensionResults: {},
    response: {
      clientDataJSON: toBase64Url(r.clientDataJSON), authenticatorData: toBase64Url(r.authenticatorData),
      signature: toBase64Url(r.signature), userHandle: r.userHandle ? toBase64Url(r.userHandle) : undefined,
    },
  };
}

/**
 * Add a person to this phone: their passkey proves them to the server (device credential, online),
 * and gives its PRF output for the phone's own unlock in the same ceremony.
 */
export async function addPersonOnline(base: string, credential: string, signal?: AbortSignal): Promise<Added> {
  const begin = await callJson<{ challenge_id: string; options: RequestOptionsJSON }>(base, credential, "POST", "/api/v1/devices/me/people/begin", {}, signal);
  const prfSalt = crypto.getRandomValues(new Uint8Array(32));
  let cred: PublicKeyCredential | null;
  try {
    cred = (await navigator.credentials.get({
      signal,
      publicKey: {
        challenge: fromBase64Url(begin.body.options.challenge),
        rpId: begin.body.options.rpId ?? location.hostname,
        timeout: begin.body.options.timeout ?? 60_000,
        userVerification: "required",
        extensions: { prf: { eval: { first: prfSalt } } } as AuthenticationExtensionsClientInputs,
      },
    })) as PublicKeyCredential | null;
  } catch (e) {
    throw new UnlockError("cancelled", String((e as Error).message ?? e));
  }
  if (!cred) throw new UnlockError("cancelled", "No passkey was chosen.");
  // a refused passkey is 401 too: read the code here, never as the device's own credential failing
  const answer = await callJson<{ person: VouchedPerson; error?: { code: string; message: string } }>(base, credential, "POST",
    "/api/v1/devices/me/people", { challenge_id: begin.body.challenge_id, credential: assertionJson(cred) }, signal, [400, 401, 403, 429]);
  if (answer.status >= 400) throw new SyncError(answer.body.error?.code ?? `http_${answer.status}`, answer.body.error?.message ?? "", answer.status === 429);
  const prf = (cred.getClientExtensionResults() as PrfOut).prf?.results?.first;
  return { person: answer.body.person, prfSalt, ...(prf ? { prf } : {}) };
}

/**
 * Give an added person their own wrapping of the vault key: with their passkey's PRF, or their PIN.
 * `vault` is the key the phone is unlocked with, or null on a phone that has none yet (a fresh one is
 * made). Returns the vault key and the saved people list.
 */
export async function keepPerson(
  store: Store, vault: CryptoKey | null, added: Added, how: { pin: string; iterations?: number } | "passkey",
): Promise<{ vault: CryptoKey; people: PersonUnlock[] }> {
  const key = vault ?? (await newVaultKey());
  const p = added.person;
  if (how === "passkey" && !added.prf) throw new UnlockError("no_prf", "This passkey gave no PRF output.");
  const entry = await wrapForPerson(key, p, how === "passkey"
    ? { method: "prf", prf: added.prf!, credentialId: p.credential_id, prfSalt: added.prfSalt }
    : { method: "pin", pin: how.pin, ...(how.iterations ? { iterations: how.iterations } : {}) });
  const people = withPerson(await store.people(), entry);
  const saved = await store.putPeople(people);
  if (!saved.ok) throw new UnlockError("storage", saved.error.message);
  return { vault: key, people };
}

/** Unlock as this person: their passkey (PRF, the authenticator asks for their fingerprint or face) or their PIN. */
export async function unlockAs(entry: PersonUnlock, pin?: string, signal?: AbortSignal): Promise<CryptoKey> {
  const secret = entry.method === "prf" ? { prf: await prfGet(entry.credentialId!, entry.prfSalt!, signal) } : { pin: pin ?? "" };
  try {
    return await unwrapForPerson(entry, secret);
  } catch {
    throw new UnlockError("wrong_secret", "Wrong PIN or passkey.");
  }
}

/** Drop from the phone the people the server says are revoked or may no longer capture (online only). */
export async function refreshPeople(store: Store, base: string, credential: string, signal?: AbortSignal): Promise<PersonUnlock[]> {
  const answer = await callJson<{ people: { id: string; state: string }[] }>(base, credential, "GET", "/api/v1/devices/me/people", undefined, signal);
  const active = new Set(answer.body.people.filter((p) => p.state === "active").map((p) => p.id));
  const people = await store.people();
  const kept = people.filter((p) => active.has(p.personId));
  if (kept.length !== people.length) await store.putPeople(kept);
  return kept;
}

/**
 * Take a person off this phone: their wrapping of the vault key is deleted here, and the server is told
 * (photos naming them from this phone are then held). The last person cannot be removed: nobody could
 * unlock the phone's previews any more. Answers whether the server heard it (false offline: it still
 * lists them on this phone until the next removal reaches it).
 */
export async function removePerson(store: Store, base: string, credential: string, personId: string): Promise<boolean> {
  const people = await store.people();
  if (people.length <= 1) throw new UnlockError("storage", "The last person of a phone cannot be removed.");
  const saved = await store.putPeople(people.filter((p) => p.personId !== personId));
  if (!saved.ok) throw new UnlockError("storage", saved.error.message);
  try {
    await callJson(base, credential, "DELETE", `/api/v1/devices/me/people/${personId}`, undefined, undefined, [404]);
    return true;
  } catch (e) {
    if (e instanceof SyncError && e.retryable) return false;
    throw e;
  }
}
