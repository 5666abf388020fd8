// Add a person to this phone (issue 11, point 4): they sign in with their own server passkey (online
// once); then they unlock the phone with that passkey's PRF or with their own PIN.
import { useState } from "preact/hooks";
import type { PersonUnlock } from "../../crypto/keywrap.ts";
import { errorText } from "../../i18n/errors.ts";
import { t } from "../../i18n/index.ts";
import { addPersonOnline, keepPerson, type Added } from "../../session/people.ts";
import { UnlockError } from "../../session/unlock.ts";
import type { Store } from "../../storage/db.ts";
import { SyncError } from "../../sync/protocol.ts";
import { Header, Message } from "../common.tsx";

export function AddPersonScreen(props: {
  store: Store; base: string; credential: string;
  /** The vault key the phone is unlocked with; null on a phone with no vault yet. */
  vault: CryptoKey | null;
  onDone: (vault: CryptoKey, people: PersonUnlock[], person: { id: string; name: string }) => void;
  onBack?: () => void;
}) {
  const [added, setAdded] = useState<Added | null>(null);
  const [pinMode, setPinMode] = useState(false);
  const [pin, setPin] = useState("");
  const [pin2, setPin2] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  function explain(e: unknown): string {
    if (e instanceof UnlockError) return e.code === "no_prf" ? t("who.noPrf") : e.code === "cancelled" ? errorText("unlock_cancelled") : errorText("io");
    if (e instanceof SyncError) return e.code === "offline" ? t("who.offline") : errorText(e.code);
    return errorText("io");
  }

  async function signIn() {
    setBusy(true);
    setError(null);
    try {
      const a = await addPersonOnline(props.base, props.credential);
      setAdded(a);
      if (!a.prf) {
        setPinMode(true);
        setError(t("who.noPrf"));
      }
    } catch (e) {
      setError(explain(e));
    } finally {
      setBusy(false);
    }
  }

  async function keep(how: { pin: string } | "passkey") {
    if (!added) return;
    setBusy(true);
    setError(null);
    try {
      const { vault, people } = await keepPerson(props.store, props.vault, added, how);
      props.onDone(vault, people, { id: added.person.id, name: added.person.name });
    } catch (e) {
      setError(explain(e));
    } finally {
      setBusy(false);
    }
  }

  function savePin(e: Event) {
    e.preventDefault();
    if (!/^\d{6,}$/.test(pin)) return setError(t("setup.pinShort"));
    if (pin !== pin2) return setError(t("setup.pinMismatch"));
    void keep({ pin });
  }

  return (
    <main class="screen" data-screen="add-person">
      <Header title={t("who.addTitle")} onBack={props.onBack} />
      <section class="card">
        {!added ? (
          <>
            <p>{t("who.addIntro")}</p>
            <button type="button" class="btn btn-primary btn-huge" data-testid="person-signin" disabled={busy} onClick={() => void signIn()}>
              {busy ? t("who.working") : t("who.signIn")}
            </button>
          </>
        ) : (
          <>
            <p class="lead" data-testid="person-added">{t("who.addedAs", { name: added.person.name })}</p>
            {added.prf && !pinMode ? (
              <>
                <button type="button" class="btn btn-primary btn-huge" data-testid="person-use-passkey" disabled={busy} onClick={() => void keep("passkey")}>
                  {busy ? t("setup.working") : t("who.usePasskey")}
                </button>
                <button type="button" class="btn" data-testid="person-use-pin" onClick={() => setPinMode(true)}>{t("who.usePin")}</button>
              </>
            ) : (
              <form onSubmit={savePin}>
                <label class="field">
                  <span>{t("setup.pinLabel")}</span>
                  <input class="input input-pin" data-testid="person-pin" type="password" inputMode="numeric" autoComplete="new-password" value={pin} onInput={(e) => setPin((e.target as HTMLInputElement).value)} />
                </label>
                <label class="field">
                  <span>{t("setup.pinConfirm")}</span>
                  <input class="input input-pin" data-testid="person-pin2" type="password" inputMode="numeric" autoComplete="new-password" value={pin2} onInput={(e) => setPin2((e.target as HTMLInputElement).value)} />
                </label>
                <button type="submit" class="btn btn-primary" data-testid="person-save-pin" disabled={busy}>
                  {busy ? t("setup.working") : t("setup.savePin")}
                </button>
              </form>
            )}
          </>
        )}
        {error ? <Message kind="error">{error}</Message> : null}
      </section>
    </main>
  );
}
