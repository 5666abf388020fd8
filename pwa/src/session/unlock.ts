// Unlocking with a passkey's WebAuthn PRF output, and the errors of unlocking. Each person of the
// phone unlocks it with their own passkey (PRF) or their own PIN (session/people.ts, crypto/keywrap.ts):
// either yields a KEK that unwraps the phone's vault key; nothing secret is stored in clear.
import { fromBase64Url } from "../crypto/bytes.ts";

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
