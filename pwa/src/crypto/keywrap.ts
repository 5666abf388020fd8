// The phone's vault key, wrapped once per person (issue 11, point 4; crypto/FORMAT.md, "Vault key
// wrapping"). One vault key (AES-256-GCM) encrypts what the phone keeps for display (previews,
// patient summaries, priors); each person of the phone holds their own wrapping of it, under a KEK
// from their own PIN (PBKDF2-SHA256) or their own passkey's PRF output (HKDF-SHA256). Adding or
// removing a person never re-encrypts anything. The person's id is the wrapping's additional data,
// so a wrapping moved onto another person's entry (another name on the lock screen) does not open.
// Photos and forms are sealed to the hospital key as before: no person's secret ever protected them.
import { utf8 } from "./bytes.ts";
import { decrypt, encrypt, kekFromPin, kekFromPrf, PIN_ITERATIONS, type Wrapped } from "./localkey.ts";

export const VAULT_AAD = "clinphoto/vault/v1/";

/** How one person unlocks this phone: their KEK's parameters and their wrapping of the vault key. */
export interface PersonUnlock {
  personId: string;
  name: string;
  roles: string[];
  method: "pin" | "prf";
  salt: Uint8Array<ArrayBuffer>; // KEK derivation salt, 16 random bytes, per person
  iterations?: number; // PIN only
  credentialId?: string; // passkey (base64url), PRF only
  prfSalt?: Uint8Array<ArrayBuffer>; // PRF eval input, 32 random bytes, PRF only
  wrapped: Wrapped; // the vault key under this person's KEK, additional data VAULT_AAD || personId
  addedAt: string;
}

export type Secret = { pin: string } | { prf: BufferSource };

export class WrongSecret extends Error {
  constructor() {
    super("Wrong PIN or passkey for this person.");
  }
}

function aad(personId: string): Uint8Array<ArrayBuffer> {
  return utf8(VAULT_AAD + personId);
}

/** A fresh vault key. Extractable only so that it can be wrapped for the next person added while unlocked. */
export async function newVaultKey(): Promise<CryptoKey> {
  return crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]);
}

/** The KEK of a person from their secret and their entry's parameters. */
export async function personKek(entry: Pick<PersonUnlock, "method" | "salt" | "iterations">, secret: Secret): Promise<CryptoKey> {
  if (entry.method === "pin") {
    if (!("pin" in secret)) throw new WrongSecret();
    return kekFromPin(secret.pin, entry.salt, entry.iterations ?? PIN_ITERATIONS);
  }
  if (!("prf" in secret)) throw new WrongSecret();
  return kekFromPrf(secret.prf, entry.salt);
}

/** Wrap the vault key for a person: their entry, ready to store. */
export async function wrapForPerson(
  vault: CryptoKey,
  person: { id: string; name: string; roles: string[] },
  how: { method: "pin"; pin: string; iterations?: number } | { method: "prf"; prf: BufferSource; credentialId: string; prfSalt: Uint8Array<ArrayBuffer> },
  now: () => Date = () => new Date(),
): Promise<PersonUnlock> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const base = { personId: person.id, name: person.name, roles: [...person.roles], salt, addedAt: now().toISOString() };
  const entry: Omit<PersonUnlock, "wrapped"> =
    how.method === "pin"
      ? { ...base, method: "pin", iterations: how.iterations ?? PIN_ITERATIONS }
      : { ...base, method: "prf", credentialId: how.credentialId, prfSalt: how.prfSalt };
  const kek = await personKek(entry, how.method === "pin" ? { pin: how.pin } : { prf: how.prf });
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", vault));
  try {
    return { ...entry, wrapped: await encrypt(kek, raw, aad(person.id)) };
  } finally {
    raw.fill(0);
  }
}

/** Open the vault as this person; WrongSecret for a wrong PIN, another passkey or a moved wrapping. */
export async function unwrapForPerson(entry: PersonUnlock, secret: Secret): Promise<CryptoKey> {
  const kek = await personKek(entry, secret);
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(await decrypt(kek, entry.wrapped, aad(entry.personId)));
  } catch {
    throw new WrongSecret();
  }
  try {
    return await crypto.subtle.importKey("raw", raw as Uint8Array<ArrayBuffer>, "AES-GCM", true, ["encrypt", "decrypt"]);
  } finally {
    raw.fill(0);
  }
}

/** The people list with this entry added (replacing the same person's earlier one), by name. */
export function withPerson(people: readonly PersonUnlock[], entry: PersonUnlock): PersonUnlock[] {
  return [...people.filter((p) => p.personId !== entry.personId), entry].sort((a, b) => a.name.localeCompare(b.name) || a.personId.localeCompare(b.personId));
}
