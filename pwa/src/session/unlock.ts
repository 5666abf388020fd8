// Local unlock: a passkey with the WebAuthn PRF extension where the platform offers it, a PIN
// otherwise. Either yields a KEK that unwraps the local key; nothing secret is stored in clear.
import { fromBase64Url, toBase64Url, utf8 } from "../crypto/bytes.ts";
import { kekFromPin, kekFromPrf, newLocalKey, PIN_ITERATIONS, unwrapLocalKey } from "../crypto/localkey.ts";
import type { Store, UnlockRecord } from "../storage/db.ts";

export const DEFAULT_LOCK_AFTER_MS = 5 * 60_000;

export class UnlockError extends Error {
  constructor(readonly code: "no_prf" | "wrong_secret" | "cancelled" | "storage", message: string) {
    super(message);
  }
}

type PrfResults = { enabled?: boolean; results?: { first?: ArrayBuffer } };

function prfOf(cred: Credential | null): PrfResults | undefined {
  const ext = (cred as PublicKeyCredential | null)?.getClientExtensionResults() as { prf?: PrfResults } | undefined;
  return ext?.prf;
}

export async function prfGet(credentialId: string, prfSalt: Uint8Array<ArrayBuffer>, signal?: AbortSignal): Promise<ArrayBuffer> {
  let cred: Credential | null;
  try {
    cred = await navigator.credentials.get({
      signal,
      publicKey: {
        challenge: crypto.getRandomValues(new Uint8Array(32)),
        rpId: location.hostname,
        allowCredentials: [{ type: "public-key", id: fromBase64Url(credentialId) }],
        userVerification: "required",
        timeout: 60_000,
        extensions: { prf: { eval: { first: prfSalt } } } as AuthenticationExtensionsClientInputs,
      },
    });
  } catch (e) {
    throw new UnlockError("cancelled", String((e as Error).message ?? e));
  }
  const first = prfOf(cred)?.results?.first;
  if (!first) throw new UnlockError("no_prf", "The passkey gave no PRF output.");
  return first;
}

export function passkeysPossible(): boolean {
  return typeof PublicKeyCredential !== "undefined" && !!navigator.credentials;
}

export async function setupPasskey(store: Store, label: string, signal?: AbortSignal): Promise<CryptoKey> {
  const prfSalt = crypto.getRandomValues(new Uint8Array(32));
  let cred: Credential | null;
  try {
    cred = await navigator.credentials.create({
      signal,
      publicKey: {
        rp: { name: "ClinPhoto", id: location.hostname },
        user: { id: crypto.getRandomValues(new Uint8Array(16)), name: label, displayName: label },
        challenge: crypto.getRandomValues(new Uint8Array(32)),
        pubKeyCredParams: [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -8 }, { type: "public-key", alg: -257 }],
        authenticatorSelection: { userVerification: "required", residentKey: "preferred" },
        timeout: 60_000,
        extensions: { prf: { eval: { first: prfSalt } } } as AuthenticationExtensionsClientInputs,
      },
    });
  } catch (e) {
    throw new UnlockError("cancelled", String((e as Error).message ?? e));
  }
  if (!cred) throw new UnlockError("cancelled", "No passkey was created.");
  const credentialId = toBase64Url((cred as PublicKeyCredential).rawId);
  const prf = prfOf(cred);
  if (!prf?.enabled && !prf?.results?.first) throw new UnlockError("no_prf", "This passkey does not support PRF.");
  // Some authenticators evaluate the PRF only on assertion: ask once more.
  const output = prf.results?.first ?? (await prfGet(credentialId, prfSalt, signal));
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const { wrapped, key } = await newLocalKey(await kekFromPrf(output, salt));
  const rec: UnlockRecord = { method: "prf", salt, credentialId, prfSalt, wrapped, lockAfterMs: DEFAULT_LOCK_AFTER_MS };
  const saved = await store.put("unlock", rec);
  if (!saved.ok) throw new UnlockError("storage", saved.error.message);
  return key;
}

export async function setupPin(store: Store, pin: string, iterations = PIN_ITERATIONS): Promise<CryptoKey> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const { wrapped, key } = await newLocalKey(await kekFromPin(pin, salt, iterations));
  const rec: UnlockRecord = { method: "pin", salt, iterations, wrapped, lockAfterMs: DEFAULT_LOCK_AFTER_MS };
  const saved = await store.put("unlock", rec);
  if (!saved.ok) throw new UnlockError("storage", saved.error.message);
  return key;
}

export async function unlock(rec: UnlockRecord, pin?: string, signal?: AbortSignal): Promise<CryptoKey> {
  const kek =
    rec.method === "prf"
      ? await kekFromPrf(await prfGet(rec.credentialId!, rec.prfSalt!, signal), rec.salt)
      : await kekFromPin(pin ?? "", rec.salt, rec.iterations ?? PIN_ITERATIONS);
  try {
    return await unwrapLocalKey(kek, rec.wrapped);
  } catch {
    throw new UnlockError("wrong_secret", "Wrong PIN or passkey.");
  }
}

export { utf8 };
