import { useState } from "preact/hooks";
import { errorText } from "../../i18n/errors.ts";
import { t } from "../../i18n/index.ts";
import { passkeysPossible, setupPasskey, setupPin, UnlockError } from "../../session/unlock.ts";
import type { Store } from "../../storage/db.ts";
import { Header, Message } from "../common.tsx";

export function SetupScreen(props: { store: Store; label: string; onReady: (key: CryptoKey) => void;
  /** Add the phone's first person (their own passkey, online): the way a phone is meant to be set up. */
  onAddPerson?: () => void }) {
  const [mode, setMode] = useState<"choose" | "pin">(passkeysPossible() ? "choose" : "pin");
  const [pin, setPin] = useState("");
  const [pin2, setPin2] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function passkey() {
    setBusy(true);
    setError(null);
    try {
      props.onReady(await setupPasskey(props.store, props.label));
    } catch (e) {
      setError(e instanceof UnlockError && e.code === "no_prf" ? t("setup.noPrf") : errorText(e instanceof UnlockError && e.code === "cancelled" ? "unlock_cancelled" : "io"));
      if (e instanceof UnlockError && e.code === "no_prf") setMode("pin");
    } finally {
      setBusy(false);
    }
  }

  async function savePin(e: Event) {
    e.preventDefault();
    if (!/^\d{6,}$/.test(pin)) return setError(t("setup.pinShort"));
    if (pin !== pin2) return setError(t("setup.pinMismatch"));
    setBusy(true);
    setError(null);
    try {
      props.onReady(await setupPin(props.store, pin));
    } catch (err) {
      setError(errorText("io"));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="screen" data-screen="setup">
      <Header title={t("setup.title")} />
      {props.onAddPerson ? (
        <section class="card">
          <p>{t("who.intro")}</p>
          <button type="button" class="btn btn-primary btn-huge" data-testid="setup-person" onClick={props.onAddPerson}>{t("who.add")}</button>
        </section>
      ) : null}
      <section class="card">
        <p>{props.onAddPerson ? t("who.withoutPerson") : t("setup.intro")}</p>
        {mode === "choose" ? (
          <>
            <button type="button" class={props.onAddPerson ? "btn" : "btn btn-primary"} data-testid="setup-passkey" disabled={busy} onClick={passkey}>
              {busy ? t("setup.working") : t("setup.passkey")}
            </button>
            <button type="button" class="btn" onClick={() => setMode("pin")}>
              {t("setup.pin")}
            </button>
          </>
        ) : (
          <form onSubmit={savePin}>
            <label class="field">
              <span>{t("setup.pinLabel")}</span>
              <input class="input input-pin" type="password" inputMode="numeric" autoComplete="new-password" value={pin} onInput={(e) => setPin((e.target as HTMLInputElement).value)} />
            </label>
            <label class="field">
              <span>{t("setup.pinConfirm")}</span>
              <input class="input input-pin" type="password" inputMode="numeric" autoComplete="new-password" value={pin2} onInput={(e) => setPin2((e.target as HTMLInputElement).value)} />
            </label>
            <button type="submit" class="btn btn-primary" disabled={busy}>
              {busy ? t("setup.working") : t("setup.savePin")}
            </button>
          </form>
        )}
        {error ? <Message kind="error">{error}</Message> : null}
      </section>
    </main>
  );
}
